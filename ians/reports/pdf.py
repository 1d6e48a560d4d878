"""The people's pages as PDF: the same HTML, laid out for A4 by WeasyPrint (no browser).

Every page carries a running header (the exercise mode and the title) and its number;
the charts stay SVG, so they are vectors in the PDF. WeasyPrint is imported on first use.
"""

from __future__ import annotations

PRINT_CSS = """
@page {
  size: A4;
  margin: 22mm 15mm 18mm 15mm;
  @top-left { content: element(running); vertical-align: bottom; padding-bottom: 3mm; }
  @bottom-right {
    content: "Page " counter(page) " of " counter(pages);
    font: 8pt sans-serif; color: #555;
  }
}
.running { position: running(running); font: bold 8pt sans-serif; color: #B33A00;
  letter-spacing: .03em; }
body { font-size: 9.5pt; }
main { max-width: none; padding: 0; margin: 0; }
h2 { break-after: avoid; }
table { width: 100%; font-size: 8pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
figure { break-inside: avoid; margin: 6mm 0; }
pre.listing { font: 7.5pt/1.25 "DejaVu Sans Mono", monospace; margin: 0 0 3mm;
  break-inside: avoid; white-space: pre; }
div.listed { break-inside: avoid; }
figure svg { width: 100%; height: auto; max-height: 225mm; }
"""


def pdf_of(html: str) -> bytes:
    """`html` (a page of ians/reports/page.py with its running header) as an A4 PDF."""
    import logging

    from weasyprint import CSS, HTML

    # its CSS parser warns of each SVG presentation property (fill, stroke…) that its SVG
    # renderer then draws anyway: a line per property per chart, nothing to act on
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    pdf: bytes = HTML(string=html).write_pdf(stylesheets=[CSS(string=PRINT_CSS)])
    return pdf


def running_head(mode: str | None, title: str) -> str:
    """The words at the top of every page: the mode first, in capitals, then the title."""
    marks = {
        "exercise": "EXERCISE — not an actual emergency",
        "test": "TEST — not an actual emergency",
        "actual": "ACTUAL",
    }
    return f"{marks.get(mode or '', (mode or 'report').upper())} · {title}"

"""Pages for people, shared by the exercise report and the consultation results.

Tables render the same in Markdown and HTML; an HTML page is one self-contained file
(inline CSS, charts inline as SVG drawn by matplotlib, no external assets).
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING

from ians.domain.durations import format_duration

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ians.domain.contacts import Registry

Figure_ = tuple[str, str, str]
"""A chart ready for a page: (id, caption, inline svg)."""


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[str, ...]]
    more: int = 0  # rows left out
    empty: str = "None."
    numeric: frozenset[int] = field(default_factory=frozenset)  # right-aligned columns


@dataclass(frozen=True)
class Names:
    """Who is who, for people: country names and PoCs' organisations, from the registry.

    A code or id the registry does not know is shown as it is.
    """

    countries: Mapping[str, str] = field(default_factory=dict)  # code: name
    pocs: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # id: (country, org)

    @classmethod
    def of(cls, registry: Registry | None) -> Names:
        if registry is None:
            return cls()
        return cls(
            {c.code: c.name for c in registry.countries.values()},
            {p.id: (p.country, p.organization) for p in registry.pocs.values()},
        )

    def country(self, code: str) -> str:
        """`HUN Hungary`: the code first, so lists sorted by code read in order."""
        name = self.countries.get(code)
        return f"{code} {name}" if name else code


def when(at: datetime | str | None) -> str:
    """A time for people, to the second: `2026-11-27 16:09:55 UTC`; `—` for none.

    A string is read as ISO 8601 (as the consultation results give times).
    """
    if at is None:
        return "—"
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def span(seconds: float | None) -> str:
    """A duration for people: whole seconds (`9m56s`), tenths under 10 s (`1.5s`); `—` for none."""
    if seconds is None:
        return "—"
    shown = round(seconds, 1) if seconds < 10 else round(seconds)
    return format_duration(timedelta(seconds=shown))


def md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:#1b1b1b;margin:0;background:#fff}
main{max-width:1100px;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem;margin:0 0 .75rem}h2{font-size:1.2rem;margin:2rem 0 .5rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
dl.facts dt{font-weight:600}dl.facts dd{margin:0}
table{border-collapse:collapse;margin:.25rem 0 1rem;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top}
thead th{background:#f3f4f6}tbody th{font-weight:normal}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1.5rem 0}figure svg{max-width:100%;height:auto}
figcaption{font-size:.9rem;color:#444}
.banner{border-left:.3rem solid #D55E00;background:#fdf0e9;padding:.6rem 1rem;margin:1rem 0}
details summary{cursor:pointer;font-weight:600;margin:1.5rem 0 .5rem}
.more{color:#555;font-size:.9rem}
"""


def html_table(table: Table, heading: str = "h2") -> str:
    parts = [f"<section><{heading}>{escape(table.title)}</{heading}>"]
    if not table.rows:
        return "".join([*parts, f"<p>{escape(table.empty)}</p></section>"])

    def cls(i: int) -> str:
        return ' class="num"' if i in table.numeric else ""

    head = "".join(f'<th scope="col"{cls(i)}>{escape(h)}</th>' for i, h in enumerate(table.headers))

    def cell(i: int, text: str) -> str:  # the first column names the row
        tag = 'th scope="row"' if i == 0 else "td"
        return f"<{tag}{cls(i)}>{escape(text)}</{tag.split()[0]}>"

    body = "".join(
        "<tr>" + "".join(cell(i, c) for i, c in enumerate(row)) + "</tr>" for row in table.rows
    )
    parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    if table.more:
        parts.append(f'<p class="more">…and {table.more} more.</p>')
    return "".join([*parts, "</section>"])


LISTED_FROM = 60
"""Rows from which the PDF sets a table as a listing (`printed_table`)."""
_LISTING_WIDTH = 112  # characters of a listing line: A4's 180 mm at 7.5 pt monospace
_LISTING_BLOCK = 70  # lines of a listing kept together on a page, under their header


def listing_lines(table: Table, width: int = _LISTING_WIDTH) -> tuple[list[str], list[str]]:
    """`table` as monospaced text: (header lines, row lines). Columns are as wide as their
    widest cell (numbers right-aligned); when the line would pass `width`, the text columns
    share what is left and their cells wrap. Every cell is kept, word for word."""
    import textwrap

    columns = list(zip(table.headers, *table.rows, strict=True))
    gaps = 2 * (len(columns) - 1)
    natural = [max(len(c) for c in col) for col in columns]  # headers on one line
    if sum(natural) + gaps > width:  # headers may wrap at their words
        natural = [
            max([len(c) for c in col[1:]] + [max(map(len, col[0].split()), default=1)])
            for col in columns
        ]
    widths = list(natural)
    text = sorted((w, i) for i, w in enumerate(natural) if i not in table.numeric)
    left = width - gaps - sum(w for i, w in enumerate(natural) if i in table.numeric)
    for n, (w, i) in enumerate(text):  # the narrow text columns first, whole
        widths[i] = max(8, min(w, left // (len(text) - n)))
        left -= widths[i]

    def lines_of(cells: Sequence[str]) -> list[str]:
        wrapped = [textwrap.wrap(c, w) or [""] for c, w in zip(cells, widths, strict=True)]
        out = []
        for k in range(max(map(len, wrapped))):
            parts = [
                (lines[k] if k < len(lines) else "").rjust(w)
                if i in table.numeric
                else (lines[k] if k < len(lines) else "").ljust(w)
                for i, (lines, w) in enumerate(zip(wrapped, widths, strict=True))
            ]
            out.append("  ".join(parts).rstrip())
        return out

    head = lines_of(table.headers)
    head.append("─" * (sum(widths) + gaps))
    return head, [line for row in table.rows for line in lines_of(row)]


def printed_table(table: Table, heading: str = "h2") -> str:
    """A table for the PDF: as in html up to LISTED_FROM rows; longer, as a listing
    (monospaced lines in blocks of a page, each under the header), which WeasyPrint lays
    out about ten times faster than table cells: every row is there, as text."""
    if len(table.rows) < LISTED_FROM:
        return html_table(table, heading)
    head, lines = listing_lines(table)
    top = f"<b>{escape(chr(10).join(head))}</b>\n"
    blocks = [
        f'<pre class="listing">{top}{escape(chr(10).join(lines[i : i + _LISTING_BLOCK]))}</pre>'
        for i in range(0, len(lines), _LISTING_BLOCK)
    ]
    more = f'<p class="more">…and {table.more} more.</p>' if table.more else ""
    title = f"<{heading}>{escape(table.title)} ({len(table.rows):,} rows)</{heading}>"
    first = f'<div class="listed">{title}{blocks[0]}</div>'  # the heading stays with it
    return f"<section>{first}{''.join(blocks[1:])}{more}</section>"


_CHARTS_LOCK = threading.Lock()  # rc_context changes matplotlib's global settings


_NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}  # no <metadata>


def svg(key: str, caption: str, fig: Figure) -> tuple[str, str, str]:
    """The figure as inline SVG whose ids are prefixed with `key`, unique in the page."""
    import matplotlib

    out = io.StringIO()
    # a fixed salt for the ids matplotlib derives: the same report gives the same bytes
    with matplotlib.rc_context({"svg.hashsalt": key}):
        fig.savefig(out, format="svg", metadata=_NO_METADATA)
    text = out.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r'\bid="', f'id="{key}-', text)
    text = text.replace("url(#", f"url(#{key}-").replace('href="#', f'href="#{key}-')
    text = text.replace("<svg ", f'<svg role="img" aria-label="{escape(caption)}" ', 1)
    return key, caption, text


def new_figure(
    height: float, left: float = 0.75, right: float = 0.25, top: float = 0.35
) -> tuple[Figure, Axes]:
    """An 8-inch-wide figure whose axes leave these margins (inches) for labels and legend.

    Fixed margins, not a layout engine: the labels are known (3-letter codes, short
    captions), and a layout engine would double the time to draw a large report.
    """
    from matplotlib.figure import Figure

    width = 8.0
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(
        left=left / width, right=1 - right / width, bottom=0.6 / height, top=1 - top / height
    )
    return fig, fig.add_subplot()


def note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])


def markdown(
    title: str, facts: Sequence[tuple[str, str]], tables: Sequence[Table], banner: str = ""
) -> str:
    """A Markdown document: a title, a banner if any (a quote), a list of facts, then each
    table under its heading."""
    lines = [f"# {md_cell(title)}", ""]
    if banner:
        lines += [f"> **{md_cell(banner)}**", ""]
    lines += [f"- **{k}:** {md_cell(v)}" for k, v in facts]
    for table in tables:
        lines += ["", f"## {md_cell(table.title)}", ""]
        if not table.rows:
            lines.append(table.empty)
            continue
        lines.append("| " + " | ".join(table.headers) + " |")
        align = ("---:" if i in table.numeric else "---" for i in range(len(table.headers)))
        lines.append("|" + "|".join(align) + "|")
        lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in table.rows]
        if table.more:
            lines += ["", f"…and {table.more} more."]
    return "\n".join(lines) + "\n"


def html_figures(figures: Sequence[Figure_]) -> str:
    """A "Charts" section holding each figure with its caption."""
    figs = "".join(
        f'<figure aria-labelledby="{fid}-caption">{svg_text}'
        f'<figcaption id="{fid}-caption">{escape(caption)}</figcaption></figure>'
        for fid, caption, svg_text in figures
    )
    return f"<section><h2>Charts</h2>{figs}</section>"


def html_document(
    title: str,
    facts: Sequence[tuple[str, str]],
    body: str,
    banner: str = "",
    running: str = "",
) -> str:
    """A self-contained HTML page: the title, a banner if any, the facts, then `body`
    (HTML, escaped by the caller). `running`: the header of every printed page (PDF)."""
    listed = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    shown = f'<p class="banner" role="status">{escape(banner)}</p>' if banner else ""
    head = f'<div class="running">{escape(running)}</div>' if running else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f'<body>{head}<main><h1>{escape(title)}</h1>{shown}<dl class="facts">{listed}</dl>'
        f"{body}</main></body></html>\n"
    )


@contextmanager
def chart_style() -> Iterator[None]:
    """Draw charts inside this: headless, text kept as text, one thread at a time
    (matplotlib's settings are global)."""
    import matplotlib

    matplotlib.use("Agg")  # no display; the figures are drawn straight to SVG
    with (
        _CHARTS_LOCK,
        matplotlib.rc_context(
            {
                "svg.fonttype": "none",  # text stays text: no font files, searchable, small
                "text.parse_math": False,  # a `$` in a label is a dollar, not mathtext
                "font.size": 9,
                "axes.spines.top": False,
                "axes.spines.right": False,
            }
        ),
    ):
        yield

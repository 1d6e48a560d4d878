"""The people's report as PDF: it opens (pdftoppm renders every page), A4, numbered, the
mode on every page, and the summary's figures as text (pdftotext)."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ians.cli import main
from ians.clock import ManualClock
from ians.reports.build import build_report
from ians.reports.render import render
from tests.conftest import Api
from tests.test_report_history import drill
from tests.test_reports import drill_facts, edge_facts

pytestmark = pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
    reason="poppler-utils missing (.ci/run installs it)",
)


def pages_of(pdf: Path, tmp_path: Path) -> list[Path]:
    """Every page rendered to PNG by poppler, which fails on a broken PDF."""
    subprocess.run(
        ["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=60,
        capture_output=True,
    )
    return sorted(tmp_path.glob("page*.png"))


def text_of(pdf: Path) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, timeout=60, capture_output=True
    )
    return done.stdout.decode()


def page_count(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, timeout=60)
    found = re.search(r"Pages:\s+(\d+)", info.stdout.decode())
    assert found
    return int(found[1])


def test_the_pdf_opens_and_holds_the_summary_figures(tmp_path: Path) -> None:
    facts = drill_facts()
    report = build_report(facts)
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render(report, facts, "pdf"))
    assert pdf.read_bytes().startswith(b"%PDF-")
    pages = page_count(pdf)
    assert pages >= 2
    assert len(pages_of(pdf, tmp_path)) == pages  # poppler rendered every page

    text = text_of(pdf)
    for figure in ("6 of 7 (85.7%)", "5 of 7 (71.4%)", "10m", "1h20m", "4/7 (57%)"):
        assert figure in text, figure
    per_page = text.split("\f")[:pages]
    for number, page in enumerate(per_page, start=1):
        assert f"Page {number} of {pages}" in page
        assert "EXERCISE — not an actual emergency" in page  # the mode, on every page
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True).stdout.decode()
    assert "595.276 x 841.89 pts (A4)" in info or "595 x 842 pts (A4)" in info
    # the charts are vectors: their words are text in the PDF, not pixels
    assert "Kaplan–Meier over all 7 rows" in text
    assert "Acknowledgement times" in text


async def test_the_api_and_the_cli_answer_a_pdf(
    api: Api, clock: ManualClock, db_path: Path, tmp_path: Path
) -> None:
    exercise_id = await drill(api, clock, {"hun-1": 10}, stop_after=40)
    response = await api.call("GET", f"/api/exercises/{exercise_id}/report?format=pdf")
    assert response.status == 200 and response.content_type == "application/pdf"
    pdf = tmp_path / "api.pdf"
    pdf.write_bytes(await response.read())
    assert len(pages_of(pdf, tmp_path)) == page_count(pdf)
    text = text_of(pdf)
    assert "1 of 2 (50.0%)" in text  # acknowledged
    history = await api.call("GET", "/api/reports/history?format=pdf")
    assert history.content_type == "application/pdf"
    (tmp_path / "history.pdf").write_bytes(await history.read())
    assert "Exercise history" in text_of(tmp_path / "history.pdf")

    out = tmp_path / "cli.pdf"
    args = ["report", exercise_id, "--format", "pdf", "--output", str(out), "--db", str(db_path)]
    contacts = ["--contacts", str(tmp_path / "contacts.yaml")]
    assert await asyncio.to_thread(main, [*args, *contacts]) == 0
    assert "1 of 2 (50.0%)" in text_of(out)


def test_a_pdf_of_many_countries_keeps_every_country(tmp_path: Path) -> None:
    """200 recipients: the long tables go out as listings and the charts draw a selection,
    but every country's row is in the text and the charts say where the others are."""
    acks: list[float | None] = [None if i % 7 == 0 else float(30 + i) for i in range(200)]
    facts = edge_facts(acks, [chr(65 + i // 26) + chr(65 + i % 26) + "Z" for i in range(200)])
    pdf = tmp_path / "many.pdf"
    pdf.write_bytes(render(build_report(facts), facts, "pdf"))
    assert len(pages_of(pdf, tmp_path)) == page_count(pdf)
    text = text_of(pdf)
    missing = [c.country for c in facts.chases if c.country not in text]
    assert missing == []
    assert "200" in text  # the recipients, counted in the summary

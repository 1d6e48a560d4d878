"""`ians drill`, `ians simulate` and `ians report` on the bundled scenarios and contacts."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from ians.cli import main

ROOT = Path(__file__).resolve().parent.parent
DANUBE = str(ROOT / "scenarios" / "danube-ammonia.yaml")
CONSULTATION = str(ROOT / "scenarios" / "consultation-2026.yaml")
CONTACTS = ["--contacts", str(ROOT / "contacts")]


def test_a_virtual_drill_writes_its_report_and_report_reads_it_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, html = tmp_path / "ians.db", tmp_path / "danube.html"
    args = ["drill", DANUBE, "--virtual", "--seed", "4", "--db", str(db), *CONTACTS]
    assert main([*args, "--report", str(html)]) == 0
    err = capsys.readouterr().err
    exercise_id = err.split("exercise ")[1].split(":")[0]
    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 3
    assert main(["report", exercise_id, "--format", "csv", "--db", str(db)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["inject"] for r in rows} >= {"ew1", "ra1"}
    assert main(["report", exercise_id, "--format", "json", "--db", str(db)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["exercise"]["clock"] == "virtual"
    assert report["summary"]["recipients"] == len(rows)


def test_simulate_gives_the_same_figures_for_the_same_seed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [
        "simulate",
        DANUBE,
        "--runs",
        "40",
        "--start",
        "2026-11-27T17:00:00+01:00",
        "--format",
        "json",
        *CONTACTS,
    ]
    assert main([*args, "--seed", "1"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main([*args, "--seed", "1"]) == 0
    assert json.loads(capsys.readouterr().out) == first
    assert main([*args, "--seed", "2"]) == 0
    assert json.loads(capsys.readouterr().out) != first
    assert first["runs"] == 40 and first["seed"] == 1
    row = first["by_country"][0]
    assert set(row) == {"country", "ack_rate", "within_target_rate", "ack_seconds"}
    assert 0 <= row["within_target_rate"] <= row["ack_rate"] <= 1


def test_simulate_prints_a_table_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", DANUBE, "--runs", "5", *CONTACTS]) == 0
    out = capsys.readouterr().out
    assert "HUN" in out and "median" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "ex-nope", "--db", "{db}"], "no exercise"),
        (["report", "ex-nope", "--db", "{missing}"], "no database"),
        (["drill", DANUBE, "--virtual", "--report", "{dir}/x.docx"], ".docx"),
        (["drill", DANUBE, "--virtual", "--simulate", "HUN"], "--simulate"),
        (["simulate", DANUBE, "--runs", "0"], "--runs"),
        (["drill", str(ROOT / "contacts" / "srb.yaml"), "--virtual"], "kind"),
        (["drill", CONSULTATION, "--simulate", "HUN"], "consultation"),
    ],
)
def test_cli_mistakes_are_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    db = tmp_path / "ians.db"
    main(
        [
            "drill",
            DANUBE,
            "--virtual",
            "--db",
            str(db),
            *CONTACTS,
            "--report",
            str(tmp_path / "r.json"),
        ]
    )
    capsys.readouterr()
    filled = [a.format(db=db, missing=tmp_path / "none.db", dir=tmp_path) for a in args]
    assert main([*filled, *CONTACTS]) == 1
    assert message in capsys.readouterr().err


def test_a_consultation_is_rehearsed_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "ians.db"
    out = tmp_path / "results.csv"
    args = ["drill", CONSULTATION, "--virtual", "--seed", "2", "--db", str(db), *CONTACTS]
    assert main([*args, "--report", str(out)]) == 0
    consultation_id = capsys.readouterr().err.split("exercise ")[1].split(":")[0]
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows and set(rows[0]) >= {"poc", "country", "submitted_at", "q1"}
    assert main(["report", consultation_id, "--format", "json", "--db", str(db), *CONTACTS]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["consultation"]["closed"] is True
    assert results["responded"] == len(rows)


def test_simulate_rehearses_a_consultations_reminder_plan(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [
        "simulate",
        CONSULTATION,
        "--runs",
        "20",
        "--seed",
        "3",
        "--format",
        "json",
        "--start",
        "2026-11-27T09:00:00Z",
        *CONTACTS,
    ]
    assert main(args) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["kind"] == "consultation" and figures["invited"] >= 41
    stages = [s["response_rate"] for s in figures["by_stage"]]
    assert [s["stage"] for s in figures["by_stage"]] == [
        "before reminder 1",
        "before reminder 2",
        "by the deadline",
    ]
    assert stages == sorted(stages) and stages[-1] == figures["response_rate"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == figures

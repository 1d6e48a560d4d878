"""The history of exercises: three drills a month apart, oldest first, per exercise and per
country, by the API and the CLI; a rehearsal is left out."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from ians.cli import main
from ians.clock import ManualClock
from ians.reports.indicators import DEFINITIONS
from ians.web.keys import tracker_key
from tests.conftest import Api
from tests.test_findings import DRILL


async def drill(api: Api, clock: ManualClock, acks: dict[str, int], stop_after: int) -> str:
    """A drill to HUN and ROU; each PoC in `acks` acknowledges that many minutes after
    sending; stopped `stop_after` minutes in if still running."""
    tracker = api.app[tracker_key]
    created = await api.json("POST", "/api/exercises", json={"scenario": DRILL}, status=201)
    await tracker.timers.run_due()
    elapsed = 0
    for poc, minutes in sorted(acks.items(), key=lambda a: a[1]):
        clock.advance(timedelta(minutes=minutes - elapsed))
        elapsed = minutes
        [entry] = (await api.json("GET", "/api/inbox", as_=poc))["messages"][:1]
        await api.json("POST", f"/api/messages/{entry['message']['id']}/ack", as_=poc)
    exercise = await api.json("GET", f"/api/exercises/{created['id']}")
    if exercise["state"] == "running":
        clock.advance(timedelta(minutes=stop_after - elapsed))
        await api.json("POST", f"/api/exercises/{created['id']}/stop")
    return str(created["id"])


@pytest.fixture
async def three(api: Api, clock: ManualClock) -> list[str]:
    ids = [await drill(api, clock, {"hun-1": 10}, stop_after=40)]  # ROU never answers
    clock.advance(timedelta(days=30))
    ids.append(await drill(api, clock, {"hun-1": 5, "rou-1": 20}, stop_after=40))
    clock.advance(timedelta(days=30))
    ids.append(await drill(api, clock, {"hun-1": 2, "rou-1": 3}, stop_after=40))
    # a rehearsal in between: virtual, nothing happened in it
    rehearsal = {"scenario": DRILL, "clock": "virtual", "start": "2026-12-15T09:00:00Z"}
    await api.json("POST", "/api/exercises", json=rehearsal, status=201)
    return ids


def rates(line: dict[str, object]) -> dict[str, object]:
    return {m["id"]: (m["value"], m["of"]) for m in line["indicators"]}  # type: ignore[attr-defined, index]


async def test_the_history_of_three_exercises_oldest_first(api: Api, three: list[str]) -> None:
    history = await api.json("GET", "/api/reports/history")
    assert [e["exercise_id"] for e in history["exercises"]] == three
    assert [e["started_at"][:10] for e in history["exercises"]] == [
        "2026-11-27",
        "2026-12-27",
        "2027-01-26",
    ]
    assert [rates(e)["acknowledged"] for e in history["exercises"]] == [(1, 2), (2, 2), (2, 2)]
    assert [rates(e)["within_target"] for e in history["exercises"]] == [(1, 2), (2, 2), (2, 2)]
    assert [e["median_ack_seconds"] for e in history["exercises"]] == [600, 300, 120]
    assert [e["state"] for e in history["exercises"]] == ["stopped", "completed", "completed"]
    by = [(c["exercise_id"], c["country"], c["median_ack_seconds"]) for c in history["by_country"]]
    assert by == [
        (three[0], "HUN", 600),
        (three[0], "ROU", None),
        (three[1], "HUN", 300),
        (three[1], "ROU", 1200),
        (three[2], "HUN", 120),
        (three[2], "ROU", 180),
    ]
    assert [d["id"] for d in history["definitions"]] == [d.id for d in DEFINITIONS]

    rou = await api.json("GET", "/api/reports/history?country=ROU&kind=drill")
    assert rou["country"] == "ROU"
    assert [rates(e)["acknowledged"] for e in rou["exercises"]] == [(0, 1), (1, 1), (1, 1)]
    assert [e["median_ack_seconds"] for e in rou["exercises"]] == [None, 1200, 180]
    assert {c["country"] for c in rou["by_country"]} == {"ROU"}
    tests = await api.json("GET", "/api/reports/history?kind=connectivity_test")
    assert tests["exercises"] == []

    md = await (await api.call("GET", "/api/reports/history?country=HUN&format=md")).text()
    assert md.startswith("# Exercise history: HUN Hungary\n")
    assert "| HUN Hungary | " + three[0] + " | 2026-11-27 09:00:00 UTC | 1 |" in md
    html = await (await api.call("GET", "/api/reports/history?format=html")).text()
    assert html.count("<svg") == 1 and "Trend over 3 exercises" in html
    csv = await (await api.call("GET", "/api/reports/history?format=csv")).text()
    assert len(csv.splitlines()) == 1 + 6


async def test_bad_history_queries_name_each_parameter(api: Api) -> None:
    refused = await api.json(
        "GET", "/api/reports/history?country=XXX&kind=consultation&format=doc", status=422
    )
    assert {d["field"] for d in refused["error"]["details"]} == {"country", "kind", "format"}


async def test_ians_report_history_reads_the_database(
    api: Api, three: list[str], db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = ["--contacts", str(tmp_path / "contacts.yaml")]
    args = ["report", "--history", "--country", "HUN", "--db", str(db_path), *contacts]
    assert await asyncio.to_thread(main, args) == 0  # its own event loop: not this one
    history = json.loads(capsys.readouterr().out)
    assert [e["exercise_id"] for e in history["exercises"]] == three
    assert [e["median_ack_seconds"] for e in history["exercises"]] == [600, 300, 120]
    out = tmp_path / "history.md"
    assert await asyncio.to_thread(main, [*args, "--format", "md", "--output", str(out)]) == 0
    assert "## By country and exercise" in out.read_text(encoding="utf-8")
    both = ["report", three[0], "--history", "--db", str(db_path), *contacts]
    assert await asyncio.to_thread(main, both) == 1
    assert "not both" in capsys.readouterr().err

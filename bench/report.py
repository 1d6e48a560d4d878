"""The report of a large exercise in every format, and the history over many exercises:
time and peak memory.

An exercise of 1,000 countries × 2 PoCs and 5 injects (an early warning, three updates, a
request for assistance) to 999 of them is run in virtual time and stored as an exercise
that happened (clock real, speed 1), 4,995 recipient rows. Each format is then made in a
fresh process, from the database, as `ians report` does: reading the facts, building the
report (rows, indicators, channels, findings), rendering. Peak memory is that process's
ru_maxrss. Beside each, its floor measured in the same process: for json, `json.dumps` of
the same object; for html, the three charts alone (matplotlib); for pdf, WeasyPrint's
layout of the finished html alone.

Then the history: 100 such exercises (by default of 100 countries each, a month apart),
`report_history` in a fresh process per format, against building the 100 reports alone.

    .venv/bin/python bench/report.py [--countries 1000] [--history 100]
        [--history-countries 100] [--formats json,csv,md,html,pdf] [--timeout 900]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import banner, max_rss_mb, synthetic_registry, tmp_db

from ians.domain.exercise import Exercise, ExerciseState
from ians.domain.policy import PolicyTable
from ians.reports.facts import SentMessage
from ians.scenarios.loader import load_scenario
from ians.scenarios.virtual import VirtualExercise
from ians.store.sqlite import SqliteStore

START = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
FORMATS = ("json", "csv", "md", "html", "pdf")
DRILL = """\
kind: drill
name: Bench drill
mode: exercise
policy: {{ack_within: 30m, reminders: [15m, 30m], escalate_every: 30m, give_up_after: 2h}}
injects:
  - {{id: ew1, at: 0m, type: early_warning, from: AAA, to: [{to}],
     content: {{event_type: release, occurred_at: start,
               location: {{name: Plant, lat: 45.0, lon: 20.0}}}}}}
  - {{id: ir1, at: 20m, type: information, from: AAA, to: [{to}], refers_to: ew1,
     content: {{developments: The plume moves east}}}}
  - {{id: ir2, at: 40m, type: information, from: AAA, to: [{to}], refers_to: ew1,
     content: {{developments: The plume reaches the river}}}}
  - {{id: ir3, at: 1h, type: information, from: AAA, to: [{to}], refers_to: ew1,
     content: {{developments: The release is stopped}}}}
  - {{id: ra1, at: 1h20m, type: assistance_request, from: AAA, to: [{to}], refers_to: ew1,
     content: {{assistance: [{{kind: experts, description: Chemical response team}}]}}}}
"""


async def store_exercises(db: Path, countries: int, copies: int, seed: int = 7) -> list[str]:
    """`copies` exercises of `countries` countries, each run virtually with its own seed and
    stored as one that happened, a month apart; their ids."""
    registry = synthetic_registry(countries, 2)
    to = ", ".join(c for c in registry.countries if c != "AAA")
    scenario = load_scenario(DRILL.format(to=to), registry)
    store = await SqliteStore.open(db, synchronous="NORMAL")
    ids = []
    try:
        for i in range(copies):
            start = START + timedelta(days=30 * i)
            exercise_id = f"ex-bench-{i:03d}"
            run = VirtualExercise(scenario, registry, PolicyTable(), start, exercise_id).run(
                seed + i
            )
            ids.append(exercise_id)
            record = Exercise(
                exercise_id,
                scenario.name,
                "drill",
                "real",
                1.0,
                ExerciseState.COMPLETED,
                start,
                start,
                run.ended_at,
                seed + i,
            )
            await store.import_run(record, _real(run.messages), run.chases, run.events)
    finally:
        await store.close()
    return ids


def _real(messages: list[SentMessage]) -> list[SentMessage]:
    return [
        SentMessage(s.inject, s.message.model_copy(update={"simulated": False}), s.policy)
        for s in messages
    ]


def one_report(db: Path, exercise_id: str, fmt: str, countries: int) -> None:
    """In this (fresh) process: the report in `fmt`, timed in parts, with its floor."""
    from ians.reports.build import build_report
    from ians.reports.page import Names
    from ians.reports.render import render

    registry = synthetic_registry(countries, 2)

    async def facts():  # type: ignore[no-untyped-def]
        store = await SqliteStore.open(db)
        try:
            return await store.exercise_facts(exercise_id)
        finally:
            await store.close()

    began = time.perf_counter()
    found = asyncio.run(facts())
    read_s = time.perf_counter() - began
    began = time.perf_counter()
    report = build_report(found, registry)
    build_s = time.perf_counter() - began
    began = time.perf_counter()
    body = render(report, found, fmt, Names.of(registry))
    render_s = time.perf_counter() - began
    floor_s, floor = None, ""
    if fmt == "json":
        began = time.perf_counter()
        json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False)
        floor_s, floor = time.perf_counter() - began, "json.dumps of the same object"
    elif fmt == "html":
        from ians.reports.charts import charts

        began = time.perf_counter()
        charts(report, found, Names.of(registry))
        floor_s, floor = time.perf_counter() - began, "the three charts alone"
    elif fmt == "pdf":
        from ians.reports.charts import charts
        from ians.reports.pdf import pdf_of
        from ians.reports.render import printed_html

        names = Names.of(registry)
        html = printed_html(report, names, charts(report, found, names))
        began = time.perf_counter()
        pdf_of(html)
        floor_s, floor = time.perf_counter() - began, "WeasyPrint's layout of the html alone"
    print(
        json.dumps(
            {
                "fmt": fmt,
                "rows": len(report.recipients),
                "read_s": read_s,
                "build_s": build_s,
                "render_s": render_s,
                "bytes": len(body),
                "peak_mb": max_rss_mb(),
                "floor_s": floor_s,
                "floor": floor,
            }
        )
    )


def one_history(db: Path, fmt: str, countries: int) -> None:
    from ians.reports.build import build_report
    from ians.reports.history import report_history
    from ians.reports.page import Names
    from ians.reports.render import render_history

    registry = synthetic_registry(countries, 2)

    async def history():  # type: ignore[no-untyped-def]
        store = await SqliteStore.open(db)
        try:
            began = time.perf_counter()
            found = await report_history(store, registry)
            history_s = time.perf_counter() - began
            began = time.perf_counter()
            for exercise in await store.exercises_for_history():
                build_report(await store.exercise_facts(exercise.id), registry)
            return found, history_s, time.perf_counter() - began
        finally:
            await store.close()

    found, history_s, floor_s = asyncio.run(history())
    began = time.perf_counter()
    body = render_history(found, fmt, Names.of(registry))
    render_s = time.perf_counter() - began
    print(
        json.dumps(
            {
                "fmt": fmt,
                "exercises": len(found.exercises),
                "lines": len(found.by_country),
                "history_s": history_s,
                "render_s": render_s,
                "bytes": len(body),
                "peak_mb": max_rss_mb(),
                "floor_s": floor_s,
            }
        )
    )


def child(*args: str, timeout: float = 900) -> dict[str, object] | None:
    """What a fresh process of this script printed; None if it took over `timeout` s."""
    try:
        done = subprocess.run(
            [sys.executable, __file__, *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--countries", type=int, default=1000)
    parser.add_argument("--history", type=int, default=100)
    parser.add_argument("--history-countries", type=int, default=100)
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated")
    parser.add_argument("--timeout", type=float, default=900, help="s per format")
    parser.add_argument("--only", choices=["report", "history"], help="one half only")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)  # db, id, fmt, countries
    parser.add_argument("--one-history", nargs=3, help=argparse.SUPPRESS)  # db, fmt, countries
    args = parser.parse_args()
    if args.one:
        one_report(Path(args.one[0]), args.one[1], args.one[2], int(args.one[3]))
        return
    if args.one_history:
        one_history(Path(args.one_history[0]), args.one_history[1], int(args.one_history[2]))
        return

    banner("reports")
    print(f"   load average at the start: {os.getloadavg()[0]:.2f}")
    if args.only != "history":
        report_formats(args)
    if args.only != "report":
        history_formats(args)
    # each format runs in a child process: the machine's load says how quiet it was
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (2 cores)")


def report_formats(args: argparse.Namespace) -> None:
    db = tmp_db("report")
    began = time.perf_counter()
    [exercise_id] = asyncio.run(store_exercises(db, args.countries, 1))
    print(
        f"one exercise: {args.countries:,} countries × 2 PoCs, 5 injects to"
        f" {args.countries - 1:,} of them; run and stored in {time.perf_counter() - began:.1f} s"
    )
    print(
        "format   rows   read s  build s  render s   total s    bytes   peak MiB"
        "   floor (same process)"
    )
    for fmt in args.formats.split(","):
        r = child("--one", str(db), exercise_id, fmt, str(args.countries), timeout=args.timeout)
        if r is None:
            print(f"{fmt:6} did not finish in {args.timeout:.0f} s")
            continue
        total = float(r["read_s"]) + float(r["build_s"]) + float(r["render_s"])  # type: ignore[arg-type]
        floor = "" if r["floor_s"] is None else f"{r['floor_s']:.2f} s: {r['floor']}"
        print(
            f"{fmt:6} {r['rows']:6,} {r['read_s']:8.2f} {r['build_s']:8.2f}"
            f" {r['render_s']:9.2f} {total:9.2f} {r['bytes']:9,} {r['peak_mb']:9.0f}   {floor}"
        )


def history_formats(args: argparse.Namespace) -> None:
    hdb = tmp_db("history")
    began = time.perf_counter()
    asyncio.run(store_exercises(hdb, args.history_countries, args.history))
    print(
        f"\nhistory: {args.history} exercises of {args.history_countries:,} countries ×"
        f" 5 injects, a month apart; stored in {time.perf_counter() - began:.1f} s"
    )
    print("format  exercises   lines  history s  render s      bytes  peak MiB   floor")
    for fmt in args.formats.split(","):
        h = child("--one-history", str(hdb), fmt, str(args.history_countries), timeout=args.timeout)
        if h is None:
            print(f"{fmt:6} did not finish in {args.timeout:.0f} s")
            continue
        print(
            f"{fmt:6} {h['exercises']:10,} {h['lines']:7,} {h['history_s']:10.2f}"
            f" {h['render_s']:9.2f} {h['bytes']:10,} {h['peak_mb']:9.0f}"
            f"   {h['floor_s']:.2f} s: the {h['exercises']} reports built alone"
        )


if __name__ == "__main__":
    main()

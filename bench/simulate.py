"""Virtual time: `ians simulate` of the bundled connectivity test (1,000 runs over the whole
registry), the simulator's events/s against a bare heapq discrete-event loop processing
the same number of events in the same run, and a virtual drill of 1,000 countries × 3 PoCs.

Targets (issue 3): 1,000 runs in ≤ 5 s; events/s ≥ 0.25× the bare loop; the big virtual
drill in ≤ 2 s.

    .venv/bin/python bench/simulate.py
"""

from __future__ import annotations

import asyncio
import heapq
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from common import banner, synthetic_registry, tmp_db

from ians.contacts import load_registry
from ians.domain.exercise import ClockKind, Exercise, ExerciseState
from ians.domain.policy import PolicyTable
from ians.reports.build import build_report
from ians.scenarios.loader import load_scenario, load_scenario_file
from ians.scenarios.montecarlo import monte_carlo
from ians.scenarios.virtual import VirtualExercise
from ians.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # a Friday, 17:00 in Central Europe
RUNS = 1000


def bare_heapq_loop(n: int) -> float:
    """Seconds for a bare discrete-event loop to push and pop `n` events shaped like ours."""
    rng = random.Random(1)
    times = [START.timestamp() + rng.random() * 86_400 for _ in range(n)]
    heap: list[tuple[float, int, int, int]] = []
    began = time.perf_counter()
    for seq, at in enumerate(times):
        heapq.heappush(heap, (at, seq, seq & 3, seq))
    handled = 0
    while heap:
        _, _, kind, payload = heapq.heappop(heap)
        handled += kind + payload  # the least work an event can do
    return time.perf_counter() - began


def connectivity_test() -> None:
    registry = load_registry([ROOT / "contacts"])
    scenario = load_scenario_file(ROOT / "scenarios" / "connectivity-test.yaml", registry)
    exercise = VirtualExercise(scenario, registry, PolicyTable(), START, "bench")
    began = time.perf_counter()
    monte_carlo(exercise, RUNS, seed=1)
    figures_s = time.perf_counter() - began
    # the same runs again, counting the loop's events, for the events/s comparison
    began = time.perf_counter()
    happenings = sum(exercise.run(f"1-{r}", record_events=False).happenings for r in range(RUNS))
    sim_s = time.perf_counter() - began
    bare_s = bare_heapq_loop(happenings)
    print(
        f"connectivity test, {len(registry)} countries, {RUNS} runs: {figures_s:.2f} s"
        f" (target ≤ 5 s)"
    )
    print(
        f"  simulator: {happenings:,} events in {sim_s:.2f} s = {happenings / sim_s:,.0f} events/s"
    )
    print(f"  bare heapq loop, same events: {bare_s:.3f} s = {happenings / bare_s:,.0f} events/s")
    print(f"  ratio {bare_s / sim_s:.3f} (target ≥ 0.25)")
    began = time.perf_counter()
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "ians",
            "simulate",
            str(ROOT / "scenarios" / "connectivity-test.yaml"),
            "--runs",
            str(RUNS),
            "--seed",
            "1",
            "--format",
            "json",
            "--contacts",
            str(ROOT / "contacts"),
        ],
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    print(
        f"  the whole `ians simulate` command (start-up, registry, output):"
        f" {time.perf_counter() - began:.2f} s, {len(cli.stdout):,} bytes of JSON"
    )


DRILL = """\
kind: drill
name: Synthetic drill
policy: {{ack_within: 30m, reminders: [15m, 30m], escalate_every: 30m, give_up_after: 4h}}
injects:
  - {{id: ew1, at: 0m, type: early_warning, from: AAA, to: [{to}],
     content: {{event_type: release, occurred_at: start,
               location: {{name: Plant, lat: 45.0, lon: 20.0}}}}}}
  - {{id: ir1, at: 40m, type: information, from: AAA, to: [{to}], refers_to: ew1,
     content: {{developments: The plume moves east}}}}
  - {{id: ra1, at: 1h, type: assistance_request, from: AAA, to: [{to}], refers_to: ew1,
     content: {{assistance: [{{kind: experts, description: Chemical response team}}]}}}}
"""


async def big_drill() -> None:
    registry = synthetic_registry(1000, 3)
    to = ", ".join(c for c in registry.countries if c != "AAA")
    scenario = load_scenario(DRILL.format(to=to), registry)
    began = time.perf_counter()
    run = VirtualExercise(scenario, registry, PolicyTable(), START, "ex-bench").run(7)
    run_s = time.perf_counter() - began
    store = await SqliteStore.open(tmp_db("bench-drill"))
    began = time.perf_counter()
    exercise = Exercise(
        "ex-bench",
        scenario.name,
        "drill",
        ClockKind.VIRTUAL,
        1.0,
        ExerciseState.COMPLETED,
        START,
        START,
        run.ended_at,
        7,
    )
    await store.import_run(exercise, run.messages, run.chases, run.events)
    store_s = time.perf_counter() - began
    began = time.perf_counter()
    report = build_report(await store.exercise_facts("ex-bench"))
    report_s = time.perf_counter() - began
    await store.close()
    print(
        f"virtual drill, 1,000 countries × 3 PoCs, 3 injects: {len(run.chases):,} recipients,"
        f" {len(run.events):,} events, {run.happenings:,} loop events"
    )
    print(
        f"  run {run_s:.2f} s (target ≤ 2 s); stored {store_s:.2f} s; report built from the"
        f" store {report_s:.2f} s; acknowledged {report.summary.acknowledged:,}"
    )


if __name__ == "__main__":
    banner("virtual time")
    connectivity_test()
    asyncio.run(big_drill())

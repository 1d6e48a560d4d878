"""Recovery: restart-to-ready with 100,000 pending timers in the database.

Setup (this process): a synthetic registry of 10,001 countries with 1 PoC each; 10 early
warnings from AAA to the other 10,000 sent through the real Tracker.send on a ManualClock
set to the current time, so the database holds 100,000 pending chases (first reminder in
15 minutes, the default policy) written as the server writes them.

Restart (a fresh subprocess, so its memory is the restarted process's only): build the
same registry, then time open SqliteStore -> TimerWheel + Dispatcher + Tracker ->
`await tracker.recover()` -> timers started with a real AsyncIOScheduler. Prints the
seconds, the timers armed, and the resident memory (VmRSS now, ru_maxrss peak) before
and after. A second subprocess times the server's own assembly (`open_services`, which
also loads tokens and running exercises) on the same database.

Run: .venv/bin/python bench/recovery.py [--countries 10000] [--messages 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from common import (
    banner,
    max_rss_mb,
    process_age_s,
    rss_mb,
    run,
    synthetic_registry,
    tmp_db,
)


async def setup(args: argparse.Namespace) -> Path:
    from common import early_warning
    from pydantic import TypeAdapter

    from ians.clock import ManualClock
    from ians.delivery import Dispatcher
    from ians.domain.messages import MessageDraft
    from ians.scheduler import TimerWheel
    from ians.store.sqlite import SqliteStore
    from ians.tracking import Tracker

    registry = synthetic_registry(args.countries + 1, 1)
    sender, *recipients = registry.countries
    db = tmp_db("recovery")
    store = await SqliteStore.open(db)
    clock = ManualClock(datetime.now(UTC))
    timers = TimerWheel(clock)  # never started: nothing fires during the setup
    dispatcher = Dispatcher(store, registry, clock, [])
    tracker = Tracker(store, registry, clock, timers, dispatcher)
    draft = TypeAdapter(MessageDraft).validate_python(early_warning(sender, recipients))
    start = time.perf_counter()
    for _ in range(args.messages):
        await tracker.send(draft)
    await dispatcher.drain()
    pending = len(await store.pending_timers())
    await store.close()
    print(
        f"   setup: {args.messages} early warnings to {len(recipients):,} countries ="
        f" {pending:,} pending timers in the database, in {time.perf_counter() - start:.1f} s"
        f" ({db.stat().st_size / 2**20:.0f} MiB database)"
    )
    return db


async def restart(db: str, countries: int, how: str) -> dict[str, float]:
    """In the fresh subprocess: time the restart; returns the figures."""
    figures: dict[str, float] = {}
    start = time.perf_counter()
    registry = synthetic_registry(countries + 1, 1)
    figures["registry_s"] = time.perf_counter() - start
    figures["rss_before_mb"] = rss_mb()
    if how == "minimal":
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        from ians.clock import SystemClock
        from ians.delivery import Dispatcher
        from ians.scheduler import TimerWheel
        from ians.store.sqlite import SqliteStore
        from ians.tracking import Tracker

        start = time.perf_counter()
        figures["import_s"] = process_age_s() - figures["registry_s"]
        store = await SqliteStore.open(db)
        clock = SystemClock()
        timers = TimerWheel(clock)
        dispatcher = Dispatcher(store, registry, clock, [])
        tracker = Tracker(store, registry, clock, timers, dispatcher)
        figures["armed"] = await tracker.recover()
        timers.start(AsyncIOScheduler(timezone="UTC"))
        figures["ready_s"] = time.perf_counter() - start
        figures["timers"] = len(timers)
        figures["rss_after_mb"], figures["peak_rss_mb"] = rss_mb(), max_rss_mb()
        figures["writer_rss_mb"] = rss_mb(store._commits.pid)  # type: ignore[attr-defined]
        timers.shutdown()
        await store.close()
    else:
        from ians.services import AppConfig, open_services

        start = time.perf_counter()
        figures["import_s"] = process_age_s() - figures["registry_s"]
        async with open_services(
            AppConfig(registry=registry, db=db, admin_token="bench-admin-token")
        ) as services:
            figures["ready_s"] = time.perf_counter() - start
            figures["timers"] = len(services.tracker.timers)
            figures["armed"] = figures["timers"]
            figures["rss_after_mb"], figures["peak_rss_mb"] = rss_mb(), max_rss_mb()
            store = services.tracker.store
            figures["writer_rss_mb"] = rss_mb(store._commits.pid)  # type: ignore[attr-defined]
    return figures


def restarted(db: Path, countries: int, how: str) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--restart",
        str(db),
        "--countries",
        str(countries),
        "--how",
        how,
    ]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the restart failed:\n{done.stderr}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_s"] = time.perf_counter() - start
    return figures


def report(title: str, f: dict[str, float]) -> None:
    print(
        f"   {title}: ready in {f['ready_s']:.2f} s (target <= 2 s) with {f['timers']:,.0f}"
        f" timers armed; RSS {f['rss_before_mb']:.0f} MiB before opening the store,"
        f" {f['rss_after_mb']:.0f} MiB when ready, peak {f['peak_rss_mb']:.0f} MiB"
        f" (target <= 200 MB), and the store's writer process {f['writer_rss_mb']:.0f} MiB;"
        f" start-up and imports {f['import_s']:.2f} s,"
        f" registry {f['registry_s']:.2f} s, whole process {f['process_s']:.1f} s"
    )


async def main(args: argparse.Namespace) -> None:
    banner(f"recovery: restart-to-ready with {args.countries * args.messages:,} pending timers")
    db = await setup(args)
    report(
        "restart (store, TimerWheel, Tracker, recover, timers started)",
        restarted(db, args.countries, "minimal"),
    )
    try:
        import ians.services  # noqa: F401
    except ImportError:
        return
    report(
        "server restart (ians.services.open_services)", restarted(db, args.countries, "services")
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--countries", type=int, default=10_000, help="recipient countries")
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--restart", help=argparse.SUPPRESS)  # the subprocess: a database
    parser.add_argument(
        "--how", choices=["minimal", "services"], default="minimal", help=argparse.SUPPRESS
    )
    arguments = parser.parse_args()
    if arguments.restart:
        print(
            json.dumps(run(lambda: restart(arguments.restart, arguments.countries, arguments.how)))
        )
    else:
        run(lambda: main(arguments))

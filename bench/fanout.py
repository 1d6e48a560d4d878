"""Fan-out: one early warning to 10,000 countries through the real `POST /api/messages`.

A synthetic registry of 10,001 countries with 2 PoCs each (AAA sends to the other
10,000), the real app on a SQLite file (synchronous=FULL) with real timers. For each of
5 fresh messages: the time from the request to its 201 (the message, 10,000 chases, 10,000
deliveries with their `delivered` events and the `sent` event committed in one transaction,
10,000 timers armed), then the rows are counted in the database and the armed timers in
`app[tracker_key].timers`. Deliveries through other channels (none here) would run after the
201; they are drained between repeats and timed separately.

Run: .venv/bin/python bench/fanout.py [--countries 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import time

from common import (
    ADMIN_TOKEN,
    CpuShare,
    banner,
    bearer,
    client,
    early_warning,
    run,
    serving,
    synthetic_registry,
    tmp_db,
)

from ians.web.app import AppConfig, create_app
from ians.web.keys import tracker_key


async def main(args: argparse.Namespace) -> None:
    banner(f"fanout: one early warning to {args.countries:,} countries, POST /api/messages")
    t = time.perf_counter()
    registry = synthetic_registry(args.countries + 1, 2)
    sender, *recipients = registry.countries
    print(f"   registry: {registry!r} built in {time.perf_counter() - t:.1f} s")
    db = tmp_db("fanout")
    app = create_app(AppConfig(registry=registry, db=str(db), admin_token=ADMIN_TOKEN))
    body = early_warning(sender, recipients)
    times: list[float] = []
    bodies: list[float] = []
    drains: list[float] = []
    share = CpuShare()
    async with serving(app) as base, client(4) as session:
        tracker = app[tracker_key]
        rows = sqlite3.connect(f"file:{db}?mode=ro", uri=True)  # the server created it
        for i in range(args.repeats):
            armed_before = len(tracker.timers)
            payload = json.dumps(body).encode()
            start = time.perf_counter()
            async with session.post(
                f"{base}/api/messages",
                data=payload,
                headers={**bearer(ADMIN_TOKEN), "Content-Type": "application/json"},
            ) as response:
                times.append(time.perf_counter() - start)  # status line and headers are in
                raw = await response.read()
                bodies.append(time.perf_counter() - start)
                status = response.status
            answer = json.loads(raw)
            armed = len(tracker.timers) - armed_before
            start = time.perf_counter()
            await tracker.dispatcher.drain()
            drains.append(time.perf_counter() - start)
            message_id = answer.get("id") if status == 201 else None
            chases, deliveries, delivered = (
                rows.execute(sql, (message_id,)).fetchone()[0]
                for sql in (
                    "SELECT count(*) FROM chases WHERE message_id = ?",
                    "SELECT count(*) FROM deliveries WHERE message_id = ?",
                    "SELECT count(*) FROM events WHERE message_id = ? AND kind = 'delivered'",
                )
            )
            print(
                f"   #{i + 1}: {status} in {times[-1] * 1e3:.0f} ms (whole answer, {len(raw):,}"
                f" bytes with {len(answer.get('recipients', [])):,} recipients, in"
                f" {bodies[-1] * 1e3:.0f} ms);"
                f" stored {chases:,} chases, {deliveries:,} deliveries;"
                f" timers armed +{armed:,} (total {len(tracker.timers):,});"
                f" {delivered:,} `delivered` events; other channels drained in"
                f" {drains[-1] * 1e3:.0f} ms"
            )
    rows.close()
    print(
        f"   time to 201: min {min(times) * 1e3:.0f} ms, median"
        f" {statistics.median(times) * 1e3:.0f} ms, max {max(times) * 1e3:.0f} ms"
        f" (target <= 500 ms)"
    )
    print(
        f"   whole 201 body received: median {statistics.median(bodies) * 1e3:.0f} ms;"
        f" other channels after it: median {statistics.median(drains) * 1e3:.0f} ms"
    )
    print(f"   {share}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--countries", type=int, default=10_000, help="recipient countries")
    parser.add_argument("--repeats", type=int, default=5)
    run(lambda: main(parser.parse_args()))

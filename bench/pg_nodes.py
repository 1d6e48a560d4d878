"""Several `ians serve` on one PostgreSQL database: durable acks/s on one and on two
nodes, timer lateness across two nodes, failover after a SIGKILL, duplicates.

Every process is separate: the nodes (`python -m ians serve --db postgresql://…`), the
ceiling (bench/ack_ceiling.py) and the load processes (bench/load_client.py, one per
node, started anew for every round), as in bench/ack_throughput.py, whose functions this
reuses; the ceiling is measured the same way in the same run. Each run makes a fresh
schema in the database and drops it at the end.

1. Acks: each request is the first acknowledgement of a distinct delivery, answered 200
   only after its commit (PostgreSQL's synchronous_commit=on). Two nodes: two load
   processes at once, one per node, each with half the requests.
2. Timers: this process stores messages whose one reminder falls due on an evenly spread
   instant of a 10 s window (20,000 reminders, 10 countries a message), through its own
   store and tracker, whose timers never run: only the two nodes, woken by NOTIFY, fire
   them. Lateness = the `reminded` event's time minus its due time.
3. Failover: 1,000 reminders due over 20 s; node A is killed (SIGKILL) 5 s in; the
   figure is the time from the kill to the first step due at or after it that node B
   stored, and the worst lateness of the steps due in the lease after the kill.
4. Duplicates: chase steps stored more than once, over all of it.

Run: .venv/bin/python bench/pg_nodes.py [--db postgresql://postgres@127.0.0.1:5432/test]
     [--requests 6000] [--rounds 2] [--reminders 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import random
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from ack_throughput import (
    Round,
    Server,
    drive,
    free_port,
    request_bytes,
    setup,
    start_ceiling,
    wait_healthy,
)
from common import (
    ADMIN_TOKEN,
    HOST,
    ROOT,
    banner,
    country_codes,
    percentile,
    poc_id,
    registry_yaml,
    synthetic_registry,
)
from pydantic import TypeAdapter

from ians.clock import SystemClock
from ians.delivery import Dispatcher
from ians.domain.messages import MessageDraft
from ians.domain.policy import AckPolicy
from ians.scheduler import TimerWheel
from ians.store.postgres import PostgresStore
from ians.tracking import Tracker

NOTE = b'{"note": "received by the duty officer"}'
LEASE_S = 10
SENDS = 8  # messages stored at once by this process (the pool's connections)


async def admin(db: str, sql: str) -> None:
    conn = await asyncpg.connect(db)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def start_node(url: str, contacts: Path) -> Server:
    """`ians serve` on the PostgreSQL `url` (its working directory the contacts folder:
    `-m` puts it ahead of PYTHONPATH, so it must not hold another copy of ians)."""
    port = free_port()
    env = {**os.environ, "IANS_ADMIN_TOKEN": ADMIN_TOKEN, "IANS_LEASE": str(LEASE_S)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), str(ROOT)]))
    process = subprocess.Popen(
        [sys.executable, "-m", "ians", "serve", "--host", HOST, "--port", str(port),
         "--db", url, "--contacts", str(contacts)],
        env=env, cwd=contacts, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_healthy(port, process)
    return Server("IANS", port, process)


def both(servers: list[Server], jobs: Path, connections: int, first: int, count: int) -> Round:
    """One round on every node at once, a load process each; the rounds added up."""
    share = count // len(servers)
    with ThreadPoolExecutor(len(servers)) as pool:
        rounds = list(
            pool.map(
                lambda n: drive(servers[n], jobs, connections, first + n * share, share),
                range(len(servers)),
            )
        )
    total = Round()
    for r in rounds:
        total.add(r)
    total.seconds = max(r.seconds for r in rounds)  # they ran at once
    return total


def acks(args: argparse.Namespace, url: str, contacts: Path, codes: list[str]) -> None:
    recipients = codes[1:]
    needed = args.warmup + 2 * args.rounds * args.requests
    messages = -(-needed // len(recipients))
    a, b = start_node(url, contacts), start_node(url, contacts)
    ceiling = start_ceiling(free_port())
    try:
        tokens, ids = asyncio.run(setup(a.port, codes, messages))
        rng = random.Random(1)
        keys = [(m, c) for m in ids for c in recipients]
        rng.shuffle(keys)
        jobs = [
            request_bytes(m, tokens[poc_id(c, 1)], NOTE if n % 4 == 0 else b"{}")
            for n, (m, c) in enumerate(keys[:needed])
        ]
        jobs_file = Path(tempfile.mkdtemp(prefix="ians-bench-jobs-")) / "jobs.pickle"
        jobs_file.write_bytes(pickle.dumps(jobs))
        drive(ceiling, jobs_file, args.connections, 0, args.warmup)
        both([a, b], jobs_file, args.connections, 0, args.warmup)
        offset = args.warmup
        for n in range(args.rounds):
            c = drive(ceiling, jobs_file, args.connections, offset, args.requests)
            one = drive(a, jobs_file, args.connections, offset, args.requests)
            offset += args.requests
            two = both([a, b], jobs_file, args.connections * 2, offset, args.requests)
            offset += args.requests
            print(
                f"   round {n + 1}: ceiling {c.rate:,.0f} req/s; one node {one.rate:,.0f} acks/s"
                f" (ratio {one.rate / c.rate:.2f}, p99 {one.p(0.99):.1f} ms, {one.statuses});"
                f" two nodes {two.rate:,.0f} acks/s (ratio {two.rate / c.rate:.2f},"
                f" p99 {two.p(0.99):.1f} ms, {two.statuses})",
                flush=True,
            )
    finally:
        for server in (a, b, ceiling):
            server.stop()


async def send_due(
    url: str, codes: list[str], count: int, window_at: datetime, window: timedelta, apart: int
) -> None:
    """`count` reminders due on evenly spread instants of the window, `apart` countries a
    message, stored by a tracker whose timers never run (the nodes fire them)."""
    registry = synthetic_registry(len(codes), 2)
    store = await PostgresStore.open(url)
    clock = SystemClock()
    tracker = Tracker(
        store, registry, clock, TimerWheel(clock), Dispatcher(store, registry, clock, [])
    )
    drafts = TypeAdapter(MessageDraft)
    try:
        messages = count // apart
        step = window / messages

        async def send(i: int) -> None:
            to = [codes[1 + (i + j) % (len(codes) - 1)] for j in range(apart)]
            draft = drafts.validate_python(
                {"type": "test", "mode": "test", "to": to, "content": {"text": "due"}}
            )
            offset = max(window_at + step * i - clock.now(), timedelta(milliseconds=1))
            policy = AckPolicy(reminders=(offset,), give_up_after=timedelta(hours=2))
            await tracker.send(draft, policy=policy)

        for first in range(0, messages, SENDS):  # in due order, SENDS at a time
            await asyncio.gather(*(send(i) for i in range(first, min(first + SENDS, messages))))
    finally:
        await store.close()


async def lateness(url: str, since: datetime) -> list[tuple[float, float]]:
    """(due, late) in seconds of every reminder due after `since`."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT due_at, at FROM events WHERE kind = 'reminded' AND due_at >= $1",
            round(since.timestamp() * 1e6),
        )
    finally:
        await conn.close()
    return [(r[0] / 1e6, (r[1] - r[0]) / 1e6) for r in rows]


async def duplicates(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        total = await conn.fetchval(
            "SELECT count(*) FROM events WHERE kind IN ('reminded', 'escalated', 'gave_up')"
        )
        twice = await conn.fetchval(
            "SELECT count(*) FROM (SELECT 1 FROM events WHERE kind IN"
            " ('reminded', 'escalated', 'gave_up') GROUP BY kind, message_id, country, poc,"
            " due_at HAVING count(*) > 1) d"
        )
    finally:
        await conn.close()
    return int(total), int(twice)


def timers(args: argparse.Namespace, url: str, contacts: Path, codes: list[str]) -> None:
    a, b = start_node(url, contacts), start_node(url, contacts)
    try:
        window = timedelta(seconds=10)
        window_at = datetime.now(UTC) + timedelta(seconds=args.lead)
        t = time.perf_counter()
        asyncio.run(send_due(url, codes, args.reminders, window_at, window, 10))
        sent_s = time.perf_counter() - t
        time.sleep(max(0.0, (window_at + window - datetime.now(UTC)).total_seconds()) + 3)
        late = [x for _, x in asyncio.run(lateness(url, window_at))]
        overlap = " (the sending overlapped the window)" if sent_s > args.lead else ""
        print(
            f"   {len(late):,} of {args.reminders:,} reminders due within 10 s on two nodes"
            f" (stored in {sent_s:.1f} s{overlap}): lateness p50"
            f" {percentile(late, 0.5) * 1e3:.1f} ms, p99 {percentile(late, 0.99) * 1e3:.1f} ms,"
            f" max {max(late) * 1e3:.1f} ms; target p99 <= 50 ms",
            flush=True,
        )

        window = timedelta(seconds=20)
        window_at = datetime.now(UTC) + timedelta(seconds=args.lead / 2)
        asyncio.run(send_due(url, codes, 1000, window_at, window, 4))  # an instant per 80 ms
        kill_at = max(window_at + timedelta(seconds=5), datetime.now(UTC) + timedelta(seconds=1))
        time.sleep((kill_at - datetime.now(UTC)).total_seconds())
        killed = datetime.now(UTC)
        os.kill(a.process.pid, signal.SIGKILL)
        a.process.wait()
        time.sleep(max(0.0, (window_at + window - datetime.now(UTC)).total_seconds()) + 2)
        after = sorted(asyncio.run(lateness(url, killed)))
        first = min(due + late for due, late in after) - killed.timestamp()
        in_lease = [late for due, late in after if due <= killed.timestamp() + LEASE_S]
        print(
            f"   failover: SIGKILL of node A; node B stored the first step due after it"
            f" {first * 1e3:.0f} ms after the kill; steps due in the {LEASE_S} s after it:"
            f" worst lateness {max(in_lease) * 1e3:.0f} ms (n={len(in_lease)});"
            f" target <= lease + 1 s = {LEASE_S + 1} s",
            flush=True,
        )
        total, twice = asyncio.run(duplicates(url))
        print(f"   duplicates: {twice} of {total:,} chase steps stored more than once (target 0)")
    finally:
        a.stop()
        b.stop()


def main(args: argparse.Namespace) -> None:
    banner("pg_nodes: several `ians serve` on one PostgreSQL database")
    schema = f"bench_{os.getpid()}"
    asyncio.run(admin(args.db, f"CREATE SCHEMA {schema}"))
    url = f"{args.db}?search_path={schema}"
    codes = country_codes(args.countries)
    contacts = Path(tempfile.mkdtemp(prefix="ians-bench-contacts-"))
    (contacts / "synthetic.yaml").write_text(registry_yaml(codes, 2))
    try:
        print(f"   database {args.db}, schema {schema}; {args.countries} countries x 2 PoCs")
        if not args.skip_acks:
            acks(args, url, contacts, codes)
        timers(args, url, contacts, codes)
    finally:
        asyncio.run(admin(args.db, f"DROP SCHEMA {schema} CASCADE"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--countries", type=int, default=101, help="countries (2 PoCs each)")
    parser.add_argument("--requests", type=int, default=6_000, help="acks per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--connections", type=int, default=64, help="per load process")
    parser.add_argument("--reminders", type=int, default=20_000)
    parser.add_argument("--lead", type=float, default=40.0, help="seconds before the window")
    parser.add_argument("--skip-acks", action="store_true")
    main(parser.parse_args())

"""Durable acknowledgement throughput through the real API, against a bare aiohttp ceiling.

Both servers run in this process on the same event loop as the load generator: 64
worker coroutines over one ClientSession (TCPConnector(limit=64)).

* ceiling: a bare aiohttp app with one POST handler on the same path that validates the
  body with the `AckBody` model (pydantic TypeAdapter) and renders an `AckView`, no storage;
* IANS: the real app (create_app) on a SQLite file with synchronous=FULL; each request is
  the first acknowledgement of a distinct (message, PoC) delivery, answered after its
  commit. Afterwards the database is reopened and every acknowledgement is looked up.

Run: .venv/bin/python bench/ack_throughput.py [--countries 2000] [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web
from common import (
    ADMIN_TOKEN,
    CpuShare,
    banner,
    bearer,
    client,
    early_warning,
    issue_tokens,
    percentile,
    poc_id,
    run,
    serving,
    synthetic_registry,
    tmp_db,
)
from pydantic import TypeAdapter

from ians.store.sqlite import SqliteStore
from ians.web.app import AppConfig, create_app
from ians.web.http import render
from ians.web.keys import tracker_key
from ians.web.views import AckBody, AckView

CONNECTIONS = 64
WARMUP = 2_000
TIME_CAP_S = 30.0  # over all rounds, per server
NOTE = b'{"note": "received by the duty officer"}'


@dataclass
class Job:
    path: str
    headers: dict[str, str]
    body: bytes
    key: tuple[str, str] = ("", "")


@dataclass
class Run:
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of the main thread (event loop + load generator)
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    ok: list[tuple[str, str]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def busy(self) -> float:
        """Share of the run's wall time the event-loop thread was on a CPU."""
        return self.cpu_seconds / self.seconds if self.seconds else 0.0

    @property
    def cpu_us(self) -> float:
        """Event-loop thread CPU per request, server and client, in microseconds."""
        return self.cpu_seconds / len(self.latencies) * 1e6 if self.latencies else 0.0

    def add(self, other: Run) -> None:
        self.seconds += other.seconds
        self.cpu_seconds += other.cpu_seconds
        self.latencies += other.latencies
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        self.ok += other.ok


async def drive(base: str, jobs: list[Job], time_cap_s: float | None = None) -> Run:
    """Send `jobs` over 64 connections with 64 workers; stop taking jobs after the cap."""
    result = Run()
    queue = iter(jobs)
    async with client(CONNECTIONS) as session:
        start, cpu = time.perf_counter(), time.thread_time()
        deadline = start + time_cap_s if time_cap_s else float("inf")

        async def worker() -> None:
            for job in queue:  # one shared iterator: each job is taken once
                if time.perf_counter() > deadline:
                    return
                sent = time.perf_counter()
                async with session.post(
                    base + job.path, data=job.body, headers=job.headers
                ) as response:
                    await response.read()
                    status = response.status
                result.latencies.append(time.perf_counter() - sent)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status == 200:
                    result.ok.append(job.key)

        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        result.seconds = time.perf_counter() - start
        result.cpu_seconds = time.thread_time() - cpu
    return result


def ceiling_app() -> web.Application:
    adapter = TypeAdapter(AckBody)

    async def acknowledge(request: web.Request) -> web.Response:
        body = await request.read()
        adapter.validate_json(body if body.strip() else b"{}")
        return render(AckView(acknowledged_at=datetime.now(UTC)))

    app = web.Application()
    app.router.add_post("/api/messages/{message_id}/ack", acknowledge)
    return app


class CommitCounter:
    """Counts the store's group commits (reads its writer's counters; bench only)."""

    def __init__(self, store: object) -> None:
        self._commits = store._commits  # type: ignore[attr-defined]
        self.reset()

    @property
    def commits(self) -> int:
        return int(self._commits.transactions) - self._base[0]

    @property
    def items(self) -> int:
        return int(self._commits.writes) - self._base[1]

    def reset(self) -> None:
        self._base = (self._commits.transactions, self._commits.writes)


def report(name: str, r: Run) -> None:
    print(
        f"   {name}: {len(r.latencies)} requests in {r.seconds:.2f} s = {r.rate:,.0f} req/s;"
        f" latency p50 {percentile(r.latencies, 0.5) * 1e3:.1f} ms,"
        f" p99 {percentile(r.latencies, 0.99) * 1e3:.1f} ms,"
        f" max {max(r.latencies) * 1e3:.1f} ms; statuses {r.statuses}"
    )
    print(
        f"      event-loop thread: {r.busy:.0%} busy, {r.cpu_us:.0f} us CPU per request"
        " (server + client)"
    )


async def main(args: argparse.Namespace) -> None:
    banner("ack_throughput: durable POST /api/messages/{id}/ack, 64 connections")
    t = time.perf_counter()
    registry = synthetic_registry(args.countries + 1, 1, via_yaml=True)
    sender, *recipients = registry.countries
    print(f"   registry: {registry!r} loaded from YAML in {time.perf_counter() - t:.1f} s")
    needed = WARMUP + args.requests
    messages = -(-needed // len(recipients))
    db = tmp_db("ack")
    config = AppConfig(
        registry=registry, db=str(db), admin_token=ADMIN_TOKEN, synchronous=args.synchronous
    )
    print(f"   SQLite synchronous={args.synchronous}")
    app = create_app(config)
    async with serving(app) as base:
        # setup: PoC tokens issued by the admin, then early warnings to every recipient
        t = time.perf_counter()
        async with client(CONNECTIONS) as session:
            tokens = await issue_tokens(session, base, [poc_id(c, 1) for c in recipients])
            ids = []
            for _ in range(messages):
                async with session.post(
                    f"{base}/api/messages",
                    headers=bearer(ADMIN_TOKEN),
                    json=early_warning(sender, recipients),
                ) as response:
                    body = await response.json()
                    if response.status != 201:
                        raise RuntimeError(f"sending failed: {response.status} {body}")
                    ids.append(body["id"])
        await app[tracker_key].dispatcher.drain()  # other channels' deliveries: not part of acks
        print(
            f"   setup: {len(tokens)} tokens, {len(ids)} early warnings ="
            f" {len(ids) * len(recipients):,} deliveries in {time.perf_counter() - t:.1f} s"
        )
        rng = random.Random(1)
        keys = [(m, poc_id(c, 1)) for m in ids for c in recipients]
        rng.shuffle(keys)
        jobs = [
            Job(
                f"/api/messages/{m}/ack",
                {**bearer(tokens[p]), "Content-Type": "application/json"},
                NOTE if i % 4 == 0 else b"{}",
                (m, p),
            )
            for i, (m, p) in enumerate(keys[:needed])
        ]

        # Rounds alternate the ceiling (same loop, same client, same requests, no storage)
        # and IANS (real endpoint, each request the first ack of a distinct delivery), so
        # that load from other processes on the machine hits both alike.
        counter = CommitCounter(app[tracker_key].store)
        share = CpuShare(helpers=(app[tracker_key].store._commits.pid,))
        async with serving(ceiling_app()) as bare:
            await drive(bare, jobs[:WARMUP])
            warm = await drive(base, jobs[:WARMUP])
            counter.reset()
            share.reset()
            ceiling, ians, ratios = Run(), Run(), []
            size = -(-args.requests // args.rounds)
            for r in range(args.rounds):
                chunk = jobs[WARMUP + r * size : WARMUP + (r + 1) * size]
                cap = TIME_CAP_S / args.rounds
                before = (counter.commits, counter.items)
                if r % 2 == 0:
                    c = await drive(bare, chunk, cap)
                    i = await drive(base, chunk, cap)
                else:
                    i = await drive(base, chunk, cap)
                    c = await drive(bare, chunk, cap)
                ceiling.add(c)
                ians.add(i)
                ratios.append(i.rate / c.rate)
                commits = counter.commits - before[0]
                per = (counter.items - before[1]) / max(commits, 1)
                print(
                    f"   round {r + 1}: ceiling {c.rate:,.0f} req/s, IANS {i.rate:,.0f} acks/s"
                    f" ({commits} commits, {per:.1f} acks each; loop {i.busy:.0%} busy,"
                    f" {i.cpu_us:.0f} vs {c.cpu_us:.0f} us CPU per request),"
                    f" ratio {ratios[-1]:.2f}"
                )
        commits, per_commit = counter.commits, counter.items / max(counter.commits, 1)
        cpu = str(share)  # while the writer process is there to be read
    print("   results over all rounds:")
    report("ceiling (bare aiohttp + AckBody validation)", ceiling)
    report("IANS ack (token, state change, event, commit)", ians)
    print(
        f"   IANS {ians.rate:,.0f} acks/s vs ceiling {ceiling.rate:,.0f} req/s: ratio"
        f" {ians.rate / ceiling.rate:.2f}, median of rounds {statistics.median(ratios):.2f}"
        " (target >= 0.70)"
    )
    print(f"   group commits during the IANS rounds: {commits}, {per_commit:.1f} writes each")
    print(f"   {cpu}")

    # durability: reopen the database and look every 200-answered ack up
    acked = set(warm.ok) | set(ians.ok)
    store = await SqliteStore.open(db)
    try:
        stored = set()
        acknowledged_chases = 0
        for m in ids:
            stored |= {
                (d.message_id, d.poc)
                for d in await store.deliveries(m)
                if d.acknowledged_at is not None
            }
            acknowledged_chases += sum(c.acknowledged_at is not None for c in await store.chases(m))
    finally:
        await store.close()
    print(
        f"   after reopening: {len(acked & stored):,} of {len(acked):,} acks answered 200 are"
        f" stored as acknowledged ({len(stored - acked)} stored without a 200;"
        f" {acknowledged_chases:,} chases acknowledged)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--countries", type=int, default=2000, help="recipient countries")
    parser.add_argument("--requests", type=int, default=20_000, help="measured acks")
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="alternations of ceiling and IANS over the measured requests",
    )
    parser.add_argument(
        "--synchronous",
        choices=["FULL", "NORMAL"],
        default="FULL",
        help="FULL (the default): an ack survives a power loss; NORMAL: only a crash",
    )
    arguments = parser.parse_args()
    run(lambda: main(arguments))

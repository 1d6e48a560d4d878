"""Durable acknowledgement throughput of `ians serve`, measured from outside, against a
bare aiohttp ceiling measured the same way in the same run.

Three kinds of process, none sharing an event loop with another:

* IANS: `python -m ians serve` on a SQLite file (synchronous=FULL), with its writer
  process; each request is the first acknowledgement of a distinct (message, PoC)
  delivery, answered 200 only after its commit;
* the ceiling: bench/ack_ceiling.py, a bare aiohttp app on uvloop whose one handler
  reads the body, validates it with `AckBody` and renders an `AckView`, storing nothing;
* the load: bench/load_client.py, raw HTTP/1.1 keep-alive requests on 64 (then 256)
  connections, started anew for every round.

Rounds alternate the ceiling and IANS (same requests, same client), so that load from
other processes on the machine hits both alike. Each round prints both rates, the
ratio, p50/p99 and the CPU per request of every process; CPU is read from /proc.
Registry: 500 countries x 2 PoCs (AAA sends early warnings to the other 499), 25% of
the bodies carry a note.

Durability: a last IANS round is cut short by SIGKILL of the server and its writer
process; the server is started again on the same database and every acknowledgement
that was answered 200, in any round, is looked up through the API.

Run: .venv/bin/python bench/ack_throughput.py [--requests 10000] [--rounds 4]
     [--connections 64,256]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pickle
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    ADMIN_TOKEN,
    HOST,
    ROOT,
    banner,
    bearer,
    client,
    country_codes,
    early_warning,
    issue_tokens,
    percentile,
    poc_id,
    registry_yaml,
    tmp_db,
)

BENCH = Path(__file__).resolve().parent
NOTE = b'{"note": "received by the duty officer"}'
HZ = os.sysconf("SC_CLK_TCK")
ROUND_CAP_S = 15.0
KILL_AFTER_S = 0.5


# --- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads) so far, in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        times = stat.read().rsplit(")", 1)[1].split()
    return (int(times[11]) + int(times[12])) / HZ


def threads_cpu_s(pid: int) -> float:
    """CPU seconds of a process's threads other than its main one (the writer's checkpoints)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        if int(task) != pid:
            with contextlib.suppress(OSError):
                with open(f"/proc/{pid}/task/{task}/stat") as stat:
                    times = stat.read().rsplit(")", 1)[1].split()
                total += int(times[11]) + int(times[12])
    return total / HZ


def machine_busy_s() -> float:
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / HZ


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(x) for x in f.read().split()]


def wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("server did not become healthy")


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    helpers: dict[str, int] = field(default_factory=dict)  # name → pid, e.g. the writer

    def pids(self) -> dict[str, int]:
        return {"server": self.process.pid, **self.helpers}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_ians(db: Path, contacts: Path, port: int, synchronous: str) -> Server:
    env = {**os.environ, "IANS_ADMIN_TOKEN": ADMIN_TOKEN, "IANS_SYNCHRONOUS": synchronous}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), str(ROOT)]))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ians",
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--db",
            str(db),
            "--contacts",
            str(contacts),
        ],
        env=env,
        # not the repository root: `-m` puts the working directory ahead of PYTHONPATH,
        # so a copy named there would lose to this checkout's ians
        cwd=db.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_healthy(port, process)
    writers = children(process.pid)
    return Server("IANS", port, process, {"writer": writers[0]} if writers else {})


def start_ceiling(port: int) -> Server:
    process = subprocess.Popen(
        [sys.executable, str(BENCH / "ack_ceiling.py"), str(port)], stdout=subprocess.DEVNULL
    )
    wait_healthy(port, process)
    return Server("ceiling", port, process)


# --- a round -------------------------------------------------------------------------------


@dataclass
class Round:
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    ok: list[int] = field(default_factory=list)
    lost: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # process → CPU seconds
    others_s: float = 0.0  # CPU seconds of every other process on the machine
    checkpoints_s: float = 0.0  # of the writer's CPU, its checkpoint thread's

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def us_per_request(self, process: str) -> float:
        return self.cpu.get(process, 0.0) / max(len(self.latencies), 1) * 1e6

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1e3

    def add(self, other: Round) -> None:
        self.seconds += other.seconds
        self.latencies += other.latencies
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        self.ok += other.ok
        self.lost += other.lost
        for k, v in other.cpu.items():
            self.cpu[k] = self.cpu.get(k, 0.0) + v
        self.others_s += other.others_s
        self.checkpoints_s += other.checkpoints_s


def drive(
    server: Server,
    jobs_file: Path,
    connections: int,
    first: int,
    count: int,
    kill_after: float | None = None,
) -> Round:
    """One round of the load process against `server`, with the CPU each process used."""
    load = subprocess.Popen(
        [
            sys.executable,
            str(BENCH / "load_client.py"),
            str(server.port),
            str(connections),
            str(jobs_file),
            str(first),
            str(count),
            str(ROUND_CAP_S),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert load.stdin is not None and load.stdout is not None
    if load.stdout.readline().strip() != "ready":
        raise RuntimeError("the load process did not connect")
    pids = server.pids()
    before = {name: cpu_s(pid) for name, pid in pids.items()}
    if "writer" in pids:
        before["checkpoints"] = threads_cpu_s(pids["writer"])
    busy, wall = machine_busy_s(), time.monotonic()
    load.stdin.write("go\n")
    load.stdin.flush()
    if kill_after is not None:
        time.sleep(kill_after)
        for pid in pids.values():
            os.kill(pid, signal.SIGKILL)
    line = load.stdout.readline()
    wall = time.monotonic() - wall
    cpu = {}
    if kill_after is None:
        cpu = {name: cpu_s(pid) - before[name] for name, pid in pids.items()}
        if "writer" in pids:
            cpu["checkpoints"] = threads_cpu_s(pids["writer"]) - before["checkpoints"]
    busy = machine_busy_s() - busy
    load.wait()
    out = json.loads(line)
    cpu["client"] = out["cpu_seconds"]
    checkpoints = cpu.pop("checkpoints", 0.0)  # a part of the writer's, shown apart
    return Round(
        requests=len(out["latencies"]),
        seconds=out["seconds"],
        latencies=out["latencies"],
        statuses={int(k): v for k, v in out["statuses"].items()},
        ok=out["ok"],
        lost=out["lost"],
        cpu=cpu,
        checkpoints_s=checkpoints,
        others_s=max(0.0, busy - sum(cpu.values())) * (out["seconds"] / max(wall, 1e-9)),
    )


def cpu_line(r: Round, processes: Sequence[str]) -> str:
    parts = [f"{p} {r.us_per_request(p):.0f}" for p in processes]
    if "writer" in processes:
        checkpoints = r.checkpoints_s / max(len(r.latencies), 1) * 1e6
        parts[processes.index("writer")] += f" (checkpoints {checkpoints:.0f})"
    return " + ".join(parts)


def round_line(n: int, connections: int, c: Round, i: Round) -> str:
    return (
        f"   {connections:>3} conns, round {n}: ceiling {c.rate:,.0f} req/s"
        f" (p50 {c.p(0.5):.1f} / p99 {c.p(0.99):.1f} ms),"
        f" IANS {i.rate:,.0f} acks/s (p50 {i.p(0.5):.1f} / p99 {i.p(0.99):.1f} ms),"
        f" ratio {i.rate / c.rate:.2f}; us CPU/request: ceiling"
        f" {cpu_line(c, ('server', 'client'))}, IANS"
        f" {cpu_line(i, ('server', 'writer', 'client'))};"
        f" others {(c.others_s + i.others_s) / (c.seconds + i.seconds):.2f} cores"
    )


# --- setup ---------------------------------------------------------------------------------


async def setup(port: int, codes: list[str], messages: int) -> tuple[dict[str, str], list[str]]:
    """Tokens for the recipients' first PoCs and `messages` early warnings from codes[0]."""
    base = f"http://{HOST}:{port}"
    sender, recipients = codes[0], codes[1:]
    async with client(64) as session:
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
    return tokens, ids


def wait_delivered(db: Path, expected: int, timeout: float = 120) -> None:
    """Until the background `delivered` events of the setup are stored (not part of acks)."""
    deadline = time.monotonic() + timeout
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        while time.monotonic() < deadline:
            (n,) = conn.execute("SELECT count(*) FROM events WHERE kind = 'delivered'").fetchone()
            if n >= expected:
                return
            time.sleep(0.2)
    raise RuntimeError("the setup's deliveries were not recorded in time")


def request_bytes(message_id: str, token: str, body: bytes) -> bytes:
    return (
        f"POST /api/messages/{message_id}/ack HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def acknowledged_after_restart(port: int, ids: list[str]) -> set[tuple[str, str]]:
    """(message, country) of every chase acknowledged, read through the restarted API."""
    found: set[tuple[str, str]] = set()
    async with client(8) as session:
        for m in ids:
            async with session.get(
                f"http://{HOST}:{port}/api/messages/{m}", headers=bearer(ADMIN_TOKEN)
            ) as response:
                body = await response.json()
            found |= {(m, r["country"]) for r in body["recipients"] if r["acknowledged_by"]}
    return found


# --- the benchmark ---------------------------------------------------------------------------


def main(args: argparse.Namespace) -> None:
    banner("ack_throughput: durable POST /api/messages/{id}/ack, measured from a load process")
    levels = [int(x) for x in args.connections.split(",")]
    codes = country_codes(args.countries)
    recipients = codes[1:]
    contacts = Path(tempfile.mkdtemp(prefix="ians-bench-contacts-"))
    (contacts / "synthetic.yaml").write_text(registry_yaml(codes, 2))
    needed = args.warmup + len(levels) * args.rounds * args.requests + args.requests
    messages = -(-needed // len(recipients))
    db = tmp_db("ack")
    ians = start_ians(db, contacts, free_port(), args.synchronous)
    ceiling = start_ceiling(free_port())
    try:
        t = time.perf_counter()
        tokens, ids = asyncio.run(setup(ians.port, codes, messages))
        wait_delivered(db, len(ids) * len(recipients))
        print(
            f"   registry: {args.countries} countries x 2 PoCs; setup: {len(tokens)} tokens,"
            f" {len(ids)} early warnings = {len(ids) * len(recipients):,} deliveries in"
            f" {time.perf_counter() - t:.1f} s; SQLite synchronous={args.synchronous}"
        )
        rng = random.Random(1)
        keys = [(m, c) for m in ids for c in recipients]
        rng.shuffle(keys)
        keys = keys[:needed]
        jobs = [
            request_bytes(m, tokens[poc_id(c, 1)], NOTE if n % 4 == 0 else b"{}")
            for n, (m, c) in enumerate(keys)
        ]
        jobs_file = Path(tempfile.mkdtemp(prefix="ians-bench-jobs-")) / "jobs.pickle"
        jobs_file.write_bytes(pickle.dumps(jobs))

        answered: list[int] = []  # job indices answered 200 by IANS
        drive(ceiling, jobs_file, levels[0], 0, args.warmup)
        warm = drive(ians, jobs_file, levels[0], 0, args.warmup)
        answered += warm.ok
        offset = args.warmup
        totals: dict[int, tuple[Round, Round, list[float]]] = {}
        for connections in levels:
            c_all, i_all, ratios = Round(), Round(), []
            for n in range(args.rounds):
                if n % 2 == 0:
                    c = drive(ceiling, jobs_file, connections, offset, args.requests)
                    i = drive(ians, jobs_file, connections, offset, args.requests)
                else:
                    i = drive(ians, jobs_file, connections, offset, args.requests)
                    c = drive(ceiling, jobs_file, connections, offset, args.requests)
                offset += args.requests
                answered += i.ok
                c_all.add(c)
                i_all.add(i)
                ratios.append(i.rate / c.rate)
                print(round_line(n + 1, connections, c, i), flush=True)
            totals[connections] = (c_all, i_all, ratios)

        print("   results (all rounds of each level):")
        for connections, (c, i, ratios) in totals.items():
            print(
                f"   {connections:>3} connections: IANS {i.rate:,.0f} acks/s vs ceiling"
                f" {c.rate:,.0f} req/s = ratio {i.rate / c.rate:.2f} (rounds"
                f" {min(ratios):.2f}-{max(ratios):.2f}, median {statistics.median(ratios):.2f});"
                f" target >= {0.7 if connections == 64 else 0.85}"
            )
            print(
                f"      latency p50/p99/max: IANS {i.p(0.5):.1f} / {i.p(0.99):.1f} /"
                f" {max(i.latencies) * 1e3:.1f} ms, ceiling {c.p(0.5):.1f} / {c.p(0.99):.1f} /"
                f" {max(c.latencies) * 1e3:.1f} ms; statuses IANS {i.statuses},"
                f" ceiling {c.statuses}"
            )
            print(
                f"      us CPU per request: IANS {cpu_line(i, ('server', 'writer', 'client'))}"
                f" = {sum(i.cpu.values()) / len(i.latencies) * 1e6:.0f};"
                f" ceiling {cpu_line(c, ('server', 'client'))}"
                f" = {sum(c.cpu.values()) / len(c.latencies) * 1e6:.0f};"
                f" busy: IANS server {i.cpu['server'] / i.seconds:.0%},"
                f" writer {i.cpu.get('writer', 0) / i.seconds:.0%},"
                f" ceiling server {c.cpu['server'] / c.seconds:.0%};"
                f" other processes {(c.others_s + i.others_s) / (c.seconds + i.seconds):.2f} cores"
            )

        # durability: kill -9 the server and its writer mid-round, restart, look every 200 up
        cut = drive(ians, jobs_file, levels[0], offset, args.requests, kill_after=KILL_AFTER_S)
        answered += cut.ok
        ians.process.wait()
        ians = start_ians(db, contacts, ians.port, args.synchronous)
        stored = asyncio.run(acknowledged_after_restart(ians.port, ids))
        acked = {keys[j] for j in answered}
        sent = set(keys[: offset + cut.requests + cut.lost])
        print(
            f"   kill -9 of the server and its writer {KILL_AFTER_S} s into a round"
            f" ({cut.requests} answered, {cut.lost} cut off); after the restart"
            f" {len(acked & stored):,} of {len(acked):,} acks answered 200 are stored"
            f" as acknowledged ({len(acked - stored)} missing;"
            f" {len((stored - acked) & sent)} stored without a 200)"
        )
    finally:
        ians.stop()
        ceiling.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--countries", type=int, default=500, help="countries (2 PoCs each)")
    parser.add_argument("--requests", type=int, default=10_000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per connection count")
    parser.add_argument("--warmup", type=int, default=3_000, help="warm-up requests per server")
    parser.add_argument("--connections", default="64,256", help="connection counts, in order")
    parser.add_argument(
        "--synchronous",
        choices=["FULL", "NORMAL"],
        default="FULL",
        help="FULL (the default): an ack survives a power loss; NORMAL: only a crash",
    )
    main(parser.parse_args())

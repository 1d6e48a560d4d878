"""A load generator in its own process: raw HTTP/1.1 keep-alive requests on N connections.

Started by ack_throughput.py, not by hand:
    python bench/load_client.py PORT CONNECTIONS JOBS FIRST COUNT CAP_S

JOBS is a pickled list of complete HTTP requests (bytes); this process sends
JOBS[FIRST:FIRST+COUNT], each once, one at a time per connection, for at most CAP_S
seconds. It connects every connection, prints `ready`, waits for a line on stdin, runs,
and prints one JSON line: the wall and CPU seconds of the run, each request's latency
and status, the indices answered 200, and how many requests lost their connection.

Each connection is an asyncio Protocol that parses only the status line and the
Content-Length: a few microseconds a request, so the server, not the client, is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import pickle
import re
import resource
import sys
import time

_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


class Load:
    def __init__(self, jobs: list[bytes], first: int, count: int, cap_s: float) -> None:
        self.jobs = jobs
        self.next = first
        self.end = min(first + count, len(jobs))
        self.cap_s = cap_s
        self.deadline = float("inf")
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.ok: list[int] = []
        self.lost = 0
        self.open = 0
        self.done = asyncio.get_running_loop().create_future()

    def take(self) -> int | None:
        if self.next >= self.end or time.perf_counter() > self.deadline:
            return None
        self.next += 1
        return self.next - 1

    def closed(self) -> None:
        self.open -= 1
        if self.open == 0 and not self.done.done():
            self.done.set_result(None)


class Connection(asyncio.Protocol):
    def __init__(self, load: Load) -> None:
        self.load = load
        self.buffer = b""
        self.need = -1  # bytes of the whole response once its headers are in
        self.job: int | None = None
        self.sent = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def start(self) -> None:
        self.send_next()

    def send_next(self) -> None:
        assert self.transport is not None
        self.job = self.load.take()
        if self.job is None:
            self.transport.close()
            return
        self.sent = time.perf_counter()
        self.transport.write(self.load.jobs[self.job])

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.need < 0:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                found = _LENGTH.search(self.buffer, 0, end + 2)
                self.need = end + 4 + (int(found.group(1)) if found else 0)
            if len(self.buffer) < self.need:
                return
            status = int(self.buffer[9:12])
            self.buffer = self.buffer[self.need :]
            self.need = -1
            load = self.load
            load.latencies.append(time.perf_counter() - self.sent)
            load.statuses[status] = load.statuses.get(status, 0) + 1
            if status == 200:
                load.ok.append(self.job)  # type: ignore[arg-type]
            self.job = None
            self.send_next()
            if self.job is None:
                return

    def connection_lost(self, exc: Exception | None) -> None:
        if self.job is not None:
            self.load.lost += 1
            self.job = None
        self.load.closed()


def _no_wakeup_preemption() -> None:
    """SCHED_BATCH (Linux), as the store's writer process: a response that wakes this
    process does not preempt the server that sent it on its core. A remote client costs
    the server nothing of the kind; the same holds for the ceiling and for IANS."""
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_BATCH"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


async def main(argv: list[str], jobs: list[bytes]) -> None:
    port, connections = int(argv[0]), int(argv[1])
    _no_wakeup_preemption()
    load = Load(jobs, int(argv[3]), int(argv[4]), float(argv[5]))
    loop = asyncio.get_running_loop()
    protocols = []
    for _ in range(connections):
        _, protocol = await loop.create_connection(lambda: Connection(load), "127.0.0.1", port)
        protocols.append(protocol)
    load.open = connections
    gc.collect()
    gc.disable()  # no collector pauses in the measured run
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    load.deadline = start + load.cap_s
    for protocol in protocols:
        protocol.start()
    await load.done
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = after.ru_utime - cpu.ru_utime + after.ru_stime - cpu.ru_stime
    result = {
        "seconds": seconds,
        "cpu_seconds": cpu_s,
        "latencies": load.latencies,
        "statuses": load.statuses,
        "ok": load.ok,
        "lost": load.lost,
    }
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        uvloop = None  # type: ignore[assignment]
    with asyncio.Runner(loop_factory=uvloop.new_event_loop if uvloop else None) as runner:
        with open(sys.argv[3], "rb") as file:
            requests: list[bytes] = pickle.load(file)
        runner.run(main(sys.argv[1:], requests))

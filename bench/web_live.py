"""Live pages under load: 500 open dashboards (SSE streams, held by a separate process)
while 5,000 acknowledgements arrive, against the same acks with no stream open; and the
inbox page of a PoC with 1,000 messages.

Figures: for each ack, the time from its 200 to its event's arrival on the last of the
streams (p50/p99/max; the arrival time of a chunk of the stream is that of every event
in it), events missing; ack throughput with the streams open against without (rounds
without, with, without: the ratio is to the mean of the two without); the inbox's render
time (p50/p99) through `GET /inbox`. `ians serve` runs in its own process, as do the
streams; the acks come from this one, 64 connections.

    .venv/bin/python bench/web_live.py [--streams 500] [--acks 5000] [--inbox 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
import zlib
from pathlib import Path

import aiohttp
from ack_throughput import cpu_s, free_port, machine_busy_s, start_ians, wait_healthy
from common import (
    ADMIN_TOKEN,
    HOST,
    banner,
    bearer,
    client,
    country_codes,
    early_warning,
    issue_tokens,
    percentile,
    poc_id,
    registry_yaml,
    run,
)

FORM_TOKEN = re.compile(rb'name="form_token" value="([^"]+)"')
EVENT = re.compile(rb"event: (chase-[^\n]+)\n")


async def session_cookie(base: str, token: str) -> str:
    """Sign in through the form, as a browser does; returns the session cookie's value."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(base + "/") as page:
            found = FORM_TOKEN.search(await page.read())
        assert found, "no sign-in form"
        form = {"token": token, "form_token": found[1].decode()}
        async with http.post(base + "/session", data=form, allow_redirects=False) as answer:
            if answer.status != 303:
                raise RuntimeError(f"sign-in failed: {answer.status}")
            return answer.cookies["ians_session"].value


# --- the streams' process ---------------------------------------------------------------------


async def watch(base: str, cookie: str, streams: int, expected: int, patience: float) -> None:
    """Hold `streams` dashboards open; print "ready", then, once every stream saw
    `expected` chase events (or `patience` seconds passed), print each event's latest arrival.

    Every stream carries the same bytes (each batch is compressed once and written to
    all): so only the first stream is decompressed and read, as a browser would, and
    tells at which byte of the stream each of the server's writes (HTTP chunks) ended
    and how many events had come by then; every other stream only notes when each write
    ended, at which byte. Each event's arrival on each stream follows, and the last
    stream's bytes are checked to be the first's. The measuring process thus takes as
    little of the machine's CPU from the server as it can."""
    got = [0] * streams  # bytes of the body read
    ends: list[list[tuple[int, float]]] = [[] for _ in range(streams)]  # (bytes, when)
    events_by: dict[int, int] = {}  # on the first stream: bytes -> events come with them
    names: list[bytes] = []
    raw = {0: bytearray(), streams - 1: bytearray()}
    target: list[int] = []  # the bytes the `expected`-th event ends at
    finished = [0]
    done = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    headers = {"Cookie": f"ians_session={cookie}", "Accept": "text/event-stream"}
    async with aiohttp.ClientSession(
        connector=connector, headers=headers, auto_decompress=False
    ) as http:
        responses = await asyncio.gather(
            *(
                http.get(base + "/dashboard/live", timeout=aiohttp.ClientTimeout())
                for _ in range(streams)
            )
        )
        gzip = responses[0].headers.get("Content-Encoding") == "gzip"
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        seen, tail = [0], b""

        def decode(piece: bytes) -> None:
            """The first stream's write as a browser reads it: count and name its events."""
            nonlocal tail
            data = tail + (decoder.decompress(piece) if decoder else piece)
            end = data.rfind(b"\n\n")
            cut = end + 2 if end >= 0 else 0
            tail = data[cut:]
            found = EVENT.findall(data, 0, cut)
            names.extend(found)
            seen[0] += len(found)
            events_by[got[0]] = seen[0]
            if seen[0] >= expected and not target:
                target.append(got[0])
                finished[0] = sum(g >= got[0] for g in got)

        async def write_of(n: int, response: aiohttp.ClientResponse) -> None:
            """Read one of the server's writes to the stream."""
            piece = bytearray()
            while True:
                data, end = await response.content.readchunk()
                if not data and not end:
                    raise EOFError(f"stream {n} ended")
                got[n] += len(data)
                piece += data
                if end:
                    break
            ends[n].append((got[n], time.time()))
            if n in raw:
                raw[n] += piece
            if n == 0:
                decode(bytes(piece))
            if target and got[n] >= target[0] > got[n] - len(piece):
                finished[0] += 1
            if target and finished[0] >= streams:
                done.set()

        for n, r in enumerate(responses):
            assert r.status == 200, r.status
            await write_of(n, r)  # the `retry:` line: the stream is live
        print("ready", flush=True)

        async def read(n: int, response: aiohttp.ClientResponse) -> None:
            while not done.is_set():
                await write_of(n, response)

        readers = [asyncio.create_task(read(n, r)) for n, r in enumerate(responses)]
        try:
            async with asyncio.timeout(patience):
                await done.wait()
        except TimeoutError:
            pass
        for task in readers:
            task.cancel()
    last = raw[streams - 1]
    assert last[: len(raw[0])] == raw[0][: len(last)], "the streams' bytes differ"
    latest = [0.0] * len(names)
    seen_by = []
    for stream in ends:
        arrival, k = [0.0] * len(names), 0
        for upto_bytes, at in stream:
            upto = min(events_by.get(upto_bytes, k), len(names))  # not a write's end: later
            arrival[k:upto] = [at] * (upto - k)
            k = max(k, upto)
        seen_by.append(k)
        latest = list(map(max, latest, arrival))
    by_name = {name.decode(): at for name, at in zip(names, latest, strict=True) if at}
    print(json.dumps({"latest": by_name, "seen": seen_by}))


# --- the orchestrator --------------------------------------------------------------------------


async def acknowledge(
    base: str, work: list[tuple[str, str, str]], connections: int
) -> tuple[float, dict[str, float]]:
    """Ack each (message, country, token); returns the wall time and each 200's time."""
    answered: dict[str, float] = {}
    pending = list(reversed(work))
    async with client(connections) as http:

        async def worker() -> None:
            while pending:
                message_id, country, token = pending.pop()
                url = f"{base}/api/messages/{message_id}/ack"
                async with http.post(url, headers=bearer(token)) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"ack: {response.status}")
                answered[f"chase-{message_id}-{country}"] = time.time()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return time.perf_counter() - started, answered


async def send(
    base: str, sender: str, to: list[str], count: int, mode: str = "exercise"
) -> list[str]:
    ids = []
    async with client(8) as http:
        for _ in range(count):
            async with http.post(
                f"{base}/api/messages",
                headers=bearer(ADMIN_TOKEN),
                json=early_warning(sender, to, mode),
            ) as response:
                body = await response.json()
                if response.status != 201:
                    raise RuntimeError(f"send: {response.status} {body}")
                ids.append(body["id"])
    return ids


def ms(values: list[float]) -> str:
    if not values:
        return "none"
    return (
        f"p50 {percentile(values, 0.5) * 1000:.1f} ms,"
        f" p99 {percentile(values, 0.99) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"
    )


async def main(args: argparse.Namespace) -> None:
    banner("live pages: SSE streams under acks, and the inbox page")
    countries = args.recipients + 1
    codes = country_codes(countries)
    sender, recipients = codes[0], codes[1:]
    per_round = args.acks // args.recipients  # messages each round acks, every country
    folder = Path(tempfile.mkdtemp(prefix="ians-bench-web-"))
    (folder / "contacts.yaml").write_text(registry_yaml(codes, 1))
    port = free_port()
    server = start_ians(folder / "ians.db", folder / "contacts.yaml", port, "FULL")
    base = f"http://{HOST}:{port}"
    try:
        wait_healthy(port, server.process)
        async with client(64) as http:
            tokens = await issue_tokens(http, base, [poc_id(c, 1) for c in recipients])
        ids = await send(base, sender, recipients, per_round * 3)
        rounds = [ids[i * per_round : (i + 1) * per_round] for i in range(3)]
        work = [[(m, c, tokens[poc_id(c, 1)]) for m in r for c in recipients] for r in rounds]
        cookie = await session_cookie(base, ADMIN_TOKEN)
        acks = len(work[0])
        print(f"   {acks} acks a round, {args.connections} connections; {args.streams} streams")

        def spent() -> tuple[float, float]:
            return cpu_s(server.process.pid), machine_busy_s()

        def cpu_line(before: tuple[float, float], wall: float, watcher_s: float = 0.0) -> str:
            ians_s, busy = (a - b for a, b in zip(spent(), before, strict=True))
            return (
                f"ians serve {ians_s / acks * 1e6:.0f} us of CPU an ack"
                f" ({ians_s / wall:.2f} cores);"
                + (f" the streams' process {watcher_s / wall:.2f} cores;" if watcher_s else "")
                + f" the machine {busy / wall:.2f} cores busy"
            )

        before = spent()
        bare_1, _ = await acknowledge(base, work[0], args.connections)
        print(f"   without streams: {acks / bare_1:,.0f} acks/s; {cpu_line(before, bare_1)}")

        watcher = await asyncio.create_subprocess_exec(
            *[sys.executable, __file__, "--watch", base, cookie, str(args.streams), str(acks)],
            stdout=asyncio.subprocess.PIPE,
        )
        assert watcher.stdout is not None
        line = (await watcher.stdout.readline()).decode()
        if line.strip() != "ready":
            raise RuntimeError(f"the streams did not open: {line!r}")
        before, watcher_before = spent(), cpu_s(watcher.pid)
        live_s, answered = await acknowledge(base, work[1], args.connections)
        watcher_s = cpu_s(watcher.pid) - watcher_before
        print(
            f"   with {args.streams} streams: {acks / live_s:,.0f} acks/s;"
            f" {cpu_line(before, live_s, watcher_s)}"
        )
        out, _ = await watcher.communicate()
        result = json.loads(out)
        latest: dict[str, float] = result["latest"]
        seen: list[int] = result["seen"]
        delays = [latest[k] - t for k, t in answered.items() if k in latest]
        missing = sum(acks - s for s in seen)
        print(f"   ack 200 -> event on the last of {args.streams} streams: {ms(delays)}")
        print(
            f"   events missing: {missing} of {acks * args.streams};"
            f" acks whose event reached no stream: {acks - len(delays)}"
        )

        before = spent()
        bare_2, _ = await acknowledge(base, work[2], args.connections)
        print(f"   without streams again: {acks / bare_2:,.0f} acks/s; {cpu_line(before, bare_2)}")
        bare = acks / ((bare_1 + bare_2) / 2)
        print(f"   throughput with streams / without: {acks / live_s / bare:.2f}")

        # the inbox of a PoC with `inbox` messages
        owner = recipients[0]
        have = per_round * 3
        await send(base, sender, [owner], args.inbox - have, mode="test")
        jar = aiohttp.CookieJar(unsafe=True)
        poc_cookie = await session_cookie(base, tokens[poc_id(owner, 1)])
        times = []
        size = 0
        async with aiohttp.ClientSession(
            cookie_jar=jar, headers={"Cookie": f"ians_session={poc_cookie}"}
        ) as http:
            for n in range(args.renders + 5):
                started = time.perf_counter()
                async with http.get(base + "/inbox") as page:
                    body = await page.read()
                    assert page.status == 200, page.status
                if n >= 5:  # the first few warm up
                    times.append(time.perf_counter() - started)
                size = len(body)
        print(
            f"   inbox page of a PoC with {args.inbox} messages ({size / 1024:.0f} KiB):"
            f" {ms(times)} over {args.renders} renders"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--acks", type=int, default=5000)
    parser.add_argument("--recipients", type=int, default=500)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--inbox", type=int, default=1000)
    parser.add_argument("--renders", type=int, default=100)
    parser.add_argument("--watch", nargs=4, metavar=("BASE", "COOKIE", "STREAMS", "EXPECTED"))
    parsed = parser.parse_args()
    if parsed.watch:
        base, cookie, streams, expected = parsed.watch
        run(lambda: watch(base, cookie, int(streams), int(expected), 120.0))
    else:
        run(lambda: main(parsed))

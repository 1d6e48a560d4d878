"""Webhook fan-out: 10,000 webhook notices (by default 10 early warnings, each to the
same 1,000 countries of one PoC each) delivered to a receiver in another process on
loopback, against a bare aiohttp client loop posting the same signed bodies to the same
kind of receiver in the same run. `--countries 10000 --messages 1` is one early warning
to 10,000 PoCs instead (each body then names all 10,000 countries: ~60 KB).

Three processes: this one (the HTTP client that sends the early warnings, and the bare
loop), the IANS server (bench/webhook_server.py: the real app, a synthetic registry of
N+1 countries with one PoC each whose webhook is the receiver, every secret stored,
e-mail off), and the receiver (bench/webhook_receiver.py: aiohttp on 127.0.0.1 that
answers 204, counts, and checks the first signatures with `standardwebhooks`). Each
round runs both, alternately, each against a fresh receiver:

- IANS: POST the early warnings one after the other; the time from the first POST until
  the receiver has every notice (each composed, its ack link signed, Standard-Webhooks
  signed, POSTed through the outbox, and its `delivered` event stored).
- bare: the same 10,000 bodies (composed beforehand the same way, each with its own ack
  link), each signed at its send (as IANS signs each attempt) and POSTed by a bare
  aiohttp loop over as many connections as IANS uses (64).

The ratio is bare time / IANS time (target >= 0.7).

Run: .venv/bin/python bench/webhooks.py [--countries 1000] [--messages 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

import aiohttp
from common import (
    ADMIN_TOKEN,
    CpuShare,
    banner,
    bearer,
    client,
    country_codes,
    early_warning,
    run,
    tmp_db,
)
from email_fanout import Child

from ians.channels.webhook import CONNECTIONS
from ians.domain.links import Claims, LinkSigner, Purpose
from ians.domain.messages import EarlyWarningContent, Message, MessageType, Mode
from ians.domain.webhooks import new_secret, secret_key, signed_headers, webhook_id
from ians.web.views import MessageOut


def total(args: argparse.Namespace) -> int:
    return int(args.countries * args.messages)


async def receiver(args: argparse.Namespace, secret: str) -> tuple[Child, str]:
    return await Child.start(
        "webhook_receiver.py", "--expect", str(total(args)), "--secret", secret
    )


def cpu_s(pid: int | str) -> float:
    """CPU seconds (user + system) used so far by the process and its child processes
    that are still running (the server's writer process)."""
    pids = [str(pid)]
    if pid != "self":
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as children:
                pids += children.read().split()
        except OSError:
            pass
    total_s = 0.0
    for each in pids:
        with open(f"/proc/{each}/stat") as stat:
            times = stat.read().rsplit(")", 1)[1].split()
        total_s += (int(times[11]) + int(times[12])) / os.sysconf("SC_CLK_TCK")
    return total_s


def done_line(line: str, count: int) -> tuple[float, float, int]:
    _, got, first, last, bad = line.split()
    assert int(got) == count, line
    return float(first), float(last), int(bad)


async def ians_round(
    args: argparse.Namespace, n: int, secret: str
) -> tuple[list[float], float, int, float]:
    """(each POST's time to its 201, time to the last notice received, bad signatures),
    from the first POST, and the CPU seconds the server and its writer process used
    meanwhile."""
    sink, receiver_port = await receiver(args, secret)
    db = tmp_db(f"webhooks-{n}")
    server, http_port = await Child.start(
        "webhook_server.py",
        "--countries", str(args.countries),
        "--db", str(db),
        "--receiver-port", receiver_port,
        "--secret", secret,
    )  # fmt: skip
    codes = country_codes(args.countries + 1)
    body = json.dumps(early_warning(codes[0], codes[1:])).encode()
    to_201s = []
    pid = server.process.pid
    try:
        cpu = cpu_s(pid)
        async with client(4) as session:
            started = time.time()
            for _ in range(args.messages):
                t = time.perf_counter()
                async with session.post(
                    f"http://127.0.0.1:{http_port}/api/messages",
                    data=body,
                    headers={**bearer(ADMIN_TOKEN), "Content-Type": "application/json"},
                ) as response:
                    to_201s.append(time.perf_counter() - t)
                    await response.read()
                    assert response.status == 201, response.status
        _, last, bad = done_line(await sink.line(600), total(args))
        return to_201s, last - started, bad, cpu_s(pid) - cpu
    finally:
        await server.stop()
        await sink.stop()


def composed(count: int, messages: int) -> list[tuple[str, str, bytes]]:
    """(path, webhook-id, body) of the notices IANS posts for `messages` early warnings to
    `count` PoCs, made the same way: the message as the API's JSON, each PoC's own ack
    link."""
    content = EarlyWarningContent.model_validate(early_warning("AAA", ["AAB"])["content"])
    codes = country_codes(count + 1)
    signer = LinkSigner([b"bench-link-key"])
    notices = []
    for m in range(messages):
        message = Message(
            id=f"ew-{m:016x}",
            type=MessageType.EARLY_WARNING,
            mode=Mode.EXERCISE,
            sender="AAA",
            to=codes[1:],
            sent_at=datetime.now(UTC),
            content=content,
        )
        out = MessageOut.of(message)
        as_json = out.__pydantic_serializer__.to_json(out, by_alias=True)
        expires = message.sent_at + timedelta(days=8)
        head = json.dumps({"type": "message", "timestamp": message.sent_at.isoformat()})
        for code in codes[1:]:
            poc = f"{code.lower()}-1"
            link = signer.sign(Claims(Purpose.ACK, message.id, poc, expires, "webhook"))
            body = (
                head[:-1].encode()
                + b',"data":{"message":'
                + as_json
                + b',"ack_url":"http://ians.bench/ack/'
                + link.encode()
                + b'"}}'
            )
            notices.append((f"/{poc}", webhook_id(len(notices) + 1, message.id), body))
    return notices


async def bare_round(
    args: argparse.Namespace, notices: list[tuple[str, str, bytes]], secret: str
) -> tuple[float, int, float]:
    """(time from the start of a bare aiohttp loop until the receiver had every notice,
    bad signatures, the loop's CPU seconds)."""
    sink, port = await receiver(args, secret)
    key = secret_key(secret)
    base = f"http://127.0.0.1:{port}"
    queue = list(reversed(notices))
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONNECTIONS))

    async def worker() -> None:
        while queue:
            path, msg_id, body = queue.pop()
            headers = {"Content-Type": "application/json"}
            headers |= signed_headers(key, msg_id, datetime.now(UTC), body)
            async with session.post(base + path, data=body, headers=headers) as response:
                await response.read()
                assert response.status == 204, response.status

    try:
        cpu = cpu_s("self")
        started = time.time()
        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        _, last, bad = done_line(await sink.line(600), len(notices))
        return last - started, bad, cpu_s("self") - cpu
    finally:
        await session.close()
        await sink.stop()


async def main(args: argparse.Namespace) -> None:
    banner(
        f"webhook fan-out: {args.messages} early warning(s) to {args.countries:,} PoCs each"
        f" by webhook, {total(args):,} notices, {CONNECTIONS} connections"
    )
    secret = new_secret()
    notices = composed(args.countries, args.messages)
    print(
        f"   {len(notices):,} notices composed for the bare loop,"
        f" {len(notices[0][2]):,} bytes each (the message names every recipient country)"
    )
    share = CpuShare()
    ratios, to_201s, ians_all, bare_all, cpu_ratios = [], [], [], [], []
    for n in range(1, args.rounds + 1):
        posts, last, bad, ians_cpu = await ians_round(args, n, secret)
        to_201 = statistics.median(posts)
        bare, bare_bad, bare_cpu = await bare_round(args, notices, secret)
        cpu_ratios.append(bare_cpu / ians_cpu)
        ratios.append(bare / last)
        to_201s.append(to_201)
        ians_all.append(last)
        bare_all.append(bare)
        count = total(args)
        print(
            f"   round {n}: IANS 201 in {to_201 * 1e3:.0f} ms (median), all {count:,}"
            f" received at {last:.2f} s ({count / last:,.0f}/s); bare loop"
            f" {bare:.2f} s ({count / bare:,.0f}/s); ratio {bare / last:.2f};"
            f" bad signatures among the first checked: IANS {bad}, bare {bare_bad}"
        )
        print(
            f"      CPU per notice: IANS server and writer {ians_cpu / count * 1e6:.0f} µs"
            f" (the 201s included), bare loop {bare_cpu / count * 1e6:.0f} µs;"
            f" ratio {bare_cpu / ians_cpu:.2f}; the {len(posts)} POSTs, one after the"
            f" other, took {sum(posts):.2f} s of the IANS round"
        )
    count = total(args)
    print(
        f"   all received: IANS median {statistics.median(ians_all):.2f} s"
        f" ({count / statistics.median(ians_all):,.0f}/s), bare median"
        f" {statistics.median(bare_all):.2f} s"
        f" ({count / statistics.median(bare_all):,.0f}/s);"
        f" ratio median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, target >= 0.7)"
    )
    print(
        f"   CPU per notice, bare / IANS: median {statistics.median(cpu_ratios):.2f}"
        f" (the load-independent view of the same work)"
    )
    print(f"   time to 201: median {statistics.median(to_201s) * 1e3:.0f} ms")
    print(f"   {share}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--countries", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    run(lambda: main(parser.parse_args()))

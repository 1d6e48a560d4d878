"""Webhook fan-out: one early warning to 10,000 PoCs, each with a webhook, delivered to a
receiver in another process on loopback, against a bare aiohttp client loop posting the
same signed bodies to the same kind of receiver in the same run.

Three processes: this one (the HTTP client that sends the early warning, and the bare
loop), the IANS server (bench/webhook_server.py: the real app, a synthetic registry of
10,001 countries with one PoC each whose webhook is the receiver, every secret stored,
e-mail off), and the receiver (bench/webhook_receiver.py: aiohttp on 127.0.0.1 that
answers 204, counts, and checks the first signatures with `standardwebhooks`). Each
round runs both, alternately, each against a fresh receiver:

- IANS: POST the early warning; the time from the POST until the receiver has all
  10,000 notices (each composed, its ack link signed, Standard-Webhooks signed, POSTed
  through the outbox, and its `delivered` event stored).
- bare: the same 10,000 bodies (composed beforehand the same way, each with its own ack
  link), each signed at its send (as IANS signs each attempt) and POSTed by a bare
  aiohttp loop over as many connections as IANS uses (64).

The ratio is bare time / IANS time (target >= 0.7).

Run: .venv/bin/python bench/webhooks.py [--countries 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
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


async def receiver(args: argparse.Namespace, secret: str) -> tuple[Child, str]:
    return await Child.start(
        "webhook_receiver.py", "--expect", str(args.countries), "--secret", secret
    )


def done_line(line: str, count: int) -> tuple[float, float, int]:
    _, got, first, last, bad = line.split()
    assert int(got) == count, line
    return float(first), float(last), int(bad)


async def ians_round(args: argparse.Namespace, n: int, secret: str) -> tuple[float, float, int]:
    """(time to the 201, time to the last notice received, bad signatures) from the POST."""
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
    try:
        async with client(4) as session:
            started = time.time()
            t = time.perf_counter()
            async with session.post(
                f"http://127.0.0.1:{http_port}/api/messages",
                data=body,
                headers={**bearer(ADMIN_TOKEN), "Content-Type": "application/json"},
            ) as response:
                to_201 = time.perf_counter() - t
                await response.read()
                assert response.status == 201, response.status
        _, last, bad = done_line(await sink.line(600), args.countries)
        return to_201, last - started, bad
    finally:
        await server.stop()
        await sink.stop()


def composed(count: int) -> list[tuple[str, str, bytes]]:
    """(path, webhook-id, body) of the notices IANS posts for one early warning to `count`
    PoCs, made the same way: the message as the API's JSON, and each PoC's own ack link."""
    content = EarlyWarningContent.model_validate(early_warning("AAA", ["AAB"])["content"])
    codes = country_codes(count + 1)
    message = Message(
        id="ew-0123456789abcdef",
        type=MessageType.EARLY_WARNING,
        mode=Mode.EXERCISE,
        sender="AAA",
        to=codes[1:],
        sent_at=datetime.now(UTC),
        content=content,
    )
    out = MessageOut.of(message)
    as_json = out.__pydantic_serializer__.to_json(out, by_alias=True)
    signer = LinkSigner([b"bench-link-key"])
    expires = message.sent_at + timedelta(days=8)
    notices = []
    for i, code in enumerate(codes[1:], start=1):
        poc = f"{code.lower()}-1"
        link = signer.sign(Claims(Purpose.ACK, message.id, poc, expires, "webhook"))
        head = json.dumps({"type": "message", "timestamp": message.sent_at.isoformat()})
        body = (
            head[:-1].encode()
            + b',"data":{"message":'
            + as_json
            + b',"ack_url":"http://ians.bench/ack/'
            + link.encode()
            + b'"}}'
        )
        notices.append((f"/{poc}", webhook_id(i, message.id), body))
    return notices


async def bare_round(
    args: argparse.Namespace, notices: list[tuple[str, str, bytes]], secret: str
) -> tuple[float, int]:
    """(time from the start of a bare aiohttp loop until the receiver had every notice,
    bad signatures)."""
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
        started = time.time()
        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        _, last, bad = done_line(await sink.line(600), len(notices))
        return last - started, bad
    finally:
        await session.close()
        await sink.stop()


async def main(args: argparse.Namespace) -> None:
    banner(
        f"webhook fan-out: one early warning to {args.countries:,} PoCs by webhook,"
        f" {CONNECTIONS} connections"
    )
    secret = new_secret()
    notices = composed(args.countries)
    print(
        f"   {len(notices):,} notices composed for the bare loop,"
        f" {len(notices[0][2]):,} bytes each (the message names every recipient country)"
    )
    share = CpuShare()
    ratios, to_201s, ians_all, bare_all = [], [], [], []
    for n in range(1, args.rounds + 1):
        to_201, last, bad = await ians_round(args, n, secret)
        bare, bare_bad = await bare_round(args, notices, secret)
        ratios.append(bare / last)
        to_201s.append(to_201)
        ians_all.append(last)
        bare_all.append(bare)
        print(
            f"   round {n}: IANS 201 in {to_201 * 1e3:.0f} ms, all {args.countries:,}"
            f" received at {last:.2f} s ({args.countries / last:,.0f}/s); bare loop"
            f" {bare:.2f} s ({args.countries / bare:,.0f}/s); ratio {bare / last:.2f};"
            f" bad signatures among the first checked: IANS {bad}, bare {bare_bad}"
        )
    print(
        f"   all received: IANS median {statistics.median(ians_all):.2f} s"
        f" ({args.countries / statistics.median(ians_all):,.0f}/s), bare median"
        f" {statistics.median(bare_all):.2f} s"
        f" ({args.countries / statistics.median(bare_all):,.0f}/s);"
        f" ratio median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, target >= 0.7)"
    )
    print(f"   time to 201: median {statistics.median(to_201s) * 1e3:.0f} ms")
    print(f"   {share}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--countries", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    run(lambda: main(parser.parse_args()))

"""E-mail fan-out: one early warning to 10,000 PoCs with e-mail on, against an SMTP sink.

Three processes: this one (the HTTP client that times the 201, and the bare loop), the
IANS server (bench/email_server.py: the real app, a synthetic registry of 10,001
countries with one addressed PoC each, e-mail on), and the sink (bench/email_sink.py:
aiosmtpd on 127.0.0.1 that accepts and counts). Each round runs both, alternately:

- IANS: POST the early warning; the time to the 201 (the message, its chases and its
  10,000 outbox rows are committed in one transaction before it), then the time until
  the sink has accepted all 10,000 e-mails, from the POST.
- bare: the same 10,000 e-mails (composed beforehand by the same composer, each with
  its own link and Message-ID) sent by a bare aiosmtplib loop over as many sessions as
  IANS uses, to a fresh sink; the time until the sink has accepted all of them.

The ratio is bare time / IANS time (target >= 0.8).

Run: .venv/bin/python bench/email_fanout.py [--countries 10000] [--rounds 3] [--connections 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiosmtplib
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

from ians.cap import MEDIA_TYPE, render_alert
from ians.channels.compose import Attachment, Envelope, envelope_bytes, render
from ians.domain.messages import EarlyWarningContent, Message, MessageType, Mode

HERE = Path(__file__).resolve().parent


class Child:
    """A benchmark process that prints `ready X` when up and ends when its stdin closes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, script: str, *args: str) -> tuple[Child, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / script),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(HERE.parent))},
        )
        child = cls(process)
        line = await child.line(120)
        if not line.startswith("ready"):
            raise RuntimeError(f"{script} did not start: {line!r}")
        return child, line.split()[1]

    async def line(self, within: float) -> str:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), within)
        return raw.decode().strip()

    async def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def ians_round(args: argparse.Namespace, n: int) -> tuple[float, float, float]:
    """(time to the 201, time to the first accepted e-mail, time to the last) in seconds."""
    sink, smtp_port = await Child.start("email_sink.py", "--expect", str(args.countries))
    db = tmp_db(f"email-fanout-{n}")
    server, http_port = await Child.start(
        "email_server.py",
        "--countries", str(args.countries),
        "--db", str(db),
        "--smtp-port", smtp_port,
        "--connections", str(args.connections),
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
        done = await sink.line(600)
        _, count, first, last = done.split()
        assert int(count) == args.countries
        return to_201, float(first) - started, float(last) - started
    finally:
        await server.stop()
        await sink.stop()


def composed(count: int) -> list[tuple[str, bytes]]:
    """The e-mails IANS sends for one early warning to `count` PoCs, made the same way,
    with the same CAP attachment (whose `addresses` name every recipient country)."""
    content = EarlyWarningContent.model_validate(early_warning("AAA", ["AAB"])["content"])
    message = Message(
        id="ew-0123456789abcdef",
        type=MessageType.EARLY_WARNING,
        mode=Mode.EXERCISE,
        sender="AAA",
        to=country_codes(count + 1)[1:],
        sent_at=datetime.now(UTC),
        content=content,
    )
    cap = Attachment(f"{message.id}.cap.xml", MEDIA_TYPE, render_alert(message))
    rendered = render(message, "Country AAA", False, attachments=[cap])
    out = []
    for i in range(count):
        to = f"p{i}@c{i}.example"
        out.append(
            (
                to,
                envelope_bytes(
                    rendered,
                    Envelope(
                        "IAN System <ians@secretariat.bench>",
                        to,
                        f"ack+n{i}@secretariat.bench",
                        f"<n{i}.{message.id}@secretariat.bench>",
                        f"http://ians.bench/ack/{'x' * 100}{i}",
                        message.sent_at,
                        message.id,
                        "exercise",
                    ),
                ),
            )
        )
    return out


async def bare_round(args: argparse.Namespace, mails: list[tuple[str, bytes]]) -> float:
    """Time from the start of a bare aiosmtplib loop until the sink accepted every mail."""
    sink, smtp_port = await Child.start("email_sink.py", "--expect", str(len(mails)))
    queue = list(reversed(mails))

    async def session() -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=int(smtp_port)) as smtp:
            while queue:
                to, data = queue.pop()
                await smtp.sendmail("ack@secretariat.bench", [to], data)

    try:
        started = time.time()
        await asyncio.gather(*(session() for _ in range(args.connections)))
        done = await sink.line(600)
        return float(done.split()[3]) - started
    finally:
        await sink.stop()


async def main(args: argparse.Namespace) -> None:
    banner(
        f"email fan-out: one early warning to {args.countries:,} PoCs by e-mail,"
        f" {args.connections} SMTP sessions"
    )
    mails = composed(args.countries)
    print(f"   {len(mails):,} e-mails composed for the bare loop, {len(mails[0][1]):,} bytes each")
    share = CpuShare()
    ratios, to_201s, ians_all, bare_all = [], [], [], []
    for n in range(1, args.rounds + 1):
        to_201, first, last = await ians_round(args, n)
        bare = await bare_round(args, mails)
        ratios.append(bare / last)
        to_201s.append(to_201)
        ians_all.append(last)
        bare_all.append(bare)
        print(
            f"   round {n}: IANS 201 in {to_201 * 1e3:.0f} ms, first e-mail accepted at"
            f" {first:.2f} s, all {args.countries:,} at {last:.2f} s"
            f" ({args.countries / last:,.0f}/s); bare loop {bare:.2f} s"
            f" ({args.countries / bare:,.0f}/s); ratio {bare / last:.2f}"
        )
    print(
        f"   time to 201: median {statistics.median(to_201s) * 1e3:.0f} ms,"
        f" max {max(to_201s) * 1e3:.0f} ms (target <= 500 ms)"
    )
    print(
        f"   all accepted: IANS median {statistics.median(ians_all):.2f} s, bare median"
        f" {statistics.median(bare_all):.2f} s; ratio median {statistics.median(ratios):.2f}"
        f" (min {min(ratios):.2f}, target >= 0.8)"
    )
    print(f"   {share}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--countries", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    run(lambda: main(parser.parse_args()))

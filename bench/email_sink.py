"""An SMTP sink for the e-mail benchmark, in a process of its own: aiosmtpd on 127.0.0.1
that accepts everything and counts. It prints `ready PORT`, then `done COUNT FIRST LAST`
(wall-clock times of the first and last accepted mail) when `--expect` mails are in.

Run by bench/email_fanout.py; alone: .venv/bin/python bench/email_sink.py --expect 10000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from common import run


class Counting:
    def __init__(self, expect: int, done: asyncio.Event) -> None:
        self.expect = expect
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.done = done

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        now = time.time()
        if self.count == 0:
            self.first = now
        self.count += 1
        self.last = now
        if self.count >= self.expect:
            self.done.set()
        return "250 2.0.0 Ok: queued"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def main(args: argparse.Namespace) -> None:
    done = asyncio.Event()
    handler = Counting(args.expect, done)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.bench", loop=loop), "127.0.0.1", args.port
    )
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    await done.wait()
    print(f"done {handler.count} {handler.first:.6f} {handler.last:.6f}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until told to end
    server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--expect", type=int, default=10_000)
    run(lambda: main(parser.parse_args()))

"""The IANS server for the e-mail benchmark, in a process of its own: the real app with a
synthetic registry (N+1 countries, one PoC each with an address) and e-mail on, pointed
at the sink. Prints `ready PORT` once it serves.

Run by bench/email_fanout.py.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

from aiohttp import web
from common import ADMIN_TOKEN, HOST, run, synthetic_registry

from ians.channels.config import ChannelsConfig, EmailConfig
from ians.web.app import AppConfig, create_app


async def main(args: argparse.Namespace) -> None:
    registry = synthetic_registry(args.countries + 1, 1, email=True)
    timeout = timedelta(seconds=15)
    channels = ChannelsConfig(
        "http://ians.bench",
        (timedelta(seconds=10), timedelta(minutes=1)),
        timeout,
        EmailConfig(
            smtp_host="127.0.0.1",
            smtp_port=args.smtp_port,
            starttls=False,
            username=None,
            password=None,
            connections=args.connections,
            sender="IAN System <ians@secretariat.bench>",
            reply_to="ack@secretariat.bench",
            inbound=None,
            public_url="http://ians.bench",
            timeout=timeout,
        ),
    )
    app = create_app(
        AppConfig(registry=registry, db=args.db, admin_token=ADMIN_TOKEN, delivery=channels)
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    print(f"ready {runner.addresses[0][1]}", flush=True)
    try:
        await asyncio.get_running_loop().run_in_executor(None, input)  # until told to end
    except EOFError:
        pass
    await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--countries", type=int, default=10_000)
    parser.add_argument("--db", required=True)
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=4)
    run(lambda: main(parser.parse_args()))

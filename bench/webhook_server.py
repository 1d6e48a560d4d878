"""The IANS server for the webhook benchmark, in a process of its own: the real app with a
synthetic registry (N+1 countries, one PoC each with a webhook at the receiver), every
PoC's secret stored beforehand (one secret for all, so the receiver can check them),
e-mail off. Prints `ready PORT` once it serves.

Run by bench/webhooks.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time
from datetime import timedelta

from aiohttp import web
from common import ADMIN_TOKEN, HOST, run, synthetic_registry

from ians.channels.config import ChannelsConfig
from ians.store.sqlite import SqliteStore
from ians.web.app import AppConfig, create_app


async def main(args: argparse.Namespace) -> None:
    registry = synthetic_registry(
        args.countries + 1, 1, webhook=f"http://127.0.0.1:{args.receiver_port}"
    )
    store = await SqliteStore.open(args.db)  # creates the schema
    await store.close()
    with sqlite3.connect(args.db) as conn:  # what POST …/webhook-secret stores, for all at once
        at = int(time.time() * 1e6)
        conn.executemany(
            "INSERT INTO webhook_secrets (poc, secret, issued_at) VALUES (?, ?, ?)",
            [(poc, args.secret, at) for poc in registry.pocs],
        )
    channels = ChannelsConfig(
        "http://ians.bench",
        (timedelta(seconds=10), timedelta(minutes=1)),
        timedelta(seconds=15),
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
    parser.add_argument("--receiver-port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    run(lambda: main(parser.parse_args()))

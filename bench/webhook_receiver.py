"""A webhook receiver for the webhook benchmark, in a process of its own: aiohttp on
127.0.0.1 that answers 204 to every POST and counts. It verifies the signature of the
first `--verify` requests with the `standardwebhooks` package (the bodies are the real
thing), prints `ready PORT`, then `done COUNT FIRST LAST BAD` (wall-clock times of the
first and last request, and how many verified requests failed) once `--expect` are in.

Run by bench/webhooks.py; alone: .venv/bin/python bench/webhook_receiver.py --secret whsec_…
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from aiohttp import web
from common import run
from standardwebhooks import Webhook, WebhookVerificationError


async def main(args: argparse.Namespace) -> None:
    done = asyncio.Event()
    hook = Webhook(args.secret)
    state = {"count": 0, "first": 0.0, "last": 0.0, "bad": 0}

    async def notice(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time()
        if state["count"] < args.verify:
            try:
                hook.verify(body, dict(request.headers), json_parse=False)
            except WebhookVerificationError:
                state["bad"] += 1
        if state["count"] == 0:
            state["first"] = now
        state["count"] += 1
        state["last"] = now
        if state["count"] >= args.expect:
            done.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{poc}", notice)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port)
    await site.start()
    print(f"ready {runner.addresses[0][1]}", flush=True)
    await done.wait()
    print(
        f"done {state['count']} {state['first']:.6f} {state['last']:.6f} {state['bad']}",
        flush=True,
    )
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until told to end
    await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--expect", type=int, default=10_000)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--verify", type=int, default=100)
    run(lambda: main(parser.parse_args()))

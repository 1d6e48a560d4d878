"""A real aiohttp receiver on 127.0.0.1 for the webhook tests: answers as scripted per path,
and verifies each request's signature with the independent `standardwebhooks` package."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Reply:
    """One scripted answer: a status, headers, and an event to hold the answer until set."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hold: asyncio.Event | None = None


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool  # the signature verified with the path's secret (standardwebhooks)
    why: str = ""

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def timestamp(self) -> int:
        return int(self.headers["webhook-timestamp"])


class Receiver:
    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}  # path → the secret its PoC was issued
        self.script: defaultdict[str, deque[Reply]] = defaultdict(deque)
        self.received: list[Received] = []
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for replies in self.script.values():
            for reply in replies:
                if reply.hold is not None:
                    reply.hold.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def answer(self, path: str, *replies: Reply | int) -> None:
        for reply in replies:
            self.script[path].append(reply if isinstance(reply, Reply) else Reply(reply))

    async def wait_for(self, count: int, path: str | None = None) -> list[Received]:
        """The first `count` requests (to `path`), waiting up to 10 s for them."""

        def arrived() -> list[Received]:
            return [r for r in self.received if path is None or r.path == path]

        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(arrived()) >= count), timeout=10
            )
        return arrived()[:count]

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        path = request.path
        headers = {k.lower(): v for k, v in request.headers.items()}
        verified, why = False, "no secret for this path"
        if path in self.secrets:
            try:
                Webhook(self.secrets[path]).verify(body, headers, json_parse=False)
                verified, why = True, ""
            except WebhookVerificationError as exc:
                why = str(exc)
        reply = self.script[path].popleft() if self.script[path] else Reply()
        async with self._arrived:
            self.received.append(Received(path, headers, body, verified, why))
            self._arrived.notify_all()
        if reply.hold is not None:
            await asyncio.wait_for(reply.hold.wait(), timeout=10)
        return web.Response(status=reply.status, headers=reply.headers, text="answer")


def json_of(received: Received) -> Any:
    import json

    return json.loads(received.body)

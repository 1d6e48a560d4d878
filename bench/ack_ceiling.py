"""The ceiling of ack_throughput.py: a bare aiohttp app in its own process, run like
`ians serve` (uvloop, the collector tuned, no access log), whose one handler does what
any JSON endpoint must (read the body, validate it with the `AckBody` model, render an
`AckView`) and stores nothing.

Started by ack_throughput.py:  python bench/ack_ceiling.py PORT
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import common  # noqa: F401  (puts this checkout of ians on the path where needed)
from aiohttp import web
from pydantic import TypeAdapter

from ians import runtime
from ians.web.http import render
from ians.web.views import AckBody, AckView


def ceiling_app() -> web.Application:
    adapter = TypeAdapter(AckBody)

    async def acknowledge(request: web.Request) -> web.Response:
        body = await request.read()
        adapter.validate_json(body if body.strip() else b"{}")
        return render(AckView(acknowledged_at=datetime.now(UTC)))

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/api/messages/{message_id}/ack", acknowledge)
    app.router.add_get("/api/health", health)
    return app


if __name__ == "__main__":
    runtime.prepare()  # as `ians serve`: uvloop, the collector tuned
    web.run_app(ceiling_app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)

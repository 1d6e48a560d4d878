"""The secretariat's dashboard: the exercises and messages in flight, each recipient
country's state, and the event stream that keeps it live.

`GET /dashboard` renders the state as it is; `GET /dashboard/live` is a stream of
Server-Sent Events (ians/live.py feeds it) that the page's htmx SSE extension swaps in:
a `message` event carries a newly sent message's section, a `chase-<message>-<country>`
event the new cells of that country's row. Each change is rendered once for all the
streams, which ians/web/streams.py writes to together. The
page works without JavaScript too: it is then as fresh as its last load.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ians.domain.chase import Chase
from ians.domain.messages import Message
from ians.live import Change, country_state
from ians.store import MessageQuery
from ians.web.browser import Viewer, guarded
from ians.web.keys import registry_key, tracker_key
from ians.web.poc_pages import about
from ians.web.render import fragment, macro, page
from ians.web.streams import Events, serve

RECENT = 25  # messages on the dashboard, newest first
_CACHE = 2048  # rendered changes kept (the dashboard's and the exercises' streams share them)


def chase_row(app: web.Application, chase: Chase) -> dict[str, Any]:
    country = app[registry_key].countries.get(chase.country)
    return {
        "chase": chase,
        "name": country.name if country else chase.country,
        "state": country_state(chase),
        "dom_id": f"c-{chase.message_id}-{chase.country}",
        "event": f"chase-{chase.message_id}-{chase.country}",
    }


def message_block(app: web.Application, message: Message, chases: list[Chase]) -> dict[str, Any]:
    return {**about(app, message), "rows": [chase_row(app, c) for c in chases]}


@guarded("admin")
async def dashboard(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    store = request.app[tracker_key].store
    messages = [m for m in await store.list_messages(MessageQuery(RECENT)) if not m.simulated]
    blocks = [message_block(request.app, m, await store.chases(m.id)) for m in messages]
    running = await store.exercises("running")
    sent = request.query.get("sent")  # back from the send form
    context = viewer.context(title="Dashboard", blocks=blocks, exercises=running, sent=sent)
    return page(request, "pages/dashboard.html", context)


def sse(event: str, html: str) -> bytes:
    data = "".join(f"data: {line}\n" for line in html.strip().splitlines())
    return f"event: {event}\n{data}\n".encode()


class Rendered:
    """Each change as the bytes of its events, rendered once for all the pages' streams
    (a change shows on the dashboard and on its exercise's page)."""

    def __init__(self) -> None:
        self._done: OrderedDict[int, bytes] = OrderedDict()
        self._cells: Callable[..., str] | None = None

    def of(self, app: web.Application, change: Change) -> bytes:
        cached = self._done.get(change.seq)
        if cached is not None:
            return cached
        if change.sent is not None:
            block = message_block(app, change.sent, list(change.chases))
            out = sse("message", fragment(app, "partials/dashboard_message.html", block))
        else:
            if self._cells is None:
                self._cells = macro(app, "partials/country_cells.html", "cells")
            cells = self._cells
            out = b"".join(
                sse(row["event"], cells(row["name"], row["state"], row["chase"], None))
                for row in (chase_row(app, c) for c in change.chases)
            )
        self._done[change.seq] = out
        if len(self._done) > _CACHE:
            self._done.popitem(last=False)
        return out


rendered_key = web.AppKey("rendered", Rendered)


@guarded("admin")
async def live_stream(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    app = request.app
    rendered = app[rendered_key]

    async def events(batches: list[tuple[Change, ...]]) -> bytes:
        return b"".join(rendered.of(app, c) for b in batches for c in b)

    async def channel() -> Events:
        return events

    return await serve(request, "dashboard", channel)


def add_dashboard(app: web.Application) -> None:
    app[rendered_key] = Rendered()
    app.router.add_get("/dashboard", dashboard)
    app.router.add_get("/dashboard/live", live_stream)

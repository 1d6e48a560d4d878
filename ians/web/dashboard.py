"""The secretariat's dashboard: the exercises and messages in flight, each recipient
country's state, and the event stream that keeps it live.

`GET /dashboard` renders the state as it is; `GET /dashboard/live` is a stream of
Server-Sent Events (ians/live.py feeds it) that the page's htmx SSE extension swaps in:
a `message` event carries a newly sent message's section, a `chase-<message>-<country>`
event the new row of that country. Each change is rendered once for every stream. The
page works without JavaScript too: it is then as fresh as its last load.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ians.domain.chase import Chase
from ians.domain.messages import Message
from ians.live import Change, country_state
from ians.store import MessageQuery
from ians.web.browser import Viewer, guarded
from ians.web.keys import registry_key, tracker_key
from ians.web.poc_pages import about
from ians.web.render import fragment, page

RECENT = 25  # messages on the dashboard, newest first
KEEPALIVE = 15.0  # seconds between comments on a quiet stream (proxies drop idle ones)
_CACHE = 2048  # rendered changes kept for the streams that are behind
_BATCH = 256  # changes in one write, about (whole batches are written)
_BATCHES = 64  # joined batches kept for the streams that are behind


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
    """Each change as the bytes of its events, rendered once for all the streams."""

    def __init__(self) -> None:
        self._done: OrderedDict[int, bytes] = OrderedDict()
        self._batches: OrderedDict[int, tuple[tuple[Change, ...], bytes]] = OrderedDict()

    def batch(self, app: web.Application, batch: tuple[Change, ...]) -> bytes:
        """A batch's events as one string of bytes, joined once for all the streams (every
        watcher gets the same tuple; it is kept with its bytes, so its id stays its own)."""
        kept = self._batches.get(id(batch))
        if kept is not None and kept[0] is batch:
            return kept[1]
        data = b"".join(self.of(app, c) for c in batch)
        self._batches[id(batch)] = (batch, data)
        if len(self._batches) > _BATCHES:
            self._batches.popitem(last=False)
        return data

    def of(self, app: web.Application, change: Change) -> bytes:
        cached = self._done.get(change.seq)
        if cached is not None:
            return cached
        if change.sent is not None:
            block = message_block(app, change.sent, list(change.chases))
            out = sse("message", fragment(app, "partials/dashboard_message.html", block))
        else:
            out = b"".join(
                sse(row["event"], fragment(app, "partials/country_row.html", row))
                for row in (chase_row(app, c) for c in change.chases)
            )
        self._done[change.seq] = out
        if len(self._done) > _CACHE:
            self._done.popitem(last=False)
        return out


@guarded("admin")
async def live_stream(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    rendered = request.app[_rendered_key]

    async def events(batches: list[tuple[Change, ...]]) -> bytes:
        return b"".join(rendered.batch(request.app, b) for b in batches)

    return await event_stream(request, events)


Events = Callable[[list[tuple[Change, ...]]], Awaitable[bytes]]
"""What a page's stream makes of the batches of changes that came together (b"": none)."""


async def event_stream(request: web.Request, events: Events) -> web.StreamResponse:
    """Server-Sent Events fed by the live bus: the batches waiting are handed to `events`
    together and what it makes of them written at once; a comment every KEEPALIVE seconds
    of quiet. Ends when the browser goes, or when its watch fell behind and was dropped
    (the page reconnects and shows the state afresh)."""
    live = request.app[tracker_key].live
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx: pass each event on at once
        }
    )
    watch = live.watch()
    try:
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        while not watch.lagged:
            try:
                async with asyncio.timeout(KEEPALIVE):
                    batches = [await watch.queue.get()]
            except TimeoutError:
                await response.write(b": still here\n\n")
                continue
            if watch.lagged:
                break
            # batches that queued up meanwhile go in the same write
            count = len(batches[0])
            while count < _BATCH and not watch.queue.empty():
                batches.append(watch.queue.get_nowait())
                count += len(batches[-1])
            data = await events(batches)
            if data:
                await response.write(data)
    except ConnectionResetError:
        pass  # the browser went away
    finally:
        live.unwatch(watch)
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


_rendered_key = web.AppKey("dashboard_rendered", Rendered)


def add_dashboard(app: web.Application) -> None:
    app[_rendered_key] = Rendered()
    app.router.add_get("/dashboard", dashboard)
    app.router.add_get("/dashboard/live", live_stream)

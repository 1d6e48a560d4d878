"""The live feed: the bus, what the tracker publishes after each commit, and the
dashboard's event stream on a real loopback server (another node's changes: tests/test_nodes.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiohttp import ClientResponse
from pydantic import TypeAdapter

from ians.clock import ManualClock
from ians.domain.chase import Via
from ians.domain.messages import MessageDraft
from ians.live import QUEUE, Change, Live, Watch, country_state
from ians.tracking import Tracker
from ians.web.keys import tracker_key
from tests.conftest import ADMIN_TOKEN, Api, early_warning
from tests.web.test_sessions import sign_in

draft = TypeAdapter(MessageDraft).validate_python


async def next_batch(watch: Watch) -> tuple[Change, ...]:
    async with asyncio.timeout(5):
        return await watch.queue.get()


async def next_change(watch: Watch) -> Change:
    """The next change, alone in its batch."""
    [change] = await next_batch(watch)
    return change


def states(change: Change) -> dict[str, str]:
    return {c.country: country_state(c) for c in change.chases}


async def test_each_watcher_gets_every_change_in_order() -> None:
    live = Live()
    one, two = live.watch(), live.watch()
    first = live.publish("ew-1", [])
    second = live.publish("ew-2", [])
    assert first.seq < second.seq
    for watch in (one, two):  # changes close together: one batch
        assert await next_batch(watch) == (first, second)
    live.unwatch(one)
    live.publish("ew-3", [])
    assert one.queue.empty() and (await next_change(two)).message_id == "ew-3"


async def test_a_watcher_that_falls_behind_is_dropped_and_nobody_waits() -> None:
    live = Live(gather=0)
    slow, quick = live.watch(), live.watch()
    for n in range(QUEUE + 1):  # publishing never waits, whatever the watchers do
        live.publish(f"ew-{n}", [])
        await next_batch(quick)  # a batch each
    assert slow.lagged and len(live) == 1
    seen = [c async for c in slow.changes()]
    assert seen == []  # its reader ends at once: the page reconnects and starts afresh
    idle = live.watch()  # one dropped with nothing queued is woken as well
    live._drop(idle)
    assert [c async for c in idle.changes()] == []


async def test_the_tracker_publishes_each_step_once_committed(
    tracker: Tracker, clock: ManualClock
) -> None:
    watch = tracker.live.watch()
    message, _ = await tracker.send(draft(early_warning()))
    sent = await next_change(watch)
    assert sent.sent == message and states(sent) == {"HUN": "sent", "ROU": "sent"}
    await tracker.acknowledge(message.id, "rou-1", via=Via.WEB)
    assert states(await next_change(watch)) == {"ROU": "acknowledged"}
    await tracker.acknowledge(message.id, "rou-1", via=Via.WEB)  # a repeat changes nothing
    clock.advance(timedelta(minutes=15))
    await tracker.timers.run_due()
    assert states(await next_change(watch)) == {"HUN": "reminded"}
    clock.advance(timedelta(minutes=15))
    await tracker.timers.run_due()
    assert states(await next_change(watch)) == {"HUN": "escalated"}
    assert watch.queue.empty()


async def read_until(stream: ClientResponse, wanted: str) -> str:
    """The stream's text up to and including the event whose first line is `wanted`."""
    text = ""
    async with asyncio.timeout(5):
        while True:
            line = (await stream.content.readline()).decode()
            text += line
            if line.strip() == wanted:
                while (line := (await stream.content.readline()).decode()).strip():
                    text += line
                return text


async def test_the_dashboard_stream_carries_each_change_as_html(api: Api) -> None:
    await sign_in(api, ADMIN_TOKEN)
    live = api.app[tracker_key].live
    stream = await api.client.get("/dashboard/live")
    assert stream.status == 200 and stream.content_type == "text/event-stream"
    assert await stream.content.readline() == b"retry: 2000\n"
    assert len(live) == 1
    sent = await api.json("POST", "/api/messages", json=early_warning(), status=201)
    section = await read_until(stream, "event: message")
    assert f"Message {sent['id']}" in section and 'sse-swap="chase-' in section
    assert all(line.startswith(("event:", "data:")) for line in section.strip().splitlines())
    await api.json("POST", f"/api/messages/{sent['id']}/ack", "rou-1")
    row = await read_until(stream, f"event: chase-{sent['id']}-ROU")
    assert 'data-state="acknowledged"' in row and "rou-1" in row
    stream.close()


async def test_the_stream_is_the_secretariats(api: Api) -> None:
    stream = await api.client.get("/dashboard/live", allow_redirects=False)
    assert stream.status == 303  # no session
    await sign_in(api, await api.token("hun-1"))
    assert (await api.client.get("/dashboard/live")).status == 403


async def test_with_nobody_watching_a_change_is_not_even_made() -> None:
    live = Live(gather=0)
    assert live.publish("ew-1", []) is None  # an ack's cost when no page is open
    watch = live.watch()
    told = live.publish("ew-2", [])
    assert told is not None and await next_change(watch) == told  # not ew-1: it never was

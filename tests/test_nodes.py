"""Several nodes in one process on one real PostgreSQL schema, each with its own store,
timers and injected clock: the sweep shares due steps, NOTIFY wakes the other node, a
poll covers a lost notification, notices are claimed for the lease, news crosses over."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from ians.clock import ManualClock
from ians.delivery import Dispatcher
from ians.domain import messages
from ians.domain.chase import EventKind
from ians.domain.contacts import Registry
from ians.domain.messages import MessageType, Mode
from ians.nodes import SWEEP, Nodes
from ians.scheduler import TimerWheel
from ians.store.postgres import PostgresStore
from ians.tracking import Tracker
from tests.conftest import TEST_POLICIES
from tests.test_restart import _pause

LEASE = timedelta(seconds=10)
NEVER = timedelta(hours=1)  # the poll: left to the test to call


@dataclass
class Node:
    store: PostgresStore
    timers: TimerWheel
    tracker: Tracker
    nodes: Nodes


async def _until(check: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, f"waited 10 s for {what}"
        await _pause()


@pytest.fixture
async def two(pg_url: str, registry: Registry, clock: ManualClock) -> AsyncIterator[list[Node]]:
    made: list[Node] = []
    for _ in range(2):
        store = await PostgresStore.open(pg_url, lease=LEASE)
        timers = TimerWheel(clock)
        tracker = Tracker(
            store, registry, clock, timers, Dispatcher(store, registry, clock, []), TEST_POLICIES
        )
        nodes = Nodes(store, clock, timers, tracker, poll=NEVER)
        await nodes.start()
        timers.start()
        made.append(Node(store, timers, tracker, nodes))
    yield made
    for node in made:
        await node.nodes.close()
        await node.tracker.dispatcher.drain()
        await node.store.close()


def draft() -> messages.TestDraft:
    return messages.TestDraft(
        type=MessageType.TEST,
        mode=Mode.TEST,
        to=["HUN", "ROU"],
        content=messages.TestContent(text="t"),
    )


async def test_a_step_armed_on_one_node_wakes_the_other_and_is_stored_once(
    two: list[Node], clock: ManualClock
) -> None:
    a, b = two
    message, chases = await a.tracker.send(draft())
    first_due = min(c.next_due_at for c in chases if c.next_due_at)
    await _until(lambda: b.timers.next_due() == first_due, "B's sweep armed by the NOTIFY")
    clock.advance(timedelta(hours=3))  # every reminder, escalation and the give-up are due
    await asyncio.gather(a.timers.run_due(), b.timers.run_due())  # both wake at once
    await asyncio.gather(a.nodes.drain(), b.nodes.drain())
    await asyncio.gather(a.timers.run_due(), b.timers.run_due())
    await asyncio.gather(a.nodes.drain(), b.nodes.drain())
    events = await a.store.events(message.id)
    steps = [
        (e.kind, e.country, e.poc, e.due_at) for e in events if e.kind is not EventKind.DELIVERED
    ]
    assert len(steps) == len(set(steps)), steps  # nothing twice
    assert sorted(c.status.value for c in await a.store.chases(message.id)) == [
        "gave_up",
        "gave_up",
    ]
    assert {(e.kind, e.country) for e in events if e.kind is EventKind.GAVE_UP} == {
        (EventKind.GAVE_UP, "HUN"),
        (EventKind.GAVE_UP, "ROU"),
    }


async def test_a_lost_notification_still_fires_on_the_poll(
    two: list[Node], clock: ManualClock
) -> None:
    a, b = two
    await b.store.drop_listening()  # as a dropped network would
    await _until(lambda: not b.store.listening(), "the listening connection closed")
    a.timers.shutdown()  # A stops waking: only B can take the step
    message, chases = await a.tracker.send(draft())
    assert b.timers.next_due() is None  # B heard nothing
    await b.nodes.poll()
    assert b.store.listening()  # the poll listens again
    assert b.timers.next_due() == min(c.next_due_at for c in chases if c.next_due_at)
    clock.advance(timedelta(minutes=15))
    await b.timers.run_due()
    await b.nodes.drain()
    reminded = [e for e in await b.store.events(message.id) if e.kind is EventKind.REMINDED]
    assert {e.country for e in reminded} == {"HUN", "ROU"}
    assert b.nodes.sweeps == 1


async def test_what_one_node_changes_reaches_the_live_pages_of_the_other(
    two: list[Node], clock: ManualClock
) -> None:
    a, b = two
    watch = b.tracker.live.watch()
    message, _ = await a.tracker.send(draft())
    sent = await asyncio.wait_for(watch.queue.get(), 10)
    assert sent.sent == message and {c.country for c in sent.chases} == {"HUN", "ROU"}
    await a.tracker.acknowledge(message.id, "rou-1")
    await a.tracker.acknowledge(message.id, "rou-1")  # a repeat is no news
    acked = await asyncio.wait_for(watch.queue.get(), 10)
    assert acked.sent is None and acked.message_id == message.id
    assert [(c.country, c.status.value, c.acknowledged_by) for c in acked.chases] == [
        ("ROU", "acknowledged", "rou-1")
    ]
    clock.advance(timedelta(minutes=15))
    await a.timers.run_due()  # HUN reminded on A
    stepped = await asyncio.wait_for(watch.queue.get(), 10)
    assert [(c.country, c.reminders) for c in stepped.chases] == [("HUN", 1)]
    assert watch.queue.empty()  # the repeated ack made none


async def test_a_notice_is_attempted_by_one_node_until_its_lease_runs_out(
    two: list[Node], clock: ManualClock
) -> None:
    a, b = two
    await a.store.set_channels([("rou-1", "email"), ("hun-1", "email")])
    await a.tracker.send(draft())
    now = clock.now()
    taken = await a.store.due_notices(now, 10)
    assert sorted(n.poc for n in taken) == ["hun-1", "rou-1"]
    assert await b.store.due_notices(now, 10) == []  # claimed by A
    assert await b.store.next_notice_due() == now + LEASE
    later = await b.store.due_notices(now + LEASE, 10)  # A died: its claims ran out
    assert sorted(n.id for n in later) == sorted(n.id for n in taken)


async def test_the_sweep_is_a_timer_of_its_own(two: list[Node]) -> None:
    a, _ = two
    await a.tracker.send(draft())
    await a.nodes.poll()
    assert a.timers.is_armed((SWEEP, 0))


async def test_a_second_store_on_the_schema_migrates_nothing(pg_url: str) -> None:
    first = await PostgresStore.open(pg_url)
    second = await PostgresStore.open(pg_url)  # a second node starting: schema in place
    await first.set_meta_value("k", "v")
    assert await second.meta_value("k") == "v"
    await first.close()
    await second.close()

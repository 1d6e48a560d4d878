"""Delivery channels with an in-memory double, and the timer wheel woken by APScheduler."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import TypeAdapter

from ians.clock import ManualClock
from ians.delivery import Dispatcher, Notice, NoticeKind
from ians.domain.chase import EventKind
from ians.domain.contacts import PointOfContact, Registry
from ians.domain.messages import MessageDraft
from ians.scheduler import RETRY_AFTER, TimerWheel
from ians.store.sqlite import SqliteStore
from ians.tracking import Tracker
from tests.conftest import TEST_POLICIES, early_warning

draft = TypeAdapter(MessageDraft).validate_python


class RecordingChannel:
    """Reaches PoCs with an email address; fails for the ones listed in `broken`."""

    name = "recording"

    def __init__(self, broken: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.delivered: list[Notice] = []
        self.broken = broken

    def reaches(self, poc: PointOfContact, notice: Notice) -> bool:
        return poc.email is not None or poc.id in self.broken

    async def deliver(self, notice: Notice, poc: PointOfContact) -> None:
        if poc.id in self.broken:
            raise ConnectionError("peer refused")
        self.delivered.append(notice)


async def test_every_channel_that_reaches_a_poc_delivers_and_is_recorded(
    store: SqliteStore, registry: Registry, clock: ManualClock
) -> None:
    channel = RecordingChannel(broken={"srb-2"})
    timers = TimerWheel(clock)
    dispatcher = Dispatcher(store, registry, clock, [channel])
    tracker = Tracker(store, registry, clock, timers, dispatcher, TEST_POLICIES)
    timers.start()
    message, _ = await tracker.send(draft(early_warning(sender="HUN", to=["SRB"])))
    clock.advance(timedelta(minutes=30))  # a reminder to srb-1, escalation to srb-2
    await timers.run_due()
    await dispatcher.drain()
    assert [(n.kind, n.poc) for n in channel.delivered] == [
        (NoticeKind.MESSAGE, "srb-1"),
        (NoticeKind.REMINDER, "srb-1"),
        (NoticeKind.REMINDER, "srb-1"),
    ]
    events = await store.events(message.id)
    delivered = [(e.poc, e.detail["channel"]) for e in events if e.kind is EventKind.DELIVERED]
    assert sorted(delivered) == [("srb-1", "inbox"), ("srb-1", "recording"), ("srb-2", "inbox")]
    failed = [e for e in events if e.kind is EventKind.DELIVERY_FAILED]
    assert [(e.poc, e.detail["error"]) for e in failed] == [("srb-2", "peer refused")]


async def test_apscheduler_wakes_the_wheel_when_a_timer_falls_due(clock: ManualClock) -> None:
    fired: asyncio.Queue[tuple[list[int], datetime]] = asyncio.Queue()

    async def on_due(ids: list[int], now: datetime) -> None:
        await fired.put((ids, now))

    wheel = TimerWheel(clock)
    wheel.handle("t", on_due)
    wheel.start(AsyncIOScheduler(timezone="UTC"))
    try:
        wheel.arm(("t", 1), clock.now() + timedelta(hours=1))
        wheel.arm(("t", 2), clock.now())  # due now: the scheduler wakes at once
        assert await asyncio.wait_for(fired.get(), 5) == ([2], clock.now())
        wheel.arm(("t", 3), clock.now() - timedelta(seconds=1))  # overdue, after a restart say
        assert (await asyncio.wait_for(fired.get(), 5))[0] == [3]
        assert wheel.next_due() == clock.now() + timedelta(hours=1)
        wheel.disarm(("t", 1))
        assert wheel.next_due() is None and len(wheel) == 0
    finally:
        wheel.shutdown()


async def test_a_rearmed_timer_fires_only_at_its_new_time(clock: ManualClock) -> None:
    seen: list[list[int]] = []

    async def on_due(ids: list[int], now: datetime) -> None:
        seen.append(ids)

    wheel = TimerWheel(clock)
    wheel.handle("t", on_due)
    wheel.start()
    wheel.arm(("t", 7), clock.now() + timedelta(minutes=1))
    wheel.arm(("t", 7), clock.now() + timedelta(minutes=5))
    clock.advance(timedelta(minutes=2))
    assert await wheel.run_due() == 0
    clock.advance(timedelta(minutes=3))
    assert await wheel.run_due() == 1
    assert seen == [[7]]


async def test_a_timer_falling_due_while_the_handler_runs_is_not_lost(
    clock: ManualClock,
) -> None:
    """APScheduler skips a job run while the previous run goes on (max_instances) and drops
    a skipped one-off job: a wake for a timer armed during a run must still happen."""
    from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_SUBMITTED

    scheduler = AsyncIOScheduler(timezone="UTC")
    wheel = TimerWheel(clock)
    fired: asyncio.Queue[list[int]] = asyncio.Queue()
    next_wake_tried = asyncio.Event()
    scheduler.add_listener(
        lambda _: next_wake_tried.set(), EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES
    )

    async def on_due(ids: list[int], now: datetime) -> None:
        await fired.put(ids)
        if ids == [1]:  # while this run goes on, timer 2 falls due
            next_wake_tried.clear()
            wheel.arm(("t", 2), clock.now())
            await asyncio.wait_for(next_wake_tried.wait(), 5)

    wheel.handle("t", on_due)
    wheel.start(scheduler)
    try:
        wheel.arm(("t", 1), clock.now())
        assert await asyncio.wait_for(fired.get(), 5) == [1]
        assert await asyncio.wait_for(fired.get(), 5) == [2]
    finally:
        wheel.shutdown()


async def test_timers_whose_handler_fails_are_tried_again(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[list[int]] = []

    async def flaky(ids: list[int], now: datetime) -> None:
        calls.append(ids)
        if len(calls) == 1:
            raise OSError("database or disk is full")

    wheel = TimerWheel(clock)
    wheel.handle("t", flaky)
    wheel.start()
    wheel.arm(("t", 1), clock.now())
    assert await wheel.run_due() == 1  # fails, and is armed again a little later
    assert "retrying" in caplog.text
    assert await wheel.run_due() == 0
    clock.advance(RETRY_AFTER)
    assert await wheel.run_due() == 1
    assert calls == [[1], [1]] and len(wheel) == 0

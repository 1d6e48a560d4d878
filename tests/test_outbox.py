"""The outbox's flow, on each backend: every notice attempted once; the next notices read
only once fewer than AT_ONCE are waiting (on PostgreSQL a read claims its notices for this
node), past the last one read; and a notice whose receiver hangs holds up no other, not
even those of a message sent after it."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

import pytest

from ians import outbox
from ians.clock import ManualClock
from ians.domain import messages
from ians.domain.messages import MessageType, Mode
from ians.domain.outbox import Answer, OutboxNotice
from ians.store.sqlite import SqliteStore
from ians.tracking import Tracker

Log = list[tuple[str, int | None]]


class Channel:
    """An external channel that takes a few turns of the loop per notice, and says when;
    the notices to PoCs in `held` are answered only once `release` is set."""

    name = "fake"

    def __init__(self, log: Log, held: frozenset[str] = frozenset()) -> None:
        self.log = log
        self.held = held
        self.release = asyncio.Event()
        self.answered = asyncio.Condition()

    async def deliver(self, notice: OutboxNotice) -> Answer:
        self.log.append(("start", notice.id))
        if notice.poc in self.held:
            await self.release.wait()
        for _ in range(3):
            await asyncio.sleep(0)
        async with self.answered:
            self.log.append(("end", notice.id))
            self.answered.notify_all()
        return Answer(True, "200 OK")

    async def idle(self) -> None:
        pass

    async def close(self) -> None:
        pass


async def send_tests(tracker: Tracker, clock: ManualClock, count: int) -> list[str]:
    """`count` tests to HUN and ROU (a notice to hun-1 and one to rou-1 each)."""
    sent = []
    for _ in range(count):
        message, _ = await tracker.send(
            messages.TestDraft(
                type=MessageType.TEST,
                mode=Mode.TEST,
                to=["HUN", "ROU"],
                content=messages.TestContent(text="t"),
            )
        )
        sent.append(message.id)
        clock.advance(timedelta(seconds=1))
    return sent


async def states(store: SqliteStore, sent: list[str], poc: str) -> set[str]:
    """The states of the messages' notices to `poc`."""
    return {n.state.value for m in sent for n in await store.notices(m) if n.poc == poc}


def limits(monkeypatch: pytest.MonkeyPatch, batch: int, at_once: int = outbox.AT_ONCE) -> None:
    monkeypatch.setattr(outbox, "BATCH", batch)
    monkeypatch.setattr(outbox, "AT_ONCE", at_once)


def outbox_of(
    store: SqliteStore, tracker: Tracker, clock: ManualClock, channel: Channel
) -> outbox.Outbox:
    retries = [timedelta(seconds=10)]
    return outbox.Outbox(store, clock, tracker.timers, tracker.dispatcher, [channel], retries)


def logged_reads(store: SqliteStore, log: Log, monkeypatch: pytest.MonkeyPatch) -> None:
    read = store.due_notices

    async def logged(now, limit, after=None):  # type: ignore[no-untyped-def]
        log.append(("read", None if after is None else after.id))
        found = await read(now, limit, after)
        log.extend(("got", n.id) for n in found)
        return found

    monkeypatch.setattr(store, "due_notices", logged)


async def test_each_notice_once_and_the_next_read_when_few_are_left_waiting(
    store: SqliteStore, tracker: Tracker, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits(monkeypatch, batch=3, at_once=2)
    log: Log = []
    logged_reads(store, log, monkeypatch)
    await store.set_channels([("hun-1", "fake"), ("rou-1", "fake")])
    sent = await send_tests(tracker, clock, 5)  # 10 notices: reads of 3, 3, 3 and 1
    box = outbox_of(store, tracker, clock, Channel(log))
    box.wake()
    await box.drain()
    started = [n for kind, n in log if kind == "start"]
    assert len(started) == 10 and len(set(started)) == 10
    ids = sorted(n for n in started if n is not None)
    reads = [(i, n) for i, (kind, n) in enumerate(log) if kind == "read"]
    assert [n for _, n in reads] == [None, ids[2], ids[5], ids[8], None]  # then from the start
    for i, _ in reads[1:-1]:
        got = sum(1 for kind, _ in log[:i] if kind == "got")
        handed_out = sum(1 for kind, _ in log[:i] if kind == "start")
        assert got - handed_out < 2  # fewer than AT_ONCE waiting
    in_flight = itertools.accumulate({"start": 1, "end": -1}.get(k, 0) for k, _ in log)
    assert max(in_flight) <= 2  # AT_ONCE at a time
    stored = [n for m in sent for n in await store.notices(m)]
    assert sorted(n.id for n in stored) == ids
    assert {(n.state.value, n.attempts) for n in stored} == {("delivered", 1)}


async def test_a_hanging_receiver_holds_up_no_other_notice(
    store: SqliteStore, tracker: Tracker, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits(monkeypatch, batch=4)
    log: Log = []
    await store.set_channels([("hun-1", "fake"), ("rou-1", "fake")])
    first = await send_tests(tracker, clock, 3)
    channel = Channel(log, held=frozenset({"hun-1"}))
    box = outbox_of(store, tracker, clock, channel)
    box.wake()
    later = await send_tests(tracker, clock, 2)  # while hun-1's attempts hang
    rou = {n.id for m in first + later for n in await store.notices(m) if n.poc == "rou-1"}

    async with channel.answered:  # every rou-1 notice, while hun-1's hang
        ended = channel.answered.wait_for(lambda: rou <= {n for k, n in log if k == "end"})
        await asyncio.wait_for(ended, 5)
    assert not any(kind == "end" and n not in rou for kind, n in log)
    async with asyncio.timeout(5):  # and their outcomes are stored, hun-1's still hanging
        while await states(store, first + later, "rou-1") != {"delivered"}:  # noqa: ASYNC110
            await asyncio.sleep(0)  # a turn of the loop: they are being stored
    assert await states(store, first + later, "hun-1") == {"pending"}  # still hanging
    channel.release.set()
    await box.drain()
    stored = [n for m in first + later for n in await store.notices(m)]
    assert len(stored) == 10
    assert {(n.state.value, n.attempts) for n in stored} == {("delivered", 1)}


class Racing(Channel):
    """Answers its first notice just as the outbox's second read returns: that worker
    leaves its loop in the same turn as the read's notices are queued."""

    def __init__(self, log: Log) -> None:
        super().__init__(log)
        self.second_read = asyncio.Event()
        self.answered_first = asyncio.Event()

    async def deliver(self, notice: OutboxNotice) -> Answer:
        self.log.append(("start", notice.id))
        if not self.answered_first.is_set():
            await self.second_read.wait()
            self.answered_first.set()  # wakes the read; this worker then has no notice left
        self.log.append(("end", notice.id))
        return Answer(True, "200 OK")


async def test_notices_read_as_the_last_worker_leaves_get_a_worker(
    store: SqliteStore, tracker: Tracker, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits(monkeypatch, batch=1, at_once=1)
    log: Log = []
    channel = Racing(log)
    read = store.due_notices
    reads = 0

    async def racing(now, limit, after=None):  # type: ignore[no-untyped-def]
        nonlocal reads
        reads += 1
        found = await read(now, limit, after)
        if reads == 2:
            channel.second_read.set()
            await channel.answered_first.wait()
        return found

    monkeypatch.setattr(store, "due_notices", racing)
    await store.set_channels([("hun-1", "fake"), ("rou-1", "fake")])
    sent = await send_tests(tracker, clock, 1)
    box = outbox_of(store, tracker, clock, channel)
    box.wake()
    await asyncio.wait_for(box.drain(), 5)
    stored = await store.notices(sent[0])
    assert {(n.state.value, n.attempts) for n in stored} == {("delivered", 1)}
    assert len(stored) == 2

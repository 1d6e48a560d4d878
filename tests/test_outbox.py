"""The outbox's bursts, on each backend: every notice attempted once, and the next burst
read while the last notices of one are being attempted (not sooner: on PostgreSQL a read
claims its notices for this node)."""

from __future__ import annotations

import asyncio
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
    """An external channel that takes a few turns of the loop per notice, and says when."""

    name = "fake"

    def __init__(self, log: Log) -> None:
        self.log = log

    async def deliver(self, notice: OutboxNotice) -> Answer:
        self.log.append(("start", notice.id))
        for _ in range(3):
            await asyncio.sleep(0)
        self.log.append(("end", notice.id))
        return Answer(True, "200 OK")

    async def idle(self) -> None:
        pass

    async def close(self) -> None:
        pass


async def test_each_notice_once_and_the_next_burst_read_as_the_last_of_one_goes_out(
    store: SqliteStore, tracker: Tracker, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "BURST", 3)
    log: Log = []
    read = store.due_notices

    async def logged(now, limit, after=None):  # type: ignore[no-untyped-def]
        log.append(("read", None if after is None else after.id))
        return await read(now, limit, after)

    monkeypatch.setattr(store, "due_notices", logged)
    await store.set_channels([("hun-1", "fake"), ("rou-1", "fake")])
    sent = []
    for _ in range(4):  # 8 notices: bursts of 3, 3 and 2
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
    box = outbox.Outbox(
        store, clock, tracker.timers, tracker.dispatcher, [Channel(log)], [timedelta(seconds=10)]
    )
    box.wake()
    await box.drain()
    started = [n for kind, n in log if kind == "start"]
    assert len(started) == 8 and len(set(started)) == 8
    ahead = [(i, n) for i, (kind, n) in enumerate(log) if kind == "read" and n is not None]
    ids = sorted(n for n in started if n is not None)
    assert [n for _, n in ahead] == [ids[2], ids[5], ids[7]]  # past each burst's last
    for i, last in ahead:
        before = {n for kind, n in log[:i] if kind == "start"}
        assert before == {n for n in started if n is not None and n <= last}  # all handed out
        assert ("end", last) in log[i:]  # and the last still being attempted
    stored = [n for m in sent for n in await store.notices(m)]
    assert sorted(n.id for n in stored) == ids
    assert {(n.state.value, n.attempts) for n in stored} == {("delivered", 1)}

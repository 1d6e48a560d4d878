"""The outbox: notices for external channels (e-mail, webhooks), attempted at once and
retried on the clock.

A step that notifies (a send, a reminder, an escalation, a consultation's invitation or
reminder) stores its notices in the transaction that records it (ians/store/outbox.py).
The outbox then attempts the due notices in bursts of up to BURST, AT_ONCE of each
channel at a time; a burst's outcomes are stored in one write while the next burst is
attempted, and that one is read while the last notices of the burst before it are (each
read starts past the last notice of the burst before, so no notice is attempted twice at
once). A temporary failure is tried again on the `delivery.retries` schedule of the
injected clock (divided by the speed of a scaled exercise; no sooner than a peer's
`Retry-After`), a permanent one (or the end of the schedule) is final and escalates the
country; a peer that says it is gone (HTTP 410) switches the PoC's channel off. Each
attempt's outcome is stored with its `delivered` or `delivery_failed` event in one
transaction. After a start, whatever is still pending is attempted again: a notice whose
outcome had not been stored before a crash is sent again with the same id
(`Message-ID`, `webhook-id`), so peers can drop the duplicate.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from ians.clock import Clock
from ians.delivery import Dispatcher, Notice, NoticeKind
from ians.domain.outbox import Answer, Attempt, OutboxNotice, retry_at
from ians.errors import IansError
from ians.scheduler import RETRY_AFTER, TimerWheel
from ians.store import Store

log = logging.getLogger(__name__)

OUTBOX = "outbox"
"""The timer kind of the outbox's next retry: `(OUTBOX, 0)`, one timer at the earliest."""
BURST = 1000  # notices attempted together, their outcomes stored in one transaction
AT_ONCE = 64  # notices of one channel attempted at a time (as many as its connections)
_NOT_TRIED = Answer(False, "not attempted")  # replaced by each notice's answer


class ExternalChannel(Protocol):
    name: str

    async def deliver(self, notice: OutboxNotice) -> Answer:
        """Attempt one notice; answers what the peer said, never raises for it."""

    async def idle(self) -> None:
        """The burst is over: release what it held (open sessions)."""

    async def close(self) -> None:
        """The server stops: release everything (sessions kept between bursts)."""


class Outbox:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        timers: TimerWheel,
        dispatcher: Dispatcher,
        channels: Sequence[ExternalChannel],
        retries: Sequence[timedelta],
    ) -> None:
        self._store = store
        self._clock = clock
        self._timers = timers
        self._dispatcher = dispatcher
        self._channels = {c.name: c for c in channels}
        self._retries = tuple(retries)
        self._speeds: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._closing = False
        self._recording: asyncio.Task[None] | None = None  # storing the last burst's outcomes
        self._upcoming: asyncio.Task[list[OutboxNotice]] | None = None  # reading the next
        timers.handle(OUTBOX, self._due)
        dispatcher.submitted.append(self.wake)

    async def recover(self) -> int:
        """Arm the next attempt of what was pending at the last stop; returns 1 if any."""
        due = await self._store.next_notice_due()
        if due is None:
            return 0
        self._timers.arm((OUTBOX, 0), due)
        return 1

    def wake(self) -> None:
        """Attempt what is due now, in the background (again after a running burst)."""
        if self._closing:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._run(), name="ians-outbox")

    async def drain(self) -> None:
        """Wait for the running burst and any it started (for tests)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
            await asyncio.sleep(0)  # a wake queued as the burst ended starts the next one

    async def close(self) -> None:
        """Stop after the notices being attempted; the rest resume at the next start."""
        self._closing = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in self._channels.values()))

    async def _due(self, args: list[int], now: datetime) -> None:
        self.wake()  # not awaited: a long burst must not hold up the other timers

    async def _run(self) -> None:
        try:
            while True:
                self._again = False
                if self._closing:
                    return
                if self._upcoming is None:  # nothing in flight (see below): from the earliest
                    due = await self._store.due_notices(self._clock.now(), BURST)
                else:
                    due = await self._upcoming
                    self._upcoming = None
                if due:
                    answers = await self._attempt(due, functools.partial(self._read_after, due[-1]))
                    await self._recorded()  # the burst before: one write in flight at most
                    self._recording = asyncio.create_task(self._record(due, answers))
                    continue
                if self._recording is not None:
                    await self._recorded()  # then from the earliest: retries may be due
                    continue
                if not self._again:
                    break
        except IansError:  # the store is closing or broken: the next start resumes
            log.exception("the outbox stopped; pending notices resume at the next start")
            return
        except Exception:  # a defect: try again shortly rather than never
            log.exception("an outbox burst failed; trying again in %s", RETRY_AFTER)
            self._timers.arm((OUTBOX, 0), self._clock.now() + RETRY_AFTER)
            return
        finally:
            upcoming, self._upcoming = self._upcoming, None
            if upcoming is not None:  # closing: what it read is attempted at the next start
                upcoming.cancel()
                await asyncio.gather(upcoming, return_exceptions=True)
            try:
                await self._recorded()
            except Exception:  # its notices are still pending: attempted again
                log.exception("storing the outcomes of a burst failed; they are attempted again")
            await asyncio.gather(*(c.idle() for c in self._channels.values()))
        due_at = await self._store.next_notice_due()
        if due_at is not None:
            self._timers.arm((OUTBOX, 0), due_at)
        if self._again:  # woken while closing the burst: go again once this task is done
            asyncio.get_running_loop().call_soon(self.wake)

    def _read_after(self, last: OutboxNotice) -> None:
        """Start reading the next burst: the notices past `last`, the last of the burst
        being attempted, so neither that burst's nor those of the one before it (earlier in
        the same order), whose outcomes may not be stored yet."""
        now = self._clock.now()
        self._upcoming = asyncio.create_task(self._store.due_notices(now, BURST, after=last))

    async def _recorded(self) -> None:
        """Wait until the outcomes of the last burst are stored (raises what storing did)."""
        recording, self._recording = self._recording, None
        if recording is not None:
            await recording

    async def _attempt(
        self, due: list[OutboxNotice], handed_out: Callable[[], None]
    ) -> list[Answer]:
        """Attempt every notice, AT_ONCE of each channel at a time, by as many workers
        (rather than a task per notice, each waiting for a connection). `handed_out` is
        called once the last notice is being attempted: the next burst is read meanwhile,
        while its notices (claimed by this node on PostgreSQL) wait one exchange at most."""
        answers: list[Answer] = [_NOT_TRIED] * len(due)
        queues: dict[str, deque[int]] = {}
        for i, notice in enumerate(due):
            queues.setdefault(notice.channel, deque()).append(i)
        left = len(due)

        async def work(queue: deque[int]) -> None:
            nonlocal left
            while queue:
                i = queue.popleft()
                left -= 1
                if left == 0:
                    handed_out()
                answers[i] = await self._deliver(due[i])

        await asyncio.gather(
            *(work(q) for q in queues.values() for _ in range(min(AT_ONCE, len(q))))
        )
        return answers

    async def _record(self, due: list[OutboxNotice], answers: list[Answer]) -> None:
        """Store the burst's outcomes in one write; escalate after final failures."""
        now = self._clock.now()
        attempts = []
        for notice, answer in zip(due, answers, strict=True):
            number = notice.attempts + 1
            again = None
            if not answer.delivered and not answer.permanent and not answer.gone:
                speed = await self._speed(notice)
                again = retry_at(self._retries, number, now, speed, answer.retry_after)
            attempts.append(
                Attempt(
                    notice.id,
                    number,
                    now,
                    answer.delivered,
                    answer.text,
                    answer.permanent or answer.gone,
                    again,
                    answer.gone,
                )
            )
            if not answer.delivered:
                log.warning(
                    "%s notice %d of %s to %s, attempt %d: %s%s",
                    notice.channel,
                    notice.id,
                    notice.message_id,
                    notice.poc,
                    number,
                    answer.text,
                    f" (again at {again:%H:%M:%S})" if again else " (final)",
                )
        escalations = await self._store.record_attempts(attempts)
        self._dispatcher.submit(
            [Notice(NoticeKind.MESSAGE, e.message_id, e.poc, e.country or "", e.at)
             for e in escalations if e.poc is not None]
        )  # fmt: skip

    async def _deliver(self, notice: OutboxNotice) -> Answer:
        channel = self._channels.get(notice.channel)
        if channel is None:
            return Answer(False, f"the {notice.channel} channel is off on this server")
        try:
            return await channel.deliver(notice)
        except Exception as exc:  # a bug in composing one notice must not stop the others
            log.exception("%s notice %d could not be attempted", notice.channel, notice.id)
            return Answer(False, f"IANS could not compose the notice: {exc}")

    async def _speed(self, notice: OutboxNotice) -> float:
        """The speed of the notice's exercise: retries run as fast as its chase."""
        if notice.message_id not in self._speeds:
            speed = 1.0
            message = await self._store.find_message(notice.message_id)
            exercise_id = message.exercise_id if message is not None else notice.message_id
            if exercise_id is not None:
                try:
                    speed = (await self._store.exercise(exercise_id)).speed
                except IansError:
                    speed = 1.0  # not an exercise's (a consultation id that is gone)
            self._speeds[notice.message_id] = speed
        return self._speeds[notice.message_id]

"""The outbox: notices for external channels (e-mail, webhooks), attempted at once and
retried on the clock.

A step that notifies (a send, a reminder, an escalation, a consultation's invitation or
reminder) stores its notices in the transaction that records it (ians/store/outbox.py).
The outbox reads the due notices, up to BATCH at a time, and keeps up to AT_ONCE of each
channel being attempted, each worker taking the next notice as soon as its last one is
answered: a receiver that hangs until the timeout holds up one worker, never the
notices behind it. The next notices are read once fewer than AT_ONCE are waiting, past
the last one read (so no notice is attempted twice at once; on PostgreSQL a read claims
its notices for this node, so they are claimed shortly before their attempt). Outcomes
are stored one write at a time: BATCH to a write while notices are waiting, as they come
once none are. A temporary failure is tried again on the `delivery.retries` schedule of
the injected clock (divided by the speed of a scaled exercise; no sooner than a peer's
`Retry-After`; its timer armed as the failure is stored), a permanent one (or the end
of the schedule) is final and escalates the country; a peer that says it is gone (HTTP
410) switches the PoC's channel off. Each attempt's outcome is stored with its
`delivered` or `delivery_failed` event in one transaction. After a start, whatever is
still pending is attempted again: a notice whose outcome had not been stored before a
crash is sent again with the same id (`Message-ID`, `webhook-id`), so peers can drop
the duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
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
BATCH = 1000  # notices read at once, and outcomes stored in one transaction
AT_ONCE = 64  # notices of one channel attempted at a time (as many as its connections)


class ExternalChannel(Protocol):
    name: str

    async def deliver(self, notice: OutboxNotice) -> Answer:
        """Attempt one notice; answers what the peer said, never raises for it."""

    async def idle(self) -> None:
        """Nothing is left to attempt: release what the channel held (open sessions)."""

    async def close(self) -> None:
        """The server stops: release everything (sessions kept while idle)."""


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
        self._closing = False
        self._more = False  # a read may find notices: woken, or the last read was full
        self._nudge = asyncio.Event()  # something changed that the run loop waits on
        self._last: OutboxNotice | None = None  # the last notice read: the next read's start
        self._waiting: dict[str, deque[OutboxNotice]] = {}  # read, by channel, in order
        # by channel, AT_ONCE at most; a worker is in its set while it attempts notices
        self._workers: dict[str, set[asyncio.Task[None]]] = {}
        self._answered: list[tuple[OutboxNotice, Answer]] = []  # their outcomes not stored
        self._recording: asyncio.Task[None] | None = None  # storing outcomes, one write
        self._record_failed: Exception | None = None  # raised in the run: it stops
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
        """Attempt what is due now, in the background (beside what is being attempted)."""
        if self._closing:
            return
        self._more = True
        self._nudge.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="ians-outbox")

    async def drain(self) -> None:
        """Wait until nothing is due or being attempted (for tests)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
            await asyncio.sleep(0)  # a wake queued as the run ended starts the next one

    async def close(self) -> None:
        """Stop after the notices being attempted; the rest resume at the next start."""
        self._closing = True
        self._nudge.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in self._channels.values()))

    async def _due(self, args: list[int], now: datetime) -> None:
        self.wake()  # not awaited: a long run must not hold up the other timers

    async def _run(self) -> None:
        """Read and hand out notices while any are due; store the outcomes; then arm the
        timer of the next retry."""
        try:
            while not self._closing:
                self._nudge.clear()
                if self._record_failed is not None:
                    raise self._record_failed
                waiting = sum(len(q) for q in self._waiting.values())
                if self._more and waiting < AT_ONCE:
                    self._more = False
                    due = await self._store.due_notices(self._clock.now(), BATCH, self._last)
                    self._more = self._more or len(due) == BATCH
                    self._hand_out(due)
                    continue
                if waiting == 0 and not any(self._workers.values()):  # idle
                    await self._store_answered()
                    if self._last is not None:  # once more from the earliest: retries due
                        self._last = None  # meanwhile, notices that committed late
                        self._more = True
                        continue
                    if not self._more:
                        break
                    continue
                await self._nudge.wait()
        except IansError:  # the store is closing or broken: the next start resumes
            log.exception("the outbox stopped; pending notices resume at the next start")
            return
        except Exception:  # a defect: try again shortly rather than never
            log.exception("the outbox failed; trying again in %s", RETRY_AFTER)
            self._timers.arm((OUTBOX, 0), self._clock.now() + RETRY_AFTER)
            return
        finally:
            await self._stop_attempting()
        due_at = await self._store.next_notice_due()
        if due_at is not None:
            self._timers.arm((OUTBOX, 0), due_at)
        if self._more and not self._closing:  # woken as the run ended: go again
            asyncio.get_running_loop().call_soon(self.wake)

    def _hand_out(self, due: list[OutboxNotice]) -> None:
        """Queue the notices read, and start workers for them (AT_ONCE of each channel)."""
        if not due:
            return
        self._last = due[-1]
        for notice in due:
            self._waiting.setdefault(notice.channel, deque()).append(notice)
        for channel, queue in self._waiting.items():
            workers = self._workers.setdefault(channel, set())
            for _ in range(min(AT_ONCE - len(workers), len(queue))):
                work = self._work(queue, workers)
                worker = asyncio.create_task(work, name=f"ians-outbox-{channel}")
                workers.add(worker)
                worker.add_done_callback(workers.discard)  # also if cancelled before it ran

    async def _work(self, queue: deque[OutboxNotice], workers: set[asyncio.Task[None]]) -> None:
        """Attempt a channel's notices one after the other while any are waiting."""
        try:
            while queue and not self._closing:
                notice = queue.popleft()
                if len(queue) < AT_ONCE:
                    self._nudge.set()  # time to read the next ones
                answer = await self._deliver(notice)  # before naming the list: storing
                self._answered.append((notice, answer))  # outcomes replaces it meanwhile
                self._start_recording()
        finally:
            # out of the count as it leaves the loop, not once its task is done: notices
            # queued meanwhile get a worker of their own
            workers.discard(asyncio.current_task())
            self._nudge.set()

    def _start_recording(self) -> None:
        """Store the outcomes answered, one write at a time: BATCH to a write while notices
        are waiting, and as they come once none are (a receiver that hangs holds up no
        other notice's outcome, nor its retry)."""
        if self._recording is not None or not self._answered or self._record_failed:
            return
        if len(self._answered) >= BATCH or not any(self._waiting.values()):
            self._recording = asyncio.create_task(self._record_answered())

    async def _record_answered(self) -> None:
        """Store up to BATCH of the outcomes answered, in one write. A failure stops the
        run (_run raises it); those notices are still pending, attempted again later."""
        answered, self._answered = self._answered[:BATCH], self._answered[BATCH:]
        try:
            await self._record(answered)
        except Exception as exc:
            self._record_failed = exc
        finally:
            self._recording = None
            self._nudge.set()
        self._start_recording()  # what was answered meanwhile

    async def _store_answered(self) -> None:
        """Wait until every outcome answered is stored (raises what storing did)."""
        while self._record_failed is None and (self._recording is not None or self._answered):
            if self._recording is None:
                self._recording = asyncio.create_task(self._record_answered())
            await asyncio.shield(self._recording)
        if self._record_failed is not None:
            raise self._record_failed

    async def _stop_attempting(self) -> None:
        """The run ends (done, closing or failed): the workers finish the notices they hold
        and their outcomes are stored; what is waiting is attempted at the next run."""
        for queue in self._waiting.values():
            queue.clear()  # the workers take no more
        self._last = None
        await asyncio.gather(
            *(w for ws in self._workers.values() for w in ws), return_exceptions=True
        )
        if self._record_failed is None:
            try:
                await self._store_answered()
            except Exception:
                log.exception("storing the outcomes of attempts failed; they are attempted again")
        self._answered.clear()
        self._record_failed = None
        await asyncio.gather(*(c.idle() for c in self._channels.values()))

    async def _record(self, answered: list[tuple[OutboxNotice, Answer]]) -> None:
        """Store the outcomes in one write; escalate after final failures."""
        now = self._clock.now()
        attempts = []
        for notice, answer in answered:
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
        retries = [a.retry_at for a in attempts if a.retry_at is not None]
        armed = self._timers.due_at((OUTBOX, 0))
        if retries and (armed is None or min(retries) < armed):  # due while this run goes on
            self._timers.arm((OUTBOX, 0), min(retries))
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

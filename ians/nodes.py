"""Several nodes on one PostgreSQL database: the timers they share, and the news.

Each node keeps the timers it armed itself (ians/scheduler.py), and beside them one
*sweep* timer at the earliest step due in the whole database. At a sweep the node claims
the due chases no other node holds (`FOR UPDATE SKIP LOCKED`) and applies their steps in
that transaction, so nodes that wake together share the work and every step is stored
once. A node learns of an earlier step armed elsewhere from a NOTIFY on the `timers`
channel, and, since a notification can be lost (its listening connection dropped),
polls for the earliest one every `poll` as well; the poll also picks up what the outbox
has due, the notices of a node that died among them once their claims expire.

An exercise or a consultation is run by one node (table `runners`): the one that started
it plays its injects, its simulated PoCs, its reminders and closing, and steps its chases,
renewing its lease at every poll. When a node stops renewing, another takes its runs up
from the store at its next poll after the lease (the guards of each step make what the
first had already done a no-op).

A token issued on one node (`tokens` channel) makes every node read the token table
again, so the old one stops working everywhere. The `events` channel carries what a
node changed (a message sent, a chase acknowledged or stepped) to the others, whose
live bus (ians/live.py) tells their pages as if it had happened there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any

from ians.clock import Clock
from ians.consultations import Consultations
from ians.domain.chase import Chase
from ians.exercises import Exercises
from ians.outbox import Outbox
from ians.scheduler import TimerWheel
from ians.store.postgres import PostgresStore
from ians.store.rows import chase_of, from_us
from ians.tokens import Tokens
from ians.tracking import Tracker

log = logging.getLogger(__name__)

SWEEP = "sweep"
"""The timer kind of the sweep: `(SWEEP, 0)`, at the earliest step due in the database."""
POLL_EVERY = timedelta(seconds=1)
SWEEP_BATCH = 1000  # chases claimed and stepped in one transaction
BUSY_AGAIN = timedelta(milliseconds=50)  # a due chase held by another node: look again soon
SWEEPS = 4  # sweeps of one node in flight at once


class Nodes:
    def __init__(
        self,
        store: PostgresStore,
        clock: Clock,
        timers: TimerWheel,
        tracker: Tracker,
        outbox: Outbox | None = None,
        poll: timedelta = POLL_EVERY,
        tokens: Tokens | None = None,
        exercises: Exercises | None = None,
        consultations: Consultations | None = None,
    ) -> None:
        self.store = store
        self._clock = clock
        self._timers = timers
        self._tracker = tracker
        self._outbox = outbox
        self._tokens = tokens
        self._exercises = exercises
        self._consultations = consultations
        self._tasks: set[asyncio.Task[None]] = set()
        self._live = tracker.live
        self._poll_every = poll
        self._sweep_at: datetime | None = None
        self._sweeping = 0
        self._sweep_again = False
        self._poller: asyncio.Task[None] | None = None
        self.sweeps = 0  # sweeps that stepped a chase: for tests and logs
        timers.handle(SWEEP, self._sweep_due)

    async def start(self) -> None:
        """Listen to the other nodes, arm the first sweep and start polling."""
        await self.store.listen(self.store.timers_channel, self._armed_elsewhere)
        await self.store.listen(self.store.events_channel, self._recorded_elsewhere)
        await self.store.listen(self.store.tokens_channel, self._token_issued_elsewhere)
        await self.poll()
        self._poller = asyncio.create_task(self._poll_forever(), name="ians-nodes-poll")

    async def close(self) -> None:
        for task in [self._poller, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def poll(self) -> None:
        """Arm the sweep at the earliest due step; listen again if the connection was lost."""
        if not self.store.listening():
            log.warning("the listening connection to PostgreSQL was lost: listening again")
            await self.store.relisten()
            if self._tokens is not None:  # a token issued meanwhile was not heard of
                await self._tokens.reload()
        await self._run_exercises()
        due = await self.store.next_chase_due()
        if due is not None:
            self._arm_sweep(due)
        if self._outbox is not None:
            await self._outbox.recover()

    async def _run_exercises(self) -> None:
        """Renew the lease of the exercises run here, let go of those that ended (stopped
        on another node, say) and take up those whose node stopped renewing."""
        taken, ended = await self.store.claim_runs(self._clock.now())
        if self._exercises is not None:
            lost = self._exercises.running_here() - await self.store.runs_here()
            for exercise_id in {*ended, *lost}:  # stopped elsewhere, or taken up elsewhere
                self._exercises.let_go(exercise_id)
        for exercise_id in taken:
            record = await self.store.exercise(exercise_id)
            log.info("taking up %s %s (its node stopped)", record.kind, record.id)
            if record.kind == "consultation":
                if self._consultations is not None:
                    await self._consultations.take_up(record)
            elif self._exercises is not None:
                await self._exercises.take_up(record)

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self._poll_every.total_seconds())
            try:
                await self.poll()
            except Exception:  # the database away for a while: the next poll tries again
                log.exception("polling PostgreSQL for due timers failed")

    def _arm_sweep(self, due: datetime) -> None:
        if self._sweep_at is None or due < self._sweep_at:
            self._sweep_at = due
            self._timers.arm((SWEEP, 0), due)

    def _armed_elsewhere(self, payload: str) -> None:
        self._arm_sweep(from_us(int(payload)))

    async def _sweep_due(self, _args: list[int], now: datetime) -> None:
        """Sweep in the background, up to SWEEPS at once: a sweep waits for its commit's
        WAL flush, and the next due instant must not wait for it (their SKIP LOCKED
        claims are disjoint, and their commits share a flush)."""
        self._sweep_at = None
        if self._sweeping >= SWEEPS:
            self._sweep_again = True  # the sweep that ends next goes again
            return
        self._sweeping += 1
        self._later(self._sweep(now))

    async def _sweep(self, now: datetime) -> None:
        try:
            while fired := await self.store.fire_due(now, SWEEP_BATCH):
                self.sweeps += 1
                await self._tracker.stepped(fired)
                if len(fired) < SWEEP_BATCH:
                    break
            due = await self.store.next_chase_due()
        except Exception:  # the database away for a moment: the poll arms the next sweep
            log.exception("a sweep of the due chase steps failed")
            return
        finally:
            self._sweeping -= 1
        if self._sweep_again:
            self._sweep_again = False
            due = self._clock.now()
        if due is not None:
            self._arm_sweep(max(due, now + BUSY_AGAIN) if due <= now else due)

    async def drain(self) -> None:
        """Wait for the sweeps and news under way (for tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _token_issued_elsewhere(self, _poc: str) -> None:
        if self._tokens is not None:
            self._later(self._tokens.reload())

    def _recorded_elsewhere(self, payload: str) -> None:
        """Another node committed a change: the live pages of this one show it too."""
        news = json.loads(payload)
        if "sent" in news:
            self._later(self._sent_elsewhere(str(news["sent"])))
            return
        by_message: dict[str, list[Chase]] = {}
        for row in news["chases"]:
            chase = chase_of(row)
            by_message.setdefault(chase.message_id, []).append(chase)
        for message_id, chases in by_message.items():
            self._live.publish(message_id, chases)

    async def _sent_elsewhere(self, message_id: str) -> None:
        message = await self.store.find_message(message_id)
        if message is not None:
            self._live.publish(message_id, await self.store.chases(message_id), message)

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name="ians-nodes-news")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

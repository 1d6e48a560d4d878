"""Timers: armed in memory, woken by APScheduler at the earliest one.

A timer is a key `(kind, arg)`: ("chase", 17), ("inject", ("ex-1", "ew1")). Each kind
has one handler, which gets every due timer of its kind in one batch. One
APScheduler job ("wake") is kept at the earliest due time; arming costs a heap push
and moves the job only when the earliest due time changes. The database remains
the source of truth: after a start the timers are armed again from it, and
handlers ignore a timer whose subject has already moved on.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from ians.clock import Clock

TimerKey = tuple[str, Hashable]
OnDue = Callable[[list[Any], datetime], Awaitable[None]]
RETRY_AFTER = timedelta(seconds=5)
log = logging.getLogger(__name__)
_WAKE_JOB = "ians-wake"


class TimerWheel:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[tuple[datetime, TimerKey]] = []
        self._armed: dict[TimerKey, datetime] = {}
        self._scheduler: AsyncIOScheduler | None = None
        self._handlers: dict[str, OnDue] = {}
        self._wake_at: datetime | None = None
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._armed)

    def handle(self, kind: str, on_due: OnDue) -> None:
        """Hand the args of due timers of `kind` to `on_due`, in one call per run."""
        self._handlers[kind] = on_due

    def start(self, scheduler: AsyncIOScheduler | None = None) -> None:
        """With a scheduler, wake by itself in real time; without, only on `run_due()`."""
        self._scheduler = scheduler
        if scheduler is not None and not scheduler.running:
            scheduler.start()
        self._schedule_wake()

    def shutdown(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None

    def arm(self, key: TimerKey, due: datetime) -> None:
        """Fire `key` at `due` (replacing an earlier arming of it)."""
        self._armed[key] = due
        heapq.heappush(self._heap, (due, key))
        if self._wake_at is None or due < self._wake_at:
            self._schedule_wake()

    def arm_many(self, timers: Iterable[tuple[datetime, TimerKey]]) -> None:
        new = list(timers)
        for due, key in new:
            self._armed[key] = due
        if len(new) * 8 < len(self._heap):  # a few into many: pushes beat a full heapify
            for entry in new:
                heapq.heappush(self._heap, entry)
        else:
            self._heap += new
            heapq.heapify(self._heap)
        self._schedule_wake()

    def disarm(self, key: TimerKey) -> None:
        self._armed.pop(key, None)  # its heap entry is skipped when it comes up

    def is_armed(self, key: TimerKey) -> bool:
        return key in self._armed

    def due_at(self, key: TimerKey) -> datetime | None:
        """When `key` fires, None when it is not armed."""
        return self._armed.get(key)

    def next_due(self) -> datetime | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    async def run_due(self) -> int:
        """Hand every timer due on the clock to its kind's handler; returns how many."""
        async with self._lock:
            now = self._clock.now()
            due: dict[str, list[Any]] = {}
            count = 0
            while self._heap and self._heap[0][0] <= now:
                at, key = heapq.heappop(self._heap)
                if self._armed.get(key) == at:
                    del self._armed[key]
                    due.setdefault(key[0], []).append(key[1])
                    count += 1
            try:
                for kind, args in due.items():
                    try:
                        await self._handlers[kind](args, now)
                    except Exception:  # a failed batch (a full disk, say) is tried again
                        log.exception(
                            "%d %s timers failed; retrying in %s", len(args), kind, RETRY_AFTER
                        )
                        retry = now + RETRY_AFTER
                        for arg in args:
                            key = (kind, arg)
                            if key not in self._armed:  # unless the handler re-armed it
                                self.arm(key, retry)
            finally:
                self._schedule_wake()
            return count

    def _drop_stale(self) -> None:
        while self._heap and self._armed.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)

    def _schedule_wake(self) -> None:
        if self._scheduler is None:
            return
        head = self.next_due()
        if head == self._wake_at:
            return
        self._wake_at = head
        if head is None:
            if self._scheduler.get_job(_WAKE_JOB) is not None:
                self._scheduler.remove_job(_WAKE_JOB)
            return
        run_at = datetime.now(UTC) + timedelta(seconds=max(0.0, self._clock.seconds_until(head)))
        self._scheduler.add_job(
            self._wake,
            DateTrigger(run_at, timezone=UTC),
            id=_WAKE_JOB,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1_000_000,  # never skip: a skipped run (DateTrigger) is a lost wake
        )

    async def _wake(self) -> None:
        self._wake_at = None
        await self.run_due()

"""Chase timers: armed in memory, woken by APScheduler at the earliest one.

One APScheduler job ("wake") is kept at the earliest due time. When it runs, every
timer due on the clock is handed over in one batch. Arming costs a heap push;
the job is moved only when the earliest due time changes. The database remains
the source of truth: after a start the timers are armed again from it, and the
handler ignores a timer whose chase has already moved on.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from ians.clock import Clock

OnDue = Callable[[list[int], datetime], Awaitable[None]]
_WAKE_JOB = "ians-wake"


class TimerWheel:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[tuple[datetime, int]] = []
        self._armed: dict[int, datetime] = {}
        self._scheduler: AsyncIOScheduler | None = None
        self._on_due: OnDue | None = None
        self._wake_at: datetime | None = None
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._armed)

    def start(self, on_due: OnDue, scheduler: AsyncIOScheduler | None = None) -> None:
        """Hand due timers to `on_due`; with a scheduler, also wake by itself in real time."""
        self._on_due = on_due
        self._scheduler = scheduler
        if scheduler is not None and not scheduler.running:
            scheduler.start()
        self._schedule_wake()

    def shutdown(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None

    def arm(self, chase_id: int, due: datetime) -> None:
        """Fire `chase_id` at `due` (replacing an earlier arming of it)."""
        self._armed[chase_id] = due
        heapq.heappush(self._heap, (due, chase_id))
        if self._wake_at is None or due < self._wake_at:
            self._schedule_wake()

    def arm_many(self, timers: Iterable[tuple[datetime, int]]) -> None:
        for due, chase_id in timers:
            self._armed[chase_id] = due
            self._heap.append((due, chase_id))
        heapq.heapify(self._heap)
        self._schedule_wake()

    def disarm(self, chase_id: int) -> None:
        self._armed.pop(chase_id, None)  # its heap entry is skipped when it comes up

    def next_due(self) -> datetime | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    async def run_due(self) -> int:
        """Hand every timer due on the clock to the handler; returns how many."""
        async with self._lock:
            now = self._clock.now()
            due: list[int] = []
            while self._heap and self._heap[0][0] <= now:
                at, chase_id = heapq.heappop(self._heap)
                if self._armed.get(chase_id) == at:
                    del self._armed[chase_id]
                    due.append(chase_id)
            if due and self._on_due is not None:
                await self._on_due(due, now)
            self._schedule_wake()
            return len(due)

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
            max_instances=1,
        )

    async def _wake(self) -> None:
        self._wake_at = None
        await self.run_due()

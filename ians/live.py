"""The live feed: what changed, told to whoever watches (the web pages' event streams).

The tracker publishes here after each commit: a message sent, a country's chase that
moved (reminded, escalated, acknowledged, given up, stopped). Publishing never waits:
the changes of a window go to each watcher together, as one batch. A change after a
quiet spell goes out within `GATHER` seconds; while changes keep coming, each window is
twice the last, up to `GATHER_BUSY`: under a burst of acks a watcher wakes 10 times a
second, not once an ack, and an event still reaches the pages within about 0.1 s. The
web pages' streams all hang on one watcher (ians/web/streams.py). Each watcher has
a bounded queue, and a watcher that falls that far behind is dropped (`Watch.lagged`),
so a slow browser can never slow an acknowledgement down; its page reconnects and shows
the state afresh. One process's changes are published in-process; another node's come
from the database's notifications (ians/nodes.py).
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from ians.domain.chase import Chase, ChaseStatus
from ians.domain.messages import Message

QUEUE = 1000  # batches a watcher may be behind before it is dropped
GATHER = 0.025  # seconds: the window of a change after a quiet spell
GATHER_BUSY = 0.1  # seconds: the longest window, while changes keep coming


def next_gather(window: float, quiet: float, least: float, most: float) -> float:
    """The window of a change that came `quiet` seconds after the last batch went out,
    `window` having been the last one: `least` after a quiet spell (over `most`), else
    twice the last, `most` at the longest."""
    return least if quiet > most else min(window * 2, most)


def country_state(chase: Chase) -> str:
    """A recipient country's state in words: sent, reminded, escalated, acknowledged,
    given up or stopped."""
    if chase.status is ChaseStatus.ACKNOWLEDGED:
        return "acknowledged"
    if chase.status is ChaseStatus.GAVE_UP:
        return "given up"
    if chase.status is ChaseStatus.STOPPED:
        return "stopped"
    if chase.reached > 1:
        return "escalated"
    return "reminded" if chase.reminders else "sent"


@dataclass(frozen=True, slots=True)
class Change:
    """A message was sent (`sent` is it, and `chases` holds every recipient country) or
    some of its countries' chases changed (`chases` holds those). `seq` orders the changes
    of a bus."""

    message_id: str
    chases: tuple[Chase, ...]
    sent: Message | None = None
    seq: int = 0


@dataclass(eq=False)
class Watch:
    """One watcher's queue of batches of changes; iterate it until it ends."""

    queue: asyncio.Queue[tuple[Change, ...]] = field(default_factory=lambda: asyncio.Queue(QUEUE))
    lagged: bool = False

    async def changes(self) -> AsyncIterator[Change]:
        """The changes as they come; ends when the watcher was dropped for lagging."""
        while not self.lagged:
            batch = await self.queue.get()
            if self.lagged:
                return
            for change in batch:
                yield change


class Live:
    def __init__(self, gather: float = GATHER, busy: float = GATHER_BUSY) -> None:
        self._gather, self._busy = gather, max(gather, busy)
        self.window = gather  # the last one
        self._flushed = -math.inf  # when the last batch went out (the loop's time)
        self._watches: set[Watch] = set()
        self._seq = itertools.count(1)
        self._pending: list[Change] = []
        self._flush_due = False

    def __len__(self) -> int:
        return len(self._watches)

    def publish(
        self,
        message_id: str,
        chases: Iterable[Chase],
        sent: Message | None = None,
    ) -> Change | None:
        """Tell every watcher, within the window (`gather` seconds, `busy` under a burst);
        returns at once (call it on the event loop's thread) the change told, or None when
        nobody watches (then nothing is made: every acknowledgement publishes)."""
        if not self._watches:
            return None
        change = Change(message_id, tuple(chases), sent, next(self._seq))
        self._pending.append(change)
        if not self._flush_due:
            self._flush_due = True
            loop = asyncio.get_running_loop()
            quiet = loop.time() - self._flushed
            self.window = next_gather(self.window, quiet, self._gather, self._busy)
            loop.call_later(self.window, self._flush)
        return change

    def _flush(self) -> None:
        self._flush_due = False
        batch, self._pending = tuple(self._pending), []
        self._flushed = asyncio.get_running_loop().time()
        for watch in list(self._watches):
            try:
                watch.queue.put_nowait(batch)
            except asyncio.QueueFull:
                self._drop(watch)

    def watch(self) -> Watch:
        watch = Watch()
        self._watches.add(watch)
        return watch

    def unwatch(self, watch: Watch) -> None:
        self._watches.discard(watch)

    def _drop(self, watch: Watch) -> None:
        watch.lagged = True
        self._watches.discard(watch)
        if watch.queue.full():  # make room for the empty batch that wakes its reader
            watch.queue.get_nowait()
        watch.queue.put_nowait(())

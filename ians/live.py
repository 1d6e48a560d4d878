"""The live feed: what changed, told to whoever watches (the web pages' event streams).

The tracker publishes here after each commit: a message sent, a country's chase that
moved (reminded, escalated, acknowledged, given up, stopped). Publishing never waits:
each watcher has a bounded queue, and a watcher that falls that far behind is dropped
(`Watch.lagged`), so a slow browser can never slow an acknowledgement down; its page
reconnects and shows the state afresh. One process's changes are published in-process;
another node's come from the database's notifications (ians/nodes.py).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from ians.domain.chase import Chase, ChaseStatus, EventKind
from ians.domain.messages import Message

log = logging.getLogger(__name__)

QUEUE = 1000  # changes a watcher may be behind before it is dropped


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
    """One watcher's queue of changes; iterate it until it ends."""

    queue: asyncio.Queue[Change] = field(default_factory=lambda: asyncio.Queue(QUEUE))
    lagged: bool = False

    async def changes(self) -> AsyncIterator[Change]:
        """The changes as they come; ends when the watcher was dropped for lagging."""
        while not self.lagged:
            change = await self.queue.get()
            if self.lagged:
                return
            yield change


class Live:
    def __init__(self) -> None:
        self._watches: set[Watch] = set()
        self._seq = itertools.count(1)

    def __len__(self) -> int:
        return len(self._watches)

    def publish(
        self,
        message_id: str,
        chases: Iterable[Chase],
        sent: Message | None = None,
    ) -> Change:
        """Tell every watcher; returns at once (call it on the event loop's thread)."""
        change = Change(message_id, tuple(chases), sent, next(self._seq))
        for watch in list(self._watches):
            try:
                watch.queue.put_nowait(change)
            except asyncio.QueueFull:
                self._drop(watch)
        return change

    def watch(self) -> Watch:
        watch = Watch()
        self._watches.add(watch)
        return watch

    def unwatch(self, watch: Watch) -> None:
        self._watches.discard(watch)

    def _drop(self, watch: Watch) -> None:
        watch.lagged = True
        self._watches.discard(watch)
        try:  # wake its reader, which then ends
            watch.queue.get_nowait()
            watch.queue.put_nowait(Change("", ()))
        except (asyncio.QueueEmpty, asyncio.QueueFull):
            pass


_CHASE_EVENTS = {EventKind.ACKNOWLEDGED, EventKind.REMINDED, EventKind.ESCALATED, EventKind.GAVE_UP}

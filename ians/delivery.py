"""Delivery channels: how a message or a reminder reaches a point of contact.

The inbox is built into the store: a delivery is a stored row that the PoC reads
through the API, written with its `delivered` event in the transaction of the step
that made it (send, escalation, invitation), so a crash keeps both or neither. The
channels here run after that commit, beside the inbox (the PoCs the server plays): a
channel is small, it says whether it reaches a PoC and delivers one notice. Each
delivery a channel makes is recorded as a `delivered` event; a failure as
`delivery_failed`. External channels (e-mail) do not run here: their notices are stored
with the step too and attempted by the outbox (ians/outbox.py), which `submitted` wakes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from ians.clock import Clock
from ians.domain.chase import Event, EventKind
from ians.domain.contacts import PointOfContact, Registry
from ians.store import Store

log = logging.getLogger(__name__)


class NoticeKind(StrEnum):
    MESSAGE = "message"
    REMINDER = "reminder"  # of a message, or of a consultation to a PoC yet to answer
    INVITATION = "invitation"  # to a consultation; `message_id` is the consultation id


@dataclass(frozen=True, slots=True)
class Notice:
    """Tell `poc` about a message: first delivery (or escalation), or a reminder."""

    kind: NoticeKind
    message_id: str
    poc: str
    country: str
    at: datetime  # when the message reached the PoC, or the reminder fell due


class Channel(Protocol):
    name: str

    def reaches(self, poc: PointOfContact, notice: Notice) -> bool:
        """Whether this channel has a way to reach the PoC with this notice."""

    async def deliver(self, notice: Notice, poc: PointOfContact) -> None:
        """Deliver one notice; raises on failure."""


class Dispatcher:
    """Hands notices to every channel that reaches the PoC, in the background, once the
    inbox deliveries are committed."""

    def __init__(
        self, store: Store, registry: Registry, clock: Clock, channels: Sequence[Channel]
    ) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        self._channels = list(channels)
        self._tasks: set[asyncio.Task[None]] = set()
        # told after each step's notices are stored: the outbox attempts its own at once
        self.submitted: list[Callable[[], None]] = []

    def add_channel(self, channel: Channel) -> None:
        self._channels.append(channel)

    def submit(self, notices: Sequence[Notice]) -> None:
        """Deliver these notices after the caller's commit; returns at once."""
        if not notices:
            return
        for listener in self.submitted:
            listener()
        task = asyncio.create_task(self._deliver_all(list(notices)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every submitted notice has been delivered or has failed."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver_all(self, notices: list[Notice]) -> None:
        results = await asyncio.gather(
            *(self._deliver(n, c) for n in notices for c in self._channels_for(n))
        )
        events = [e for e in results if e is not None]
        if events:
            await self._store.record_events(events)

    def _channels_for(self, notice: Notice) -> list[Channel]:
        poc = self._registry.pocs.get(notice.poc)
        return [c for c in self._channels if poc is not None and c.reaches(poc, notice)]

    async def _deliver(self, notice: Notice, channel: Channel) -> Event | None:
        poc = self._registry.poc(notice.poc)
        detail: dict[str, object] = {"channel": channel.name, "notice": notice.kind.value}
        try:
            await channel.deliver(notice, poc)
        except Exception as exc:  # a channel's failure is a fact to record, not a crash
            log.warning(
                "%s delivery of %s to %s failed: %s",
                channel.name,
                notice.message_id,
                notice.poc,
                exc,
            )
            return Event(
                self._clock.now(),
                EventKind.DELIVERY_FAILED,
                notice.message_id,
                notice.country,
                notice.poc,
                detail={**detail, "error": str(exc)},
            )
        if notice.kind is NoticeKind.REMINDER:
            return None  # the reminder itself is the `reminded` event
        return Event(
            self._clock.now(),
            EventKind.DELIVERED,
            notice.message_id,
            notice.country,
            notice.poc,
            detail=detail,
        )

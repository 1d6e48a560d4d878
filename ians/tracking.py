"""Sending messages and chasing every recipient country until it acknowledges.

The Tracker ties the pure rules (routing, chase transitions) to the store, the
timers and the delivery channels. It never imports aiohttp: the API, the CLI and
the exercise runner all call it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from ians.clock import Clock
from ians.console import StepLog
from ians.delivery import Dispatcher, Notice, NoticeKind
from ians.domain.chase import Chase, ChaseStatus, Event, EventKind, Via, start_chase
from ians.domain.contacts import PointOfContact, Registry
from ians.domain.messages import (
    AnyDraft,
    Message,
    MessageType,
    check_reference,
    message_id,
    route,
)
from ians.domain.policy import AckPolicy, PolicyTable
from ians.errors import InvalidInput
from ians.live import Live
from ians.scheduler import TimerWheel
from ians.store import AckResult, Store
from ians.store.base import Fired

log = logging.getLogger(__name__)

Settled = Callable[[list[Chase]], Awaitable[None]]
ReplyPolicy = Callable[[Message, MessageType], Awaitable[AckPolicy | None]]
CHASE = "chase"
"""The timer kind of chase steps: `(CHASE, chase_id)`."""


class Tracker:
    def __init__(
        self,
        store: Store,
        registry: Registry,
        clock: Clock,
        timers: TimerWheel,
        dispatcher: Dispatcher,
        policies: PolicyTable | None = None,
        live: Live | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self.timers = timers
        self.dispatcher = dispatcher
        self.policies = policies or PolicyTable()
        self.live = live or Live()  # told of every change once committed (the live pages)
        self.settled: list[Settled] = []  # told of chases that ended, e.g. to complete exercises
        # told of each message once stored, with its inject, before anything else awaits
        self.sent: list[Callable[[Message, str | None], None]] = []
        # the policy of a reply to an exercise's message; raises if the exercise was stopped
        self.exercise_replies: ReplyPolicy | None = None
        self.steps = StepLog(log)  # one console line per chase step, a count past a burst
        timers.handle(CHASE, self.fire_due)

    async def recover(self) -> int:
        """Arm the timer of every pending chase in the store; returns how many.

        Overdue ones fire at the next run of the timers, at once.
        """
        pending = await self.store.pending_timers()
        self.timers.arm_many((due, (CHASE, chase_id)) for due, chase_id in pending)
        return len(pending)

    async def send(
        self,
        draft: AnyDraft,
        *,
        exercise_id: str | None = None,
        policy: AckPolicy | None = None,
        inject: str | None = None,
        by: PointOfContact | None = None,
        simulated: bool = False,
    ) -> tuple[Message, list[Chase]]:
        """Send a message to the first PoC of each recipient country and start chasing them.

        An exercise passes its id, the inject and the policy. A reply to an exercise's
        message (a response to its assistance request, say) belongs to that exercise and
        is chased with its policy (`exercise_replies`). `by` is the PoC sending it, if a
        PoC does: its `refers_to` may name only a message it may read (`readable`).
        An assistance response acknowledges the request for its country when nothing
        did before (by `by`; `simulated` when IANS plays the responder).

        Raises InvalidInput (naming the field) for a bad route or reference, Conflict for
        a reply to a stopped exercise.
        """
        routes = route(draft, self.registry)
        referred = await self._referred(draft.refers_to, by)
        check_reference(draft, referred)
        if referred is not None and referred.exercise_id and exercise_id is None:
            exercise_id = referred.exercise_id
            if self.exercise_replies is not None:
                policy = policy or await self.exercise_replies(referred, draft.type)
        policy = policy or self.policies.resolve(draft.type, draft.mode)
        now = self.clock.now()
        message = Message(
            id=message_id(draft.type),
            type=draft.type,
            mode=draft.mode,
            sender=draft.sender,
            to=list(routes),
            sent_at=now,
            refers_to=draft.refers_to,
            content=draft.content,
            exercise_id=exercise_id,
        )
        chases = [start_chase(message.id, c, pocs, now, policy) for c, pocs in routes.items()]
        # one `sent` event for the message; each recipient's chase row holds its own start
        events = [Event(now, EventKind.SENT, message.id, detail={"recipients": len(chases)})]
        acknowledged: Chase | None = None
        if message.type is MessageType.ASSISTANCE_RESPONSE:
            chases, acknowledged = await self.store.add_response(
                message,
                policy,
                chases,
                events,
                inject,
                poc=by.id if by is not None and by.country == message.sender else None,
                simulated=simulated,
            )
        else:
            chases = await self.store.add_message(message, policy, chases, events, inject)
        if acknowledged is not None and acknowledged.id is not None:
            self.timers.disarm((CHASE, acknowledged.id))
        for listener in self.sent:
            listener(message, inject)
        self.live.publish(message.id, chases, message)
        if acknowledged is not None:  # the response acknowledged the request it answers
            self.live.publish(acknowledged.message_id, [acknowledged])
        self.timers.arm_many(
            (c.next_due_at, (CHASE, c.id)) for c in chases if c.next_due_at and c.id
        )
        self.dispatcher.submit(
            [Notice(NoticeKind.MESSAGE, message.id, c.pocs[0], c.country, now) for c in chases]
        )
        if acknowledged is not None:
            await self._tell_settled([acknowledged])
        return message, chases

    async def readable(self, poc: PointOfContact, message: Message) -> bool:
        """Whether the PoC may read the message: its country sent it or received it (as the
        message lists say), and it is not a rehearsal's (a virtual run's messages reach
        nobody's inbox). Acknowledging stays with the PoCs the message reached."""
        if message.simulated:
            return False
        if message.sender == poc.country:
            return True
        return any(d.country == poc.country for d in await self.store.deliveries(message.id))

    async def _referred(self, refers_to: str | None, by: PointOfContact | None) -> Message | None:
        """The message `refers_to` names, or None when there is none, or none the sending
        PoC may read: answered alike, so a reference tells nothing of what it cannot see.
        Raises InvalidInput for a message of a virtual run (a rehearsal is closed)."""
        if refers_to is None:
            return None
        referred = await self.store.find_message(refers_to)
        if referred is None or (by is not None and not await self.readable(by, referred)):
            return None
        if referred.simulated:
            raise InvalidInput.at(
                "refers_to", f"{refers_to!r} is a message of a virtual run (a rehearsal)"
            )
        return referred

    async def acknowledge(
        self,
        message_id: str,
        poc: str,
        note: str | None = None,
        simulated: bool = False,
        via: Via = Via.API,
    ) -> AckResult:
        """Record the PoC's acknowledgement, durably, and stop its country's chase.

        `simulated`: a PoC that IANS plays acknowledges (not the PoC's people); `via`: how
        the acknowledgement came (the API, a link, an e-mail).
        Raises UnknownMessage, or NotDelivered if the message never reached the PoC.
        """
        result = await self.store.acknowledge(
            message_id, poc, self.clock.now(), note, simulated, via
        )
        if result.chase.status is not ChaseStatus.PENDING and result.chase.id is not None:
            self.timers.disarm((CHASE, result.chase.id))
        if not result.repeated:
            self.steps.info(
                "acknowledged",
                "chase %s %s: acknowledged by %s%s",
                message_id,
                result.chase.country,
                poc,
                ", late (after the give-up)" if result.chase.gave_up_at is not None else "",
            )
            self.live.publish(message_id, [result.chase])
            await self._tell_settled([result.chase])
        return result

    async def fire_due(self, chase_ids: Sequence[int], now: datetime) -> None:
        """Apply the due steps of these chases, re-arm them and deliver what the steps send."""
        await self.stepped(await self.store.fire(chase_ids, now))

    async def stepped(self, fired: Sequence[Fired]) -> None:
        """After chase steps were stored: re-arm the chases, deliver what the steps send."""
        notices: list[Notice] = []
        for f in fired:
            if f.chase.next_due_at is not None and f.chase.id is not None:
                self.timers.arm((CHASE, f.chase.id), f.chase.next_due_at)
            for e in f.events:
                log_step(self.steps, e, f.chase)
                if e.poc is None:
                    continue
                if e.kind is EventKind.REMINDED:
                    notices.append(
                        Notice(NoticeKind.REMINDER, e.message_id, e.poc, f.chase.country, e.at)
                    )
                elif e.kind is EventKind.ESCALATED:
                    notices.append(
                        Notice(NoticeKind.MESSAGE, e.message_id, e.poc, f.chase.country, e.at)
                    )
        self.dispatcher.submit(notices)
        for f in fired:
            self.live.publish(f.chase.message_id, [f.chase])
        await self._tell_settled(
            [f.chase for f in fired if f.chase.status is not ChaseStatus.PENDING]
        )

    async def _tell_settled(self, chases: list[Chase]) -> None:
        if chases:
            for listener in self.settled:
                await listener(chases)


def log_step(steps: StepLog, event: Event, chase: Chase) -> None:
    """One console line for a chase step: message, country, PoC."""
    if event.kind is EventKind.REMINDED:
        what = f"reminded {event.poc} (reminder {event.detail.get('reminder')})"
    elif event.kind is EventKind.ESCALATED:
        what = f"escalated to {event.poc} (escalation {event.detail.get('escalation')})"
    else:
        what = f"gave up (reached {', '.join(chase.reached_pocs)})"
    steps.info(event.kind.value, "chase %s %s: %s", event.message_id, event.country, what)

"""The chase of one recipient country for one message: its state and its transitions.

A chase starts when the message reaches the country's first PoC and ends when any
PoC that received it acknowledges, or when the policy gives up. Transitions are
pure: they take the time and return the new state and what happened, as frozen,
past-tense events that the store records and the reports are derived from.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from ians.domain.policy import AckPolicy, StepKind, chase_plan, due_steps
from ians.errors import Conflict

_NO_DETAIL: Mapping[str, object] = MappingProxyType({})


class ChaseStatus(StrEnum):
    PENDING = "pending"
    ACKNOWLEDGED = "acknowledged"
    GAVE_UP = "gave_up"
    STOPPED = "stopped"  # its exercise was stopped before it settled


class EventKind(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    REMINDED = "reminded"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    GAVE_UP = "gave_up"
    LINK_OPENED = "link_opened"  # an acknowledgement link was opened (GET): not an ack
    AUTO_REPLY = "auto_reply"  # an automatic answer came back: reachable, not acknowledged
    REPLY_UNPARSED = "reply_unparsed"  # a reply that IANS could not read as an ack
    CHANNEL_DISABLED = "channel_disabled"  # a peer said gone (410): no more notices there


class Event(NamedTuple):
    """Something that happened to a message at a time; `poc` is None for country-wide events.

    `due_at` is when a timed step (reminder, escalation, give-up) was due, so that
    its lateness can be measured; `detail` holds anything else worth keeping.
    """

    at: datetime
    kind: EventKind
    message_id: str
    country: str | None = None
    poc: str | None = None
    due_at: datetime | None = None
    detail: Mapping[str, object] = _NO_DETAIL


class Chase(NamedTuple):
    """One recipient country of one message. `pocs` is its escalation order for the role.

    A named tuple, not a dataclass: it is made anew at every transition of every
    virtual run, and a frozen dataclass takes several times longer to build.
    """

    message_id: str
    country: str
    pocs: tuple[str, ...]
    sent_at: datetime
    status: ChaseStatus = ChaseStatus.PENDING
    steps_done: int = 0
    reached: int = 1
    reminders: int = 0
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    gave_up_at: datetime | None = None
    next_due_at: datetime | None = None
    id: int | None = None

    @property
    def escalations(self) -> int:
        return self.reached - 1

    @property
    def reached_pocs(self) -> tuple[str, ...]:
        return self.pocs[: self.reached]


def start_chase(
    message_id: str,
    country: str,
    pocs: tuple[str, ...],
    sent_at: datetime,
    policy: AckPolicy,
    chase_id: int | None = None,
) -> Chase:
    """A new chase: the message has just reached `pocs[0]`."""
    plan = chase_plan(policy, sent_at, len(pocs))
    return Chase(message_id, country, pocs, sent_at, next_due_at=plan[0].at, id=chase_id)


def fire(chase: Chase, policy: AckPolicy, now: datetime) -> tuple[Chase, list[Event]]:
    """Apply every step of the chase that is due at `now`.

    Returns the new chase and the events, one per PoC reminded or reached and one
    for a give-up. A chase that is no longer pending, or has nothing due (a stale
    or duplicate firing), comes back unchanged with no events.
    """
    if chase.status is not ChaseStatus.PENDING:
        return chase, []
    plan = chase_plan(policy, chase.sent_at, len(chase.pocs))
    steps = due_steps(plan, chase.steps_done, now)
    if not steps:
        return chase, []
    events: list[Event] = []
    reached, reminders = chase.reached, chase.reminders
    status: ChaseStatus = chase.status
    gave_up_at: datetime | None = None
    for step in steps:
        if step.kind is StepKind.REMIND:
            reminders += 1
            events += [
                Event(
                    now,
                    EventKind.REMINDED,
                    chase.message_id,
                    chase.country,
                    poc,
                    step.at,
                    {"reminder": reminders},
                )
                for poc in chase.pocs[:reached]
            ]
        elif step.kind is StepKind.ESCALATE:
            if reached >= len(chase.pocs):
                continue  # reached every PoC early (a failed delivery escalates at once)
            reached += 1
            events.append(
                Event(
                    now,
                    EventKind.ESCALATED,
                    chase.message_id,
                    chase.country,
                    chase.pocs[reached - 1],
                    step.at,
                    {"escalation": reached - 1},
                )
            )
        else:
            status, gave_up_at = ChaseStatus.GAVE_UP, now
            events.append(
                Event(now, EventKind.GAVE_UP, chase.message_id, chase.country, None, step.at)
            )
    done = chase.steps_done + len(steps)
    next_due = plan[done].at if status is ChaseStatus.PENDING and done < len(plan) else None
    after = Chase(  # positional, not replace(): this runs for every step of every virtual run
        chase.message_id,
        chase.country,
        chase.pocs,
        chase.sent_at,
        status,
        done,
        reached,
        reminders,
        chase.acknowledged_at,
        chase.acknowledged_by,
        gave_up_at,
        next_due,
        chase.id,
    )
    return after, events


class Via(StrEnum):
    """How an acknowledgement came: the `via` of its event."""

    API = "api"
    WEB = "web"
    LINK = "link"  # the POST of an acknowledgement link
    EMAIL = "email"  # a reply to a notice e-mail
    WEBHOOK = "webhook"
    RESPONSE = "response"  # the country's assistance response to the request


def acknowledge(
    chase: Chase,
    poc: str,
    now: datetime,
    note: str | None = None,
    via: Via = Via.API,
    simulated: bool = False,
) -> tuple[Chase, list[Event]]:
    """Record `poc`'s first acknowledgement of the message (the caller checks it was reached).

    The first acknowledgement of any PoC acknowledges the country and ends its
    chase; one after a give-up is still recorded, and is late. Later acks by other
    PoCs of an acknowledged country are recorded as theirs only. `simulated` marks
    the act of a PoC played by IANS, not by its people. Raises Conflict once the
    chase's exercise was stopped.
    """
    if chase.status is ChaseStatus.STOPPED:
        raise Conflict("the exercise of this message was stopped")
    detail: dict[str, object] = {"via": via.value}
    if note:
        detail["note"] = note
    if simulated:
        detail["simulated"] = True
    event = Event(now, EventKind.ACKNOWLEDGED, chase.message_id, chase.country, poc, None, detail)
    if chase.acknowledged_at is not None:
        return chase, [event]
    after = Chase(
        chase.message_id,
        chase.country,
        chase.pocs,
        chase.sent_at,
        ChaseStatus.ACKNOWLEDGED,
        chase.steps_done,
        chase.reached,
        chase.reminders,
        now,
        poc,
        chase.gave_up_at,
        None,
        chase.id,
    )
    return after, [event]


def acknowledge_by_response(
    chase: Chase, poc: str | None, at: datetime, simulated: bool = False
) -> tuple[Chase, list[Event]]:
    """The country's assistance response to the request of this chase, sent at `at`.

    A response is also the country's acknowledgement of the request if none came
    before (SPEC §5): by `poc`, the responding PoC, or else by the first PoC the
    request reached. An acknowledged chase, or one whose exercise was stopped,
    comes back unchanged with no events.
    """
    if chase.acknowledged_at is not None or chase.status is ChaseStatus.STOPPED:
        return chase, []
    return acknowledge(chase, poc or chase.pocs[0], at, via=Via.RESPONSE, simulated=simulated)


def escalate_now(
    chase: Chase, failed_poc: str, now: datetime, reason: str
) -> tuple[Chase, list[Event]]:
    """Reach the country's next PoC at once because `failed_poc` cannot be reached.

    Only a failure of the PoC reached last escalates (an older one was escalated past
    already), and only while the chase is pending and a further PoC exists; otherwise the
    chase comes back unchanged with no events. The chase's plan keeps its times: a
    scheduled escalation later reaches the PoC after this one.
    """
    if (
        chase.status is not ChaseStatus.PENDING
        or chase.reached >= len(chase.pocs)
        or chase.pocs[chase.reached - 1] != failed_poc
    ):
        return chase, []
    reached = chase.reached + 1
    event = Event(
        now,
        EventKind.ESCALATED,
        chase.message_id,
        chase.country,
        chase.pocs[reached - 1],
        None,
        {"escalation": reached - 1, "because": reason},
    )
    return chase._replace(reached=reached), [event]

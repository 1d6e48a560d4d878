"""An exercise: a scenario run on a clock, and how its times map to scenario time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ians.domain.chase import Chase, ChaseStatus
from ians.domain.messages import Message, MessageType
from ians.domain.policy import AckPolicy


class ExerciseState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    COMPLETED = "completed"


class ClockKind(StrEnum):
    REAL = "real"
    VIRTUAL = "virtual"


@dataclass(frozen=True, slots=True)
class Exercise:
    """An exercise and its clock.

    Stored times are on the server's clock; `scenario_time` maps them to scenario time:
    `started_at` is the scenario's start and `wall_started_at` the server time it began,
    and scenario time runs `speed` times faster. Virtual runs store scenario time
    directly (wall_started_at == started_at, speed 1).
    """

    id: str
    name: str
    kind: str  # drill | connectivity_test | consultation
    clock: str  # real | virtual
    speed: float
    state: str  # running | stopped | completed
    started_at: datetime
    wall_started_at: datetime
    ended_at: datetime | None  # scenario time
    seed: int | None = None
    scenario: str = ""  # the scenario as given (YAML or JSON text), to run it again
    simulate: tuple[str, ...] = ()  # countries whose PoCs the server plays

    def scenario_time(self, at: datetime) -> datetime:
        return self.started_at + (at - self.wall_started_at) * self.speed

    def server_time(self, at: datetime) -> datetime:
        """The server time at which scenario time `at` comes (inverse of scenario_time)."""
        return self.wall_started_at + (at - self.started_at) / self.speed

    def scenario_seconds(self, span: timedelta) -> float:
        """A span of server time, in scenario seconds."""
        return span.total_seconds() * self.speed


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message of the exercise: an inject (`inject` is its id) or one a PoC sent (None).

    `policy` is the policy the message was chased with, on the server's clock (in a
    run with speed N every duration is divided by N; multiply back for scenario time).
    """

    inject: str | None
    message: Message
    policy: AckPolicy


def settled_at(chase: Chase) -> datetime | None:
    """When the country's chase ended: its first ack, or the give-up before it."""
    if chase.status is ChaseStatus.PENDING:
        return None
    times = [t for t in (chase.acknowledged_at, chase.gave_up_at) if t is not None]
    return min(times) if times else None


def completed_at(
    injects: int, messages: Sequence[SentMessage], chases: Sequence[Chase], now: datetime
) -> datetime | None:
    """When an exercise completed, on the server's clock; None while it goes on.

    Complete (SPEC §5): every one of the `injects` has been sent, every recipient
    country has acknowledged or been given up on, and every assistance request is
    answered by each of its recipients or past its `respond_within`.
    """
    if len({m.inject for m in messages if m.inject is not None}) < injects:
        return None
    times = [m.message.sent_at for m in messages]
    for chase in chases:
        settled = settled_at(chase)
        if settled is None:
            return None
        times.append(settled)
    responses = {
        (m.message.refers_to, m.message.sender): m.message.sent_at
        for m in reversed(messages)
        if m.message.type is MessageType.ASSISTANCE_RESPONSE
    }
    for sent in messages:
        if sent.message.type is not MessageType.ASSISTANCE_REQUEST:
            continue
        for country in sent.message.to:
            answered = responses.get((sent.message.id, country))
            deadline = sent.message.sent_at + sent.policy.respond_within
            if answered is None and now < deadline:
                return None
            times.append(answered if answered is not None else deadline)
    return max(times) if times else None

"""Acknowledgement policy and the chase plan it gives for one recipient country.

Pure rules, time passed in: what happens when, after a message is sent, while a
country has not acknowledged it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ians.domain.durations import Duration


class AckPolicy(BaseModel):
    """How a recipient country is chased until it acknowledges (SPEC §5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ack_within: Duration = timedelta(hours=1)
    reminders: tuple[Duration, ...] = (timedelta(minutes=15), timedelta(minutes=30))
    escalate_every: Duration = timedelta(minutes=30)
    give_up_after: Duration = timedelta(hours=24)
    respond_within: Duration = timedelta(hours=2)

    @field_validator("escalate_every", "give_up_after", "ack_within")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0s")
        return value

    @field_validator("reminders")
    @classmethod
    def _sorted_unique(cls, value: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
        if any(r <= timedelta(0) for r in value):
            raise ValueError("reminder offsets must be longer than 0s")
        return tuple(sorted(set(value)))

    def scaled(self, speed: float) -> AckPolicy:
        """Every duration divided by `speed`: the policy of an exercise run N times faster."""
        if speed == 1:
            return self
        return AckPolicy.model_construct(
            ack_within=self.ack_within / speed,
            reminders=tuple(r / speed for r in self.reminders),
            escalate_every=self.escalate_every / speed,
            give_up_after=self.give_up_after / speed,
            respond_within=self.respond_within / speed,
        )

    def with_overrides(self, overrides: Mapping[str, Any]) -> AckPolicy:
        """This policy with some settings replaced, validated again."""
        return AckPolicy.model_validate({**self.model_dump(), **overrides})


class PolicyOverride(BaseModel):
    """Some settings of an AckPolicy; the rest come from the policy it overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ack_within: Duration | None = None
    reminders: tuple[Duration, ...] | None = None
    escalate_every: Duration | None = None
    give_up_after: Duration | None = None
    respond_within: Duration | None = None

    @model_validator(mode="after")
    def _valid_over_defaults(self) -> PolicyOverride:
        AckPolicy().with_overrides(self.set_fields())  # the same rules as a whole policy
        return self

    def set_fields(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.model_fields_set if getattr(self, k) is not None}


class PolicyTable(BaseModel):
    """Policies per message type and mode, as set in the server settings.

    Keys are `default`, a mode (`test`), a type (`early_warning`) or `mode/type`
    (`exercise/early_warning`); the most specific one wins, in that order.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    overrides: dict[str, PolicyOverride] = Field(default_factory=dict)

    def resolve(self, type_: str, mode: str) -> AckPolicy:
        merged: dict[str, Any] = {}
        for key in ("default", mode, type_, f"{mode}/{type_}"):
            if key in self.overrides:
                merged.update(self.overrides[key].set_fields())
        return AckPolicy().with_overrides(merged)


class StepKind(IntEnum):
    """What a chase does at a step; the value orders steps falling at the same instant."""

    REMIND = 0
    ESCALATE = 1
    GIVE_UP = 2


@dataclass(frozen=True, slots=True)
class Step:
    at: datetime
    kind: StepKind


def chase_plan(policy: AckPolicy, sent_at: datetime, poc_count: int) -> tuple[Step, ...]:
    """Every step of chasing one country, in order, if it never acknowledges.

    Reminders and escalations fall strictly before the give-up; escalation stops
    when the country has no further PoC. A reminder and an escalation at the same
    instant: the reminder goes first, so it reaches only the PoCs reached before.
    """
    key = (id(policy), sent_at, poc_count)  # hashing a pydantic model costs more than a plan
    cached = _PLANS.get(key)
    if cached is not None and cached[0] is policy:
        return cached[1]
    plan = tuple(Step(sent_at + offset, kind) for offset, kind in _plan(policy, poc_count))
    if len(_PLANS) >= 8192:
        _PLANS.clear()
    _PLANS[key] = (policy, plan)  # the policy is kept, so its id is not reused meanwhile
    return plan


_PLANS: dict[tuple[int, datetime, int], tuple[AckPolicy, tuple[Step, ...]]] = {}


@lru_cache(maxsize=4096)
def _plan(policy: AckPolicy, poc_count: int) -> tuple[tuple[timedelta, StepKind], ...]:
    """The plan as offsets from sending: the same for every message of a policy."""
    steps = [(r, StepKind.REMIND) for r in policy.reminders]
    steps += [(policy.escalate_every * k, StepKind.ESCALATE) for k in range(1, poc_count)]
    steps = [s for s in steps if s[0] < policy.give_up_after]
    steps.append((policy.give_up_after, StepKind.GIVE_UP))
    return tuple(sorted(steps))


def due_steps(plan: Sequence[Step], done: int, now: datetime) -> tuple[Step, ...]:
    """The steps after the first `done` that are due at `now`."""
    due = []
    for step in plan[done:]:
        if step.at > now:
            break
        due.append(step)
    return tuple(due)

"""The acknowledgement-time report (SPEC §10) as a model.

`Report.model_dump(mode="json")` is exactly the §10 JSON object: times are RFC 3339
UTC with `Z`, seconds are rounded to 3 decimals and written as integers when whole.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer


def rfc3339(at: datetime) -> str:
    """`at` in UTC as RFC 3339 with `Z`: `2026-11-27T09:15:00Z` (fractions only when present).

    A naive datetime is taken to be UTC already.
    """
    utc = at.astimezone(UTC) if at.tzinfo is not None else at
    return utc.replace(tzinfo=None).isoformat() + "Z"


def _round3(value: float) -> float:
    return round(value, 3)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


Time = Annotated[datetime, PlainSerializer(rfc3339, return_type=str, when_used="json")]
"""A time, written as RFC 3339 UTC with `Z`."""

Seconds = Annotated[float, AfterValidator(_round3), PlainSerializer(_number)]
"""Scenario seconds, rounded to 3 decimals; written as an integer when whole (600, not 600.0)."""

Rate = Annotated[float, AfterValidator(_round3)]
"""A share in [0, 1], rounded to 3 decimals."""


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExerciseSection(_Part):
    id: str
    name: str
    kind: str
    clock: str
    speed: Annotated[float, PlainSerializer(_number)]
    state: str  # running | completed | stopped
    started_at: Time
    ended_at: Time | None
    simulated: bool = False  # a virtual run: a rehearsal, every PoC simulated
    mode: str | None = None  # of its messages: exercise | test; None before the first


class AckSeconds(_Part):
    """Nearest-rank median, p90 and maximum of acknowledgement times; None without any."""

    median: Seconds | None
    p90: Seconds | None
    max: Seconds | None


class Indicator(_Part):
    """A yes/no question asked of every row it applies to: `value` rows of `of` met it."""

    id: str
    label: str
    definition: str
    value: int
    of: int
    rate: Rate | None  # value / of; None when it applies to no row


class IndicatorCount(_Part):
    """An indicator of one country: `value` rows of `of` (the words are in the summary's)."""

    id: str
    value: int
    of: int
    rate: Rate | None


class Summary(_Part):
    recipients: int
    acknowledged: int
    ack_rate: Rate
    within_target: int
    within_target_rate: Rate
    ack_seconds: AckSeconds
    reminders: int
    escalations: int
    reached: int = 0
    indicators: list[Indicator] = []


class CountryResult(_Part):
    country: str
    recipients: int
    acknowledged: int
    within_target: int
    ack_seconds: AckSeconds
    reached: int = 0
    indicators: list[IndicatorCount] = []


class RecipientRow(_Part):
    """One recipient country of one message; its field order is the csv header."""

    inject: str | None
    message_id: str
    type: str
    country: str
    sent_at: Time
    acknowledged_at: Time | None
    acknowledged_by: str | None
    ack_seconds: Seconds | None
    target_seconds: Seconds
    within_target: bool
    reminders: int
    escalations: int
    responded_at: Time | None
    response_seconds: Seconds | None
    acknowledged_via: str | None = None  # how the first ack came: api, link, email, response…
    simulated: bool = False  # a virtual run's row, or acknowledged by a PoC IANS played
    delivered_at: Time | None = None  # the first successful delivery, on any channel
    reached: bool = False  # arrived where a PoC reads it (ians/reports/channels.py)
    channels: dict[str, str] = {}  # each channel's outcome: {"email": "bounced", …}


class ChannelFunnel(_Part):
    """One channel over the exercise's rows: tried → arrived → acknowledged through it."""

    channel: str
    sent: int
    delivered: int
    acknowledged: int
    bounced: int
    auto_replies: int


class Finding(_Part):
    """One line of the improvement plan: what is wrong, where, and what to do about it."""

    kind: str | None = Field(
        default=None,
        description="office_hours, never_answered, bounced, not_confirmed, escalation;"
        " null for one the secretariat added",
        max_length=40,
    )
    country: str | None = Field(default=None, pattern="^[A-Z]{3}$")
    poc: str | None = Field(default=None, max_length=200)
    issue: str = Field(min_length=1, max_length=2000)
    action: str = Field(min_length=1, max_length=2000)


class Findings(_Part):
    """The improvement plan: found automatically, or as the secretariat edited it."""

    edited_at: Time | None = Field(description="null: found automatically, not edited")
    items: list[Finding]


class FindingsBody(_Part):
    """`PUT /api/exercises/{id}/findings`: the improvement plan as it should read."""

    items: list[Finding] = Field(max_length=1000)


class Report(_Part):
    exercise: ExerciseSection
    summary: Summary
    by_country: list[CountryResult]
    recipients: list[RecipientRow]
    channels: list[ChannelFunnel] = []
    findings: Findings = Findings(edited_at=None, items=[])

"""What a scenario is (SPEC §6, §8): a drill, a connectivity test or a consultation.

The models check each field on its own. What needs the whole file or the registry (unique
ids, references between injects, countries and their PoCs, content against the message
schemas) is checked by `ians.scenarios.loader`, which names the line of every mistake:
load scenarios through it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictInt,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from ians.domain.contacts import PointOfContact, Registry, Role
from ians.domain.durations import Duration, format_duration, parse_duration
from ians.domain.limits import MAX_INJECTS, time_problem
from ians.domain.messages import AnyDraft, CountryCode, MessageDraft, MessageType, Mode, Text
from ians.domain.policy import AckPolicy, PolicyOverride, PolicyTable

TIME_FIELDS = frozenset({"occurred_at", "next_update_at", "needed_by", "arrival_estimate"})
"""Content fields holding a time, which a scenario may write relative to its start."""

TIME_HINT = "use start, start+1h, start-20m or an RFC 3339 time with an offset"
DEFAULT_TEST_TEXT = "IAN System communication test: please acknowledge receipt of this message."
QUESTION_TYPES = ("yes_no", "single", "multiple", "scale", "text")
UNKNOWN_QUESTION_TYPE = "unknown question type: use yes_no, single, multiple, scale or text"

_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_START = re.compile(r"start(?:\s*(?P<sign>[+-])\s*(?P<offset>.+))?")
_DRAFT: TypeAdapter[AnyDraft] = TypeAdapter(MessageDraft)
_AWARE: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


def _id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(f"{value!r} is not an id: use up to 64 letters, digits, '-', '_' and '.'")
    return value


Id = Annotated[str, AfterValidator(_id)]


def resolve_time(value: Any, start: datetime) -> Any:
    """`value` as a time if it is `start`, `start+DURATION` or `start-DURATION` (such as
    `start-20m`); any other value unchanged, for the message schema to read or reject."""
    if not isinstance(value, str):
        return value
    match = _START.fullmatch(value.strip())
    if match is None:
        return value
    if match["sign"] is None:
        return start
    try:
        offset = parse_duration(match["offset"])
    except ValueError:
        return value
    return start + offset if match["sign"] == "+" else start - offset


class Inject(BaseModel):
    """One scripted message of a drill, sent `at` after the exercise start."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: Id
    at: Duration
    type: MessageType
    sender: CountryCode | None = Field(None, alias="from")
    to: list[CountryCode]  # at least one: checked with the message schema
    refers_to: Id | None = None
    content: dict[str, Any]
    policy: PolicyOverride | None = None

    def draft(self, mode: Mode, start: datetime, message_ids: Mapping[str, str]) -> AnyDraft:
        """The message to send at `start + at`: content times written relative to the start
        resolved against `start`, and `refers_to` mapped from an inject id to the id of the
        message sent for it.

        Raises KeyError if `message_ids` lacks the inject referred to, and pydantic's
        ValidationError (locations as in `MessageDraft`, led by the type) for bad content.
        """
        content = {
            key: resolve_time(value, start) if key in TIME_FIELDS else value
            for key, value in self.content.items()
        }
        refers_to = None if self.refers_to is None else message_ids[self.refers_to]
        return _DRAFT.validate_python(
            {
                "type": self.type,
                "mode": mode,
                "from": self.sender,
                "to": self.to,
                "refers_to": refers_to,
                "content": content,
            }
        )


class _Timed(BaseModel):
    """What drills and connectivity tests share: a mode, participants and a timeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Text
    description: Text | None = None
    mode: Literal["exercise", "test"]
    participants: list[CountryCode] | None = Field(None, min_length=1)
    policy: PolicyOverride | None = None

    @field_validator("mode", mode="before")
    @classmethod
    def _never_actual(cls, mode: Any) -> Any:
        if mode == Mode.ACTUAL:
            raise ValueError("a scenario never sends actual traffic: use exercise or test")
        return mode

    def participant_codes(self, registry: Registry) -> list[str]:
        """The participating countries: those listed, or every country of `registry`."""
        return (
            list(self.participants) if self.participants is not None else list(registry.countries)
        )

    def timeline(self, registry: Registry) -> list[Inject]:
        """Every inject, in the order they are sent: by `at`, then file order."""
        raise NotImplementedError

    def policy_for(self, inject: Inject, table: PolicyTable) -> AckPolicy:
        """The policy of `inject`'s message: the server's for its type and this mode, then
        this scenario's overrides, then the inject's own."""
        return self.policy_for_type(inject.type, table, inject.policy)

    def policy_for_type(
        self, type_: MessageType, table: PolicyTable, own: PolicyOverride | None = None
    ) -> AckPolicy:
        """The policy of a message of `type_` in this scenario (an inject's `own` last); the
        policy of messages PoCs send during it, such as assistance responses."""
        policy = table.resolve(type_, self.mode)
        for override in (self.policy, own):
            if override is not None:
                policy = policy.with_overrides(override.set_fields())
        return policy


class DrillScenario(_Timed):
    """An exercise: scripted injects sent at offsets from its start."""

    kind: Literal["drill"]
    mode: Literal["exercise", "test"] = "exercise"
    injects: list[Inject] = Field(min_length=1, max_length=MAX_INJECTS)

    def timeline(self, registry: Registry) -> list[Inject]:
        return sorted(self.injects, key=lambda inject: inject.at)  # stable: file order on ties


class ConnectivityTest(_Timed):
    """A communication test: the secretariat sends one test message to every participant."""

    kind: Literal["connectivity_test"]
    mode: Literal["exercise", "test"] = "test"
    text: Text = DEFAULT_TEST_TEXT

    def timeline(self, registry: Registry) -> list[Inject]:
        """One inject `test`, at the start, from the secretariat to every participant."""
        inject = Inject(
            id="test",
            at=timedelta(0),
            type=MessageType.TEST,
            sender=None,
            to=self.participant_codes(registry),
            content={"text": self.text},
        )
        return [inject]


# -- consultations (SPEC §8) ------------------------------------------------------------


class _Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Id
    text: Text
    required: bool = False


def _unique(options: list[str]) -> list[str]:
    for option in options:
        if options.count(option) > 1:
            raise ValueError(f"option {option!r} is listed twice")
    return options


Options = Annotated[list[Text], AfterValidator(_unique)]


class YesNoQuestion(_Question):
    type: Literal["yes_no"]


class SingleChoiceQuestion(_Question):
    type: Literal["single"]
    options: Options = Field(min_length=2)


class MultipleChoiceQuestion(_Question):
    type: Literal["multiple"]
    options: Options = Field(min_length=1)
    min_choices: int | None = Field(None, ge=0)
    max_choices: int | None = Field(None, ge=1)

    @field_validator("min_choices", "max_choices")
    @classmethod
    def _at_most_options(cls, value: int | None, info: ValidationInfo) -> int | None:
        options = info.data.get("options")
        if value is not None and options is not None and value > len(options):
            raise ValueError(f"there are only {len(options)} options")
        low = info.data.get("min_choices")
        if info.field_name == "max_choices" and value is not None and low is not None:
            if value < low:
                raise ValueError(f"must be at least min_choices ({low})")
        return value


class ScaleQuestion(_Question):
    type: Literal["scale"]
    min: StrictInt
    max: StrictInt
    labels: dict[int, Text] | None = None

    @field_validator("max")
    @classmethod
    def _above_min(cls, high: int, info: ValidationInfo) -> int:
        low = info.data.get("min")
        if low is not None and high <= low:
            raise ValueError(f"must be greater than min ({low})")
        return high

    @field_validator("labels")
    @classmethod
    def _on_the_scale(cls, labels: dict[int, str] | None, info: ValidationInfo) -> Any:
        low, high = info.data.get("min"), info.data.get("max")
        for value in labels or {}:
            if low is not None and high is not None and not low <= value <= high:
                raise ValueError(f"label for {value}, which is not on the scale {low}-{high}")
        return labels


class TextQuestion(_Question):
    type: Literal["text"]
    max_length: int = Field(2000, ge=1, le=20_000)


def _question_type(value: Any) -> str | None:
    type_ = value.get("type") if isinstance(value, Mapping) else getattr(value, "type", None)
    return f"{type_} question" if type_ in QUESTION_TYPES else None


# Tags that are not field names, so they never show up in an error's field path
Question = Annotated[
    Annotated[YesNoQuestion, Tag("yes_no question")]
    | Annotated[SingleChoiceQuestion, Tag("single question")]
    | Annotated[MultipleChoiceQuestion, Tag("multiple question")]
    | Annotated[ScaleQuestion, Tag("scale question")]
    | Annotated[TextQuestion, Tag("text question")],
    Discriminator(
        _question_type,
        custom_error_type="question_type",
        custom_error_message=UNKNOWN_QUESTION_TYPE,
    ),
]


def _all_or_list(value: Any) -> str:
    return "all" if value == "all" else "list"


class Audience(BaseModel):
    """Who is invited: every PoC holding one of `roles` in the listed countries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: list[Role] = Field(default_factory=lambda: [Role.NOTIFICATION], min_length=1)
    countries: Annotated[
        Annotated[Literal["all"], Tag("all")]
        | Annotated[list[CountryCode], Tag("list"), Field(min_length=1)],
        Discriminator(_all_or_list),
    ] = "all"

    @field_validator("countries", mode="before")
    @classmethod
    def _all_or_codes(cls, countries: Any) -> Any:
        if isinstance(countries, str) and countries != "all":
            raise ValueError(f"{countries!r}: use all or a list of country codes")
        return countries

    @field_validator("roles")
    @classmethod
    def _distinct(cls, roles: list[Role]) -> list[Role]:
        for role in roles:
            if roles.count(role) > 1:
                raise ValueError(f"role '{role}' is listed twice")
        return roles


def _read_deadline(value: Any) -> timedelta | datetime:
    if isinstance(value, str) and re.match(r"\s*\d{4}-\d\d-\d\d", value):
        try:
            value = _AWARE.validate_python(value.strip())
        except ValidationError:
            raise ValueError(f"{value!r} is not an RFC 3339 time with an offset") from None
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(f"{value.isoformat()} needs an offset, such as Z or +01:00")
        problem = time_problem(value)
        if problem:
            raise ValueError(problem)
        return value
    deadline = parse_duration(value)
    if deadline <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return deadline


def _show_deadline(value: timedelta | datetime) -> str:
    return format_duration(value) if isinstance(value, timedelta) else value.isoformat()


Deadline = Annotated[
    timedelta | datetime,
    PlainValidator(_read_deadline),
    PlainSerializer(_show_deadline, return_type=str),
    WithJsonSchema(
        {"type": "string", "examples": ["14d", "2026-06-30T16:00:00Z"]},
    ),
]
"""After the opening (`14d`) or an absolute RFC 3339 time with an offset."""


class ConsultationScenario(BaseModel):
    """An electronic questionnaire to the points of contact, open until its deadline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["consultation"]
    name: Text
    description: Text | None = None
    audience: Audience = Field(default_factory=Audience)
    deadline: Deadline
    reminders: list[Duration] = Field(default_factory=list)
    questions: list[Question] = Field(min_length=1)

    @field_validator("reminders")
    @classmethod
    def _distinct_positive(cls, reminders: list[timedelta]) -> list[timedelta]:
        for reminder in reminders:
            if reminder <= timedelta(0):
                raise ValueError("reminders are sent before the deadline: use more than 0s")
            if reminders.count(reminder) > 1:
                raise ValueError(f"{format_duration(reminder)} is listed twice")
        return reminders

    def audience_pocs(self, registry: Registry) -> list[PointOfContact]:
        """Every PoC holding one of the audience's roles in its countries, in registry and
        escalation order. Raises NotFound for a listed country not in `registry`."""
        countries = self.audience.countries
        codes = list(registry.countries) if countries == "all" else countries
        return [
            poc
            for code in codes
            for poc in registry.country(code).points_of_contact
            if any(poc.has_role(role) for role in self.audience.roles)
        ]

    def deadline_at(self, opened_at: datetime) -> datetime:
        """When answers stop being accepted, for a consultation opened at `opened_at`."""
        if isinstance(self.deadline, timedelta):
            return opened_at + self.deadline
        return self.deadline


Scenario = Annotated[
    DrillScenario | ConnectivityTest | ConsultationScenario, Field(discriminator="kind")
]
"""Any scenario, told apart by `kind`."""

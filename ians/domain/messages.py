"""The reports of the IAN System (SPEC §4): their content, routing and references."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from ians.domain.contacts import Registry, Role
from ians.domain.limits import time_problem
from ians.errors import InvalidInput

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
_COUNTRY = re.compile(r"[A-Z]{3}")
_CAS = re.compile(r"(\d{2,7})-(\d{2})-(\d)")
_UN = re.compile(r"(?:UN)?\d{4}")


def _country_code(value: str) -> str:
    if not _COUNTRY.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a country code: use ISO 3166-1 alpha-3 in upper case, such as SRB"
        )
    return value


def _cas(value: str) -> str:
    """A CAS registry number, its check digit verified: the digits before it, from the
    right, each times its position, summed, modulo 10."""
    found = _CAS.fullmatch(value)
    if found is None:
        raise ValueError(f"{value!r} is not a CAS number like 7664-41-7")
    digits = (found[1] + found[2])[::-1]
    check = sum(position * int(digit) for position, digit in enumerate(digits, 1)) % 10
    if check != int(found[3]):
        raise ValueError(
            f"{value!r} is not a CAS number: its check digit would be {check} (like 7664-41-7)"
        )
    return value


def _un_digits(value: Any) -> Any:
    """A UN number written as a number (`un: 1005` in YAML or JSON) as its 4 digits."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 9999:
        return f"{value:04d}"
    return value


def _un(value: str) -> str:
    if not _UN.fullmatch(value):
        raise ValueError(f"{value!r} is not a UN number like 1005 or UN1005")
    return value


CountryCode = Annotated[
    str,
    AfterValidator(_country_code),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["SRB"]}),
]
Cas = Annotated[
    str,
    AfterValidator(_cas),
    WithJsonSchema({"type": "string", "pattern": r"^\d{2,7}-\d{2}-\d$", "examples": ["7664-41-7"]}),
]
UnNumber = Annotated[
    str,
    BeforeValidator(_un_digits),
    AfterValidator(_un),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": "^(UN)?\\d{4}$"},
                {"type": "integer", "minimum": 1, "maximum": 9999},
            ],
            "examples": ["1005", "UN1005", 1005],
        }
    ),
]


def _in_range(value: datetime) -> datetime:
    problem = time_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Time = Annotated[AwareDatetime, AfterValidator(_in_range)]
"""A time with an offset, within the range of `ians.domain.limits`."""


class MessageType(StrEnum):
    EARLY_WARNING = "early_warning"
    INFORMATION = "information"
    ASSISTANCE_REQUEST = "assistance_request"
    ASSISTANCE_RESPONSE = "assistance_response"
    TEST = "test"

    @property
    def role(self) -> Role:
        """The PoC role that receives this type."""
        if self in (MessageType.ASSISTANCE_REQUEST, MessageType.ASSISTANCE_RESPONSE):
            return Role.ASSISTANCE
        return Role.NOTIFICATION


class Mode(StrEnum):
    ACTUAL = "actual"
    EXERCISE = "exercise"
    TEST = "test"


class _Content(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(_Content):
    name: Text
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Substance(_Content):
    name: Text
    cas: Cas | None = None
    un: UnNumber | None = None
    quantity: Text | None = None


class EarlyWarningContent(_Content):
    event_type: Literal["fire", "explosion", "release", "other"]
    occurred_at: Time
    location: Location
    facility: Text | None = None
    substances: list[Substance] = Field(default_factory=list, max_length=100)
    severity: Literal["minor", "moderate", "severe", "extreme", "unknown"] = "unknown"
    media: list[Literal["air", "water", "soil"]] = Field(default_factory=list, max_length=3)
    possible_effects: Text | None = None
    measures_taken: Text | None = None
    description: Text | None = None


class InformationContent(_Content):
    developments: Text
    weather: Text | None = None
    protective_actions: Text | None = None
    next_update_at: Time | None = None


class AssistanceItem(_Content):
    kind: Literal["experts", "equipment", "materials", "other"]
    description: Text
    quantity: Text | None = None


class AssistanceRequestContent(_Content):
    assistance: list[AssistanceItem] = Field(min_length=1, max_length=100)
    needed_by: Time | None = None
    delivery_location: Text | None = None
    terms: Text | None = None


class AssistanceResponseContent(_Content):
    decision: Literal["accept", "partial", "decline"]
    offer: Text | None = None
    arrival_estimate: Time | None = None
    terms: Text | None = None


class TestContent(_Content):
    text: Text


Content = (
    EarlyWarningContent
    | InformationContent
    | AssistanceRequestContent
    | AssistanceResponseContent
    | TestContent
)


class _Draft(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    mode: Mode
    sender: CountryCode | None = Field(default=None, alias="from")
    to: list[CountryCode] = Field(min_length=1, max_length=20_000)
    refers_to: str | None = Field(default=None, max_length=100)


class EarlyWarningDraft(_Draft):
    type: Literal[MessageType.EARLY_WARNING]
    content: EarlyWarningContent


class InformationDraft(_Draft):
    type: Literal[MessageType.INFORMATION]
    content: InformationContent


class AssistanceRequestDraft(_Draft):
    type: Literal[MessageType.ASSISTANCE_REQUEST]
    content: AssistanceRequestContent


class AssistanceResponseDraft(_Draft):
    type: Literal[MessageType.ASSISTANCE_RESPONSE]
    content: AssistanceResponseContent


class TestDraft(_Draft):
    type: Literal[MessageType.TEST]
    content: TestContent


MessageDraft = Annotated[
    EarlyWarningDraft
    | InformationDraft
    | AssistanceRequestDraft
    | AssistanceResponseDraft
    | TestDraft,
    Field(discriminator="type"),
]
"""What a sender writes: `POST /api/messages` and scenario injects."""


class Message(BaseModel):
    """A message as sent: the draft plus what the server assigned."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str
    type: MessageType
    mode: Mode
    sender: str | None = Field(alias="from")
    to: list[str]
    sent_at: datetime
    refers_to: str | None = None
    content: Content
    exercise_id: str | None = None
    simulated: bool = False  # a virtual run's (a rehearsal): it reaches nobody's inbox


AnyDraft = (
    EarlyWarningDraft
    | InformationDraft
    | AssistanceRequestDraft
    | AssistanceResponseDraft
    | TestDraft
)


def route(draft: AnyDraft, registry: Registry) -> dict[str, tuple[str, ...]]:
    """Each recipient country with its PoCs for the draft's role, in escalation order.

    Raises InvalidInput naming every field at fault at once (`from`, `to[1]`, `to[3]`):
    a missing or unknown sender, an unknown, repeated or own recipient, or a recipient
    without a PoC of the needed role.
    """
    problems: list[tuple[str, str]] = []
    if draft.sender is None and draft.type is not MessageType.TEST:
        problems.append(("from", f"{_a(draft.type)} needs the sending country"))
    if draft.sender is not None and draft.sender not in registry:
        problems.append(("from", f"no country {draft.sender!r} in the registry"))
    role = draft.type.role
    routes: dict[str, tuple[str, ...]] = {}
    seen: set[str] = set()
    for i, code in enumerate(draft.to):
        field = f"to[{i}]"
        if code in seen:
            problems.append((field, f"{code} is listed twice"))
            continue
        seen.add(code)
        if code not in registry:
            problems.append((field, f"no country {code!r} in the registry"))
        elif code == draft.sender:
            problems.append((field, "a country does not notify itself"))
        elif not (pocs := registry.escalation_ids(code, role)):
            problems.append((field, f"{code} has no {role} point of contact"))
        else:
            routes[code] = pocs
    if problems:
        raise InvalidInput.listing(problems)
    return routes


def _a(type_: MessageType) -> str:
    """The type with its article: `an early_warning`, `a test`."""
    return f"{'an' if type_.value[0] in 'aeiou' else 'a'} {type_.value}"


_MUST_REFER = {
    MessageType.INFORMATION: MessageType.EARLY_WARNING,
    MessageType.ASSISTANCE_RESPONSE: MessageType.ASSISTANCE_REQUEST,
}


def check_reference(draft: AnyDraft, referred: Message | None) -> None:
    """Check `refers_to` against the message it names (None: no such message).

    An information report refers to an early warning of the same sender; a response
    refers to an assistance request sent to the responding country and goes back to
    the requester; any reference names an existing message of the same mode.
    Raises InvalidInput at `refers_to` (or `to`).
    """
    needed = _MUST_REFER.get(draft.type)
    if draft.refers_to is None:
        if needed is not None:
            raise InvalidInput.at("refers_to", f"{_a(draft.type)} must refer to {_a(needed)}")
        return
    if referred is None:
        raise InvalidInput.at("refers_to", f"no message {draft.refers_to!r}")
    if referred.mode is not draft.mode:
        raise InvalidInput.at("refers_to", f"refers to a message in {referred.mode} mode")
    if needed is not None and referred.type is not needed:
        raise InvalidInput.at("refers_to", f"must name {_a(needed)}, not {_a(referred.type)}")
    if draft.type is MessageType.INFORMATION and referred.sender != draft.sender:
        raise InvalidInput.at("refers_to", "names an early warning sent by another country")
    if draft.type is MessageType.ASSISTANCE_RESPONSE:
        if draft.sender not in referred.to:
            raise InvalidInput.at("refers_to", f"that request was not sent to {draft.sender}")
        if referred.sender not in draft.to:
            raise InvalidInput.at("to", f"a response goes to the requester, {referred.sender}")


CONTENT_MODELS: dict[MessageType, type[BaseModel]] = {
    MessageType.EARLY_WARNING: EarlyWarningContent,
    MessageType.INFORMATION: InformationContent,
    MessageType.ASSISTANCE_REQUEST: AssistanceRequestContent,
    MessageType.ASSISTANCE_RESPONSE: AssistanceResponseContent,
    MessageType.TEST: TestContent,
}


_ID_PREFIX = {
    MessageType.EARLY_WARNING: "ew",
    MessageType.INFORMATION: "ir",
    MessageType.ASSISTANCE_REQUEST: "ar",
    MessageType.ASSISTANCE_RESPONSE: "as",
    MessageType.TEST: "te",
}


def message_id(type_: MessageType, suffix: str | None = None) -> str:
    """A message id that shows its type: `ew-<suffix>`, random when no suffix is given."""
    return f"{_ID_PREFIX[type_]}-{suffix or secrets.token_hex(8)}"

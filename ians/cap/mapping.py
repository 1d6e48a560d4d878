"""How IAN content maps to CAP 1.2 fields, both ways (the table of docs/cap.md).

A message's `from` is the CAP `sender` `ians:<country>` (`ians:secretariat` for the
secretariat's test messages); a PoC is `ians:<country>:<poc id>`. Content fields CAP has
no element for travel as `parameter`s named by their IANS field path
(`substances[0].cas`), so a round trip through CAP keeps them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from ians.domain.messages import Message, MessageType, Mode

STATUS = {Mode.ACTUAL: "Actual", Mode.EXERCISE: "Exercise", Mode.TEST: "Test"}
MODE = {status: mode for mode, status in STATUS.items()}

CATEGORY = {"fire": "Fire", "explosion": "Safety", "release": "Env", "other": "Other"}
# a foreign alert without our event code: its first category that says something
EVENT_TYPE = {"Fire": "fire", "Env": "release", "CBRNE": "release"}

SEVERITY = {
    "minor": "Minor",
    "moderate": "Moderate",
    "severe": "Severe",
    "extreme": "Extreme",
    "unknown": "Unknown",
}

EVENT = {
    MessageType.EARLY_WARNING: "Industrial accident",
    MessageType.INFORMATION: "Industrial accident",
    MessageType.ASSISTANCE_REQUEST: "Request for assistance",
    MessageType.ASSISTANCE_RESPONSE: "Response to a request for assistance",
    MessageType.TEST: "Communication test",
}
URGENCY = {
    MessageType.EARLY_WARNING: "Immediate",
    MessageType.INFORMATION: "Expected",
    MessageType.ASSISTANCE_REQUEST: "Expected",
}
CERTAINTY = {MessageType.EARLY_WARNING: "Observed", MessageType.INFORMATION: "Observed"}

TYPE_CODE = "ians:type"
EVENT_TYPE_CODE = "ians:event_type"
SECRETARIAT = "secretariat"
PREFIX = "ians:"

# content fields carried by CAP elements of their own; the rest become parameters
IN_ELEMENTS: dict[MessageType, frozenset[str]] = {
    MessageType.EARLY_WARNING: frozenset(
        {"event_type", "occurred_at", "location", "severity", "description"}
    ),
    MessageType.INFORMATION: frozenset({"developments", "protective_actions"}),
    MessageType.ASSISTANCE_REQUEST: frozenset(),
    MessageType.ASSISTANCE_RESPONSE: frozenset({"offer"}),
    MessageType.TEST: frozenset({"text"}),
}
# the parameters read back from a CAP alert, by the type it becomes
PARAMETERS: dict[MessageType, frozenset[str]] = {
    MessageType.EARLY_WARNING: frozenset(
        {"facility", "substances", "media", "possible_effects", "measures_taken"}
    ),
    MessageType.INFORMATION: frozenset({"weather", "next_update_at"}),
}

HEADLINE_MAX = 160  # CAP: "SHOULD be made as direct and actionable as possible ... 160 characters"

_PATH = re.compile(r"^([a-z_]+)(?:\[(\d{1,3})\]\.([a-z_]+))?$")


def cap_time(at: datetime) -> str:
    """A time as CAP's pattern wants it: UTC, whole seconds, `+00:00` (never `Z`)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def api_time(at: datetime) -> str:
    """A time in a parameter, as the API writes times: RFC 3339 in UTC with `Z`."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def sender_of(country: str | None, poc: str | None = None) -> str:
    who = f"{PREFIX}{country or SECRETARIAT}"
    return f"{who}:{poc}" if poc else who


def country_of(sender: str) -> str | None:
    """The IANS country a CAP `sender` names (`ians:SRB`, `ians:SRB:srb-1`), else None."""
    parts = sender.split(":")
    if len(parts) in (2, 3) and parts[0] + ":" == PREFIX and re.fullmatch(r"[A-Z]{3}", parts[1]):
        return parts[1]
    return None


def reference(message: Message) -> str:
    """The CAP extended message identifier of a message: `sender,identifier,sent`."""
    return f"{sender_of(message.sender)},{message.id},{cap_time(message.sent_at)}"


def headline(message: Message) -> str:
    """One line saying what the message is, for the CAP headline and the feed's titles."""
    c: Any = message.content
    match message.type:
        case MessageType.EARLY_WARNING:
            what = c.event_type
            if c.substances:
                what += " of " + ", ".join(s.name for s in c.substances[:3])
            text = f"Early warning: {what} at {c.location.name}"
        case MessageType.INFORMATION:
            text = f"Information: {c.developments}"
        case MessageType.ASSISTANCE_REQUEST:
            kinds = dict.fromkeys(item.kind for item in c.assistance)
            text = f"Request for assistance: {', '.join(kinds)}"
        case MessageType.ASSISTANCE_RESPONSE:
            text = f"Response to a request for assistance: {c.decision}"
        case _:
            text = f"Communication test: {c.text}"
    text = " ".join(text.split())
    return text if len(text) <= HEADLINE_MAX else text[: HEADLINE_MAX - 1] + "…"


def parameters(message: Message) -> Iterator[tuple[str, str]]:
    """(name, value) of every content field that has no CAP element of its own."""
    skip = IN_ELEMENTS[message.type]
    for name in type(message.content).model_fields:
        if name not in skip:
            yield from _flatten(name, getattr(message.content, name))


def _flatten(path: str, value: object) -> Iterator[tuple[str, str]]:
    if value is None:
        return
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            if value:
                yield path, " ".join(value)
            return
        for i, item in enumerate(value):
            yield from _flatten(f"{path}[{i}]", item)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _flatten(f"{path}.{name}", getattr(value, name))
    elif isinstance(value, datetime):
        yield path, api_time(value)
    else:
        yield path, str(value)


def parameter_path(name: str) -> tuple[str, int | None, str | None] | None:
    """`substances[2].cas` → ('substances', 2, 'cas'); `facility` → ('facility', None, None);
    None for a name that is no IANS field path."""
    match = _PATH.match(name)
    if match is None:
        return None
    root, index, field = match.groups()
    return root, None if index is None else int(index), field

"""Messages and acknowledgements as CAP 1.2 XML, valid against the OASIS schema.

Pure: everything a document needs is passed in. `ians.cap.message_cap` looks up the
referred message and the sender's name for a stored message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from lxml import etree

from ians.cap import mapping as m
from ians.cap.xml import NS
from ians.domain.messages import Message, MessageType

# XML 1.0 has no way to write these characters: each becomes U+FFFD
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_alert(
    message: Message, *, referred: Message | None = None, sender_name: str | None = None
) -> bytes:
    """The message as a CAP `<alert>` (UTF-8, with the XML declaration).

    `referred` is the message its `refers_to` names (its `references`, and an information
    report's category and event come from it); `sender_name` the sending country's name.
    """
    out = _Out()
    _header(
        out,
        identifier=message.id,
        sender=m.sender_of(message.sender),
        sent=message.sent_at,
        message=message,
        msg_type="Update" if message.type is MessageType.INFORMATION else "Alert",
        addresses=" ".join(message.to),
        references=None if referred is None else m.reference(referred),
        incidents=_incident(message, referred),
    )
    out.open("info")
    out.add("language", "en")
    c: Any = message.content
    accident: Any = None
    if message.type is MessageType.EARLY_WARNING:
        accident = c
    elif referred is not None and referred.type is MessageType.EARLY_WARNING:
        accident = referred.content
    out.add("category", m.CATEGORY[accident.event_type] if accident else "Other")
    event = m.EVENT[message.type]
    out.add("event", f"{event}: {accident.event_type}" if accident else event)
    out.add("urgency", m.URGENCY.get(message.type, "Unknown"))
    severity = c.severity if message.type is MessageType.EARLY_WARNING else "unknown"
    out.add("severity", m.SEVERITY[severity])
    out.add("certainty", m.CERTAINTY.get(message.type, "Unknown"))
    out.pair("eventCode", m.TYPE_CODE, message.type.value)
    if accident is not None:
        out.pair("eventCode", m.EVENT_TYPE_CODE, accident.event_type)
    if message.type is MessageType.EARLY_WARNING:
        out.add("onset", m.cap_time(c.occurred_at))
    out.add("senderName", sender_name or None)
    out.add("headline", m.headline(message))
    out.add("description", _description(message))
    if message.type is MessageType.INFORMATION:
        out.add("instruction", c.protective_actions)
    for name, value in m.parameters(message):
        out.pair("parameter", name, value)
    if message.type is MessageType.EARLY_WARNING:
        out.open("area")
        out.add("areaDesc", c.location.name)
        out.add("circle", f"{c.location.lat!r},{c.location.lon!r} 0")
        out.close("area")
    out.close("info")
    return out.done()


def render_ack(message: Message, poc: str, country: str, at: datetime) -> bytes:
    """The PoC's acknowledgement of the message, at `at`, as a CAP `<alert>` of msgType Ack
    whose `references` name the message."""
    out = _Out()
    _header(
        out,
        identifier=f"{message.id}.ack.{poc}",
        sender=m.sender_of(country, poc),
        sent=at,
        message=message,
        msg_type="Ack",
        addresses=message.sender or m.SECRETARIAT,
        references=m.reference(message),
        incidents=None,
    )
    return out.done()


def ack_element(message: Message, poc: str, country: str, at: datetime) -> etree._Element:
    """`render_ack`'s document as an element (to put inside another document)."""
    return etree.fromstring(render_ack(message, poc, country, at))


def _header(
    out: _Out,
    *,
    identifier: str,
    sender: str,
    sent: datetime,
    message: Message,
    msg_type: str,
    addresses: str,
    references: str | None,
    incidents: str | None,
) -> None:
    out.add("identifier", identifier)
    out.add("sender", sender)
    out.add("sent", m.cap_time(sent))
    out.add("status", m.STATUS[message.mode])
    out.add("msgType", msg_type)
    out.add("source", "IANS")
    out.add("scope", "Private")
    out.add("addresses", addresses)
    out.add("note", message.exercise_id)
    out.add("references", references)
    out.add("incidents", incidents)


def _incident(message: Message, referred: Message | None) -> str | None:
    """The early warning an alert belongs to: the accident it is about."""
    if message.type is MessageType.EARLY_WARNING:
        return message.id
    if referred is not None and referred.type is MessageType.EARLY_WARNING:
        return referred.id
    return None


def _description(message: Message) -> str | None:
    c: Any = message.content
    match message.type:
        case MessageType.EARLY_WARNING:
            return str(c.description) if c.description else None
        case MessageType.INFORMATION:
            return str(c.developments)
        case MessageType.ASSISTANCE_REQUEST:
            return "\n".join(_wanted(c.assistance))
        case MessageType.ASSISTANCE_RESPONSE:
            return str(c.offer) if c.offer else None
        case _:
            return str(c.text)


def _wanted(items: Iterable[Any]) -> Iterable[str]:
    for item in items:
        quantity = f" ({item.quantity})" if item.quantity else ""
        yield f"{item.kind}: {item.description}{quantity}"


class _Out:
    """A CAP document written as text: every element in the CAP namespace (the default
    one), every text escaped. A third of the time lxml takes to build the same tree."""

    def __init__(self) -> None:
        self.parts = [_START]

    def add(self, tag: str, text: str | None) -> None:
        """An element with text; nothing at all for None (an absent optional field)."""
        if text is not None:
            self.parts.append(f"<{tag}>{escape(text)}</{tag}>")

    def pair(self, tag: str, name: str, value: str) -> None:
        self.parts.append(
            f"<{tag}><valueName>{escape(name)}</valueName><value>{escape(value)}</value></{tag}>"
        )

    def open(self, tag: str) -> None:
        self.parts.append(f"<{tag}>")

    def close(self, tag: str) -> None:
        self.parts.append(f"</{tag}>")

    def done(self) -> bytes:
        self.parts.append("</alert>")
        return "".join(self.parts).encode()


_START = f'<?xml version="1.0" encoding="UTF-8"?>\n<alert xmlns="{NS}">'
_SPECIAL = re.compile("[&<>\r]|" + _NOT_XML.pattern)


def escape(text: str) -> str:
    """`text` as XML element content: markup escaped, a carriage return kept (`&#13;`),
    and each character XML 1.0 cannot hold (most control characters) as U+FFFD."""
    if _SPECIAL.search(text) is None:  # most texts: nothing to do
        return text
    text = clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r", "&#13;")


def clean(text: str) -> str:
    """`text` with each character XML 1.0 cannot hold (most control characters) as U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)

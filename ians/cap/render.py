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

_Q = f"{{{NS}}}"
# XML 1.0 has no way to write these characters: each becomes U+FFFD
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_alert(
    message: Message, *, referred: Message | None = None, sender_name: str | None = None
) -> bytes:
    """The message as a CAP `<alert>` (UTF-8, with the XML declaration).

    `referred` is the message its `refers_to` names (its `references`, and an information
    report's category and event come from it); `sender_name` the sending country's name.
    """
    root = _header(
        identifier=message.id,
        sender=m.sender_of(message.sender),
        sent=message.sent_at,
        message=message,
        msg_type="Update" if message.type is MessageType.INFORMATION else "Alert",
        addresses=" ".join(message.to),
        references=None if referred is None else m.reference(referred),
        incidents=_incident(message, referred),
    )
    info = _sub(root, "info")
    _sub(info, "language", "en")
    c: Any = message.content
    accident: Any = None
    if message.type is MessageType.EARLY_WARNING:
        accident = c
    elif referred is not None and referred.type is MessageType.EARLY_WARNING:
        accident = referred.content
    _sub(info, "category", m.CATEGORY[accident.event_type] if accident else "Other")
    event = m.EVENT[message.type]
    _sub(info, "event", f"{event}: {accident.event_type}" if accident else event)
    _sub(info, "urgency", m.URGENCY.get(message.type, "Unknown"))
    severity = c.severity if message.type is MessageType.EARLY_WARNING else "unknown"
    _sub(info, "severity", m.SEVERITY[severity])
    _sub(info, "certainty", m.CERTAINTY.get(message.type, "Unknown"))
    _code(info, "eventCode", m.TYPE_CODE, message.type.value)
    if accident is not None:
        _code(info, "eventCode", m.EVENT_TYPE_CODE, accident.event_type)
    if message.type is MessageType.EARLY_WARNING:
        _sub(info, "onset", m.cap_time(c.occurred_at))
    if sender_name:
        _sub(info, "senderName", sender_name)
    _sub(info, "headline", m.headline(message))
    _sub(info, "description", _description(message))
    if message.type is MessageType.INFORMATION:
        _sub(info, "instruction", c.protective_actions)
    for name, value in m.parameters(message):
        _code(info, "parameter", name, value)
    if message.type is MessageType.EARLY_WARNING:
        area = _sub(info, "area")
        _sub(area, "areaDesc", c.location.name)
        _sub(area, "circle", f"{c.location.lat!r},{c.location.lon!r} 0")
    return _bytes(root)


def render_ack(message: Message, poc: str, country: str, at: datetime) -> bytes:
    """The PoC's acknowledgement of the message, at `at`, as a CAP `<alert>` of msgType Ack
    whose `references` name the message."""
    return _bytes(ack_element(message, poc, country, at))


def ack_element(message: Message, poc: str, country: str, at: datetime) -> etree._Element:
    """`render_ack`'s document as an element (to put inside another document)."""
    return _header(
        identifier=f"{message.id}.ack.{poc}",
        sender=m.sender_of(country, poc),
        sent=at,
        message=message,
        msg_type="Ack",
        addresses=message.sender or m.SECRETARIAT,
        references=m.reference(message),
        incidents=None,
    )


def _header(
    *,
    identifier: str,
    sender: str,
    sent: datetime,
    message: Message,
    msg_type: str,
    addresses: str,
    references: str | None,
    incidents: str | None,
) -> etree._Element:
    root = etree.Element(f"{_Q}alert", nsmap={None: NS})
    _sub(root, "identifier", identifier)
    _sub(root, "sender", sender)
    _sub(root, "sent", m.cap_time(sent))
    _sub(root, "status", m.STATUS[message.mode])
    _sub(root, "msgType", msg_type)
    _sub(root, "source", "IANS")
    _sub(root, "scope", "Private")
    _sub(root, "addresses", addresses)
    _sub(root, "note", message.exercise_id)
    _sub(root, "references", references)
    _sub(root, "incidents", incidents)
    return root


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


def _sub(parent: etree._Element, tag: str, text: str | None = "") -> etree._Element:
    """A child element; nothing at all when `text` is None (an absent optional field)."""
    if text is None:
        return parent
    child = etree.SubElement(parent, f"{_Q}{tag}")
    if text:
        child.text = clean(text)
    return child


def clean(text: str) -> str:
    """`text` with each character XML 1.0 cannot hold (most control characters) as U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def _code(parent: etree._Element, tag: str, name: str, value: str) -> None:
    pair = _sub(parent, tag)
    _sub(pair, "valueName", name)
    _sub(pair, "value", value)


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

"""OASIS CAP 1.2 out and in: messages and acknowledgements as CAP alerts, CAP alerts as
drafts of messages, and Atom feeds of messages (the mapping: docs/cap.md).

For a channel that carries CAP (e-mail attachment, webhook body): `message_cap`.
"""

from __future__ import annotations

from ians.cap.parse import CapDraft, draft_of
from ians.cap.render import render_ack, render_alert
from ians.cap.xml import MEDIA_TYPE, NS, read
from ians.domain.contacts import Registry
from ians.domain.messages import Message
from ians.store import Store

__all__ = [
    "MEDIA_TYPE",
    "NS",
    "CapDraft",
    "draft_of",
    "message_cap",
    "read",
    "render_ack",
    "render_alert",
    "sender_name",
]


async def message_cap(store: Store, registry: Registry, message: Message) -> bytes:
    """The stored message as CAP 1.2 XML bytes (UTF-8), as `GET /api/messages/{id}?format=cap`
    serves it: with the message it refers to and the sending country's name looked up."""
    referred = None
    if message.refers_to is not None:
        referred = await store.find_message(message.refers_to)
    return render_alert(message, referred=referred, sender_name=sender_name(registry, message))


def sender_name(registry: Registry, message: Message) -> str:
    """The sending country's name, or `Secretariat` for the secretariat's test messages."""
    if message.sender is None:
        return "Secretariat"
    country = registry.countries.get(message.sender)
    return country.name if country is not None else message.sender

"""Atom feeds (RFC 4287): the messages a caller may read, and a message's CAP Acks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from ians.cap import mapping as m
from ians.cap.render import clean
from ians.domain.messages import Message, Mode

NS = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
_Q = f"{{{NS}}}"


@dataclass(frozen=True, slots=True)
class Link:
    href: str
    rel: str = "alternate"
    type: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    title: str
    updated: datetime
    author: str
    links: tuple[Link, ...] = ()
    summary: str | None = None
    categories: tuple[str, ...] = ()
    content: etree._Element | None = None  # inline XML of its own media type (a CAP Ack)
    content_type: str | None = None


def message_entry(message: Message, url: str, cap_url: str, author: str) -> Entry:
    """A message's entry: titled by its headline (its mode first unless actual), linking
    to the message as CAP (`alternate`) and as JSON (`related`)."""
    mark = "" if message.mode is Mode.ACTUAL else f"[{message.mode.value.upper()}] "
    return Entry(
        id=url,
        title=mark + m.headline(message),
        updated=message.sent_at,
        author=author,
        links=(
            Link(cap_url, "alternate", "application/cap+xml"),
            Link(url, "related", "application/json"),
        ),
        categories=(message.type.value, message.mode.value),
    )


def render_feed(
    *,
    title: str,
    feed_id: str,
    self_url: str,
    updated: datetime,
    entries: Iterable[Entry],
    next_url: str | None = None,
) -> bytes:
    """An Atom feed of `entries`, in the order given."""
    feed = etree.Element(f"{_Q}feed", nsmap={None: NS})
    _sub(feed, "id", feed_id)
    _sub(feed, "title", title)
    _sub(feed, "updated", m.api_time(updated))
    _sub(feed, "generator", "IANS")
    _link(feed, Link(self_url, "self", MEDIA_TYPE))
    if next_url is not None:
        _link(feed, Link(next_url, "next", MEDIA_TYPE))
    for e in entries:
        entry = _sub(feed, "entry")
        _sub(entry, "id", e.id)
        _sub(entry, "title", e.title)
        _sub(entry, "updated", m.api_time(e.updated))
        _sub(_sub(entry, "author"), "name", e.author)
        for link in e.links:
            _link(entry, link)
        for term in e.categories:
            etree.SubElement(entry, f"{_Q}category", term=term)
        if e.summary:
            _sub(entry, "summary", e.summary)
        if e.content is not None:
            content = etree.SubElement(entry, f"{_Q}content", type=e.content_type or "text/xml")
            content.append(e.content)
    return etree.tostring(feed, xml_declaration=True, encoding="UTF-8")


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, f"{_Q}{tag}")
    if text:
        child.text = clean(text)
    return child


def _link(parent: etree._Element, link: Link) -> None:
    attributes = {"rel": link.rel, "href": link.href}
    if link.type:
        attributes["type"] = link.type
    etree.SubElement(parent, f"{_Q}link", attributes)

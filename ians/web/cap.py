"""The API's CAP 1.2 side: messages and acknowledgements as CAP, the Atom feed, and CAP
alerts sent in. Handlers parse, call the same services as the JSON API, render."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from ians import cap
from ians.cap.atom import MEDIA_TYPE as ATOM
from ians.cap.atom import Entry, Link, message_entry, render_feed
from ians.cap.render import ack_element
from ians.domain.messages import AnyDraft, Message, MessageDraft, route
from ians.errors import Forbidden, InvalidInput, UnknownMessage
from ians.store import MessageQuery
from ians.tokens import Principal
from ians.web.http import QueryParams, read_bytes, render
from ians.web.keys import registry_key, tracker_key
from ians.web.lists import DEFAULT_LIMIT, MAX_LIMIT
from ians.wording import located

JSON = "application/json"
CAP_XML = cap.MEDIA_TYPE
FORMATS = ("json", "cap")

_draft: TypeAdapter[AnyDraft] = TypeAdapter(MessageDraft)


class AcknowledgementView(BaseModel):
    model_config = ConfigDict(frozen=True)

    poc: str
    country: str
    acknowledged_at: datetime


class Acknowledgements(BaseModel):
    """Every acknowledgement of a message, first first (a recipient PoC: its country's)."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    acknowledgements: list[AcknowledgementView]


def wants_cap(request: web.Request, *, feed: bool = False) -> bool:
    """Whether the caller asks for CAP: `?format=cap`, or an Accept that prefers
    application/cap+xml (or, for a `feed` of CAP, application/atom+xml) to
    application/json. Raises InvalidInput for another format."""
    params = QueryParams(request)
    fmt = params.choice("format", FORMATS)
    params.check()
    if fmt is not None:
        return fmt == "cap"
    offers = (JSON, cap.MEDIA_TYPE, ATOM) if feed else (JSON, cap.MEDIA_TYPE)
    return preferred(request.headers.get("Accept", ""), offers) != JSON


def preferred(accept: str, offers: tuple[str, ...]) -> str:
    """The offer the Accept header rates highest (ties and no header: the first offer)."""
    best, best_q = offers[0], 0.0
    ranges = []
    for item in accept.split(","):
        media, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        ranges.append((media.strip().lower(), q))
    for offer in offers:
        kind = offer.split("/")[0]
        # the most specific range that matches decides the offer's quality
        quality = next(
            (q for r in (offer, f"{kind}/*", "*/*") for media, q in ranges if media == r), None
        )
        if quality is not None and quality > best_q:
            best, best_q = offer, quality
    return best


def cap_response(body: bytes, media_type: str = cap.MEDIA_TYPE) -> web.Response:
    response = web.Response(body=body, content_type=media_type, charset="utf-8")
    response.headers["Vary"] = "Accept"
    return response


async def message_as_cap(request: web.Request, message: Message) -> web.Response:
    store = request.app[tracker_key].store
    return cap_response(await cap.message_cap(store, request.app[registry_key], message))


async def message_acks(request: web.Request, who: Principal | None) -> web.Response:
    """Every acknowledgement of a message: JSON, or each as a CAP Ack inside an Atom feed."""
    assert who is not None
    as_cap = wants_cap(request, feed=True)
    store = request.app[tracker_key].store
    message = await store.message(request.match_info["message_id"])
    country = await _readable_by(request, who, message)
    acks = sorted(
        (d.acknowledged_at, d.poc, d.country)
        for d in await store.deliveries(message.id)
        if d.acknowledged_at is not None and country in (None, d.country)
    )
    if not as_cap:
        views = [AcknowledgementView(poc=p, country=c, acknowledged_at=at) for at, p, c in acks]
        return render(Acknowledgements(message_id=message.id, acknowledgements=views))
    base = _base(request)
    url = f"{base}/api/messages/{message.id}"
    entries = [
        Entry(
            id=f"{url}/acks/{poc}",
            title=f"{poc} acknowledged {message.id}",
            updated=at,
            author=poc,
            links=(Link(f"{url}?format=cap", "related", cap.MEDIA_TYPE),),
            content=ack_element(message, poc, poc_country, at),
            content_type=cap.MEDIA_TYPE,
        )
        for at, poc, poc_country in acks
    ]
    updated = entries[-1].updated if entries else message.sent_at
    body = render_feed(
        title=f"Acknowledgements of {message.id}",
        feed_id=f"{url}/acks",
        self_url=f"{url}/acks?format=cap",
        updated=updated,
        entries=entries,
    )
    return cap_response(body, ATOM)


async def read_cap_draft(request: web.Request, who: Principal) -> AnyDraft:
    """The draft a CAP alert body stands for, every error naming its CAP line.

    Raises InvalidInput, and what `read_bytes` raises.
    """
    body = await read_bytes(request)
    parsed = cap.draft_of(cap.read(body), None if who.poc is None else who.poc.country)
    try:
        draft = _draft.validate_python(parsed.data)
        if who.poc is None or draft.sender == who.poc.country:  # else: 403 as for JSON
            route(draft, request.app[registry_key])  # here too, so that its errors name a line
    except ValidationError as exc:
        problems = [(e.field, e.message) for e in located(exc, parsed.data)]
        raise parsed.located(InvalidInput.listing(problems)) from None
    except InvalidInput as exc:
        raise parsed.located(exc) from None
    return draft


async def _readable_by(request: web.Request, who: Principal, message: Message) -> str | None:
    """Check that the caller may read the message (as GET /api/messages/{id}); the one
    country whose state it sees, None for all. Raises Forbidden."""
    if who.poc is None:
        return None
    if not await request.app[tracker_key].readable(who.poc, message):
        raise Forbidden("only the secretariat, the sender and the recipients see a message")
    return None if who.poc.country == message.sender else who.poc.country


async def feed(request: web.Request, who: Principal | None) -> web.Response:
    """The messages the caller may read, newest first, as an Atom feed whose entries link
    to their CAP; paged as the lists are (`limit`, `before`, a `next` link)."""
    assert who is not None
    params = QueryParams(request)
    limit = params.whole("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    params.check()
    before = params.text("before")
    tracker = request.app[tracker_key]
    country = None if who.poc is None else who.poc.country
    try:
        found = await tracker.store.list_messages(
            MessageQuery(limit=limit + 1, before=before, visible_to=country)
        )
    except UnknownMessage:
        raise InvalidInput.at(
            "before", f"no message {before!r} to page from: use the last id of the previous page"
        ) from None
    page = found[:limit]
    # what GET /api/messages/{id} shows the caller; a virtual run's messages never happened
    shown = [
        m
        for m in page
        if not m.simulated and (who.poc is None or await tracker.readable(who.poc, m))
    ]
    base = _base(request)
    registry = request.app[registry_key]
    entries = [
        message_entry(
            m,
            f"{base}/api/messages/{m.id}",
            f"{base}/api/messages/{m.id}?format=cap",
            cap.sender_name(registry, m),
        )
        for m in shown
    ]
    more = len(found) > limit
    body = render_feed(
        title="IANS messages" if who.poc is None else f"IANS messages for {who.poc.id}",
        feed_id=f"{base}/api/feed.atom#{'secretariat' if who.poc is None else who.poc.id}",
        self_url=base + str(request.rel_url),
        updated=shown[0].sent_at if shown else tracker.clock.now(),
        entries=entries,
        next_url=base + str(request.rel_url.update_query(before=page[-1].id)) if more else None,
    )
    return cap_response(body, ATOM)


def _base(request: web.Request) -> str:
    return str(request.url.origin())

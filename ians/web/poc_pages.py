"""A point of contact's pages: its inbox, a message for people with `Acknowledge`, and the
answer to a request for assistance its country received.

Each handler parses the form, calls the service the API calls (the tracker), and
renders; the rules (who may read what, what a response holds) are the services'.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from ians.channels.compose import BANNERS, REPORT_WORDS, content_lines
from ians.domain.chase import EventKind, Via
from ians.domain.contacts import PointOfContact
from ians.domain.messages import Message, MessageDraft, MessageType
from ians.errors import Forbidden, IansError, InvalidInput
from ians.live import country_state
from ians.web.browser import Viewer, guarded, see_other
from ians.web.http import invalid_input
from ians.web.keys import consultations_key, registry_key, tracker_key
from ians.web.render import page

INBOX_LIMIT = 1000  # the newest this many; the unacknowledged among them come first
_draft = TypeAdapter(MessageDraft)
_HISTORY = {
    EventKind.DELIVERED: "delivered",
    EventKind.REMINDED: "reminder",
    EventKind.ESCALATED: "escalated to",
    EventKind.ACKNOWLEDGED: "acknowledged by",
    EventKind.GAVE_UP: "chase given up",
}
_DECISIONS = [
    ("accept", "We accept: assistance will be provided"),
    ("partial", "We can provide part of what is asked"),
    ("decline", "We decline"),
]


def own_poc(viewer: Viewer) -> PointOfContact:
    assert viewer.poc is not None  # the page is guarded("poc")
    return viewer.poc


def sender_name(app: web.Application, message: Message) -> str:
    countries = app[registry_key].countries
    sender = message.sender
    return countries[sender].name if sender in countries else "the secretariat"


def country_name(request: web.Request, code: str) -> str:
    country = request.app[registry_key].countries.get(code)
    return country.name if country else code


def about(app: web.Application, message: Message) -> dict[str, Any]:
    """What every page showing a message says about it."""
    return {
        "message": message,
        "mode": message.mode.value,
        "banner": BANNERS[message.mode],
        "words": REPORT_WORDS[message.type],
        "sender": sender_name(app, message),
    }


@guarded("poc")
async def inbox(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    poc = own_poc(viewer)
    store = request.app[tracker_key].store
    items = await store.inbox(poc.id, INBOX_LIMIT)
    # unacknowledged first (neither this PoC nor a colleague did), each group newest first
    items.sort(
        key=lambda i: i.chase.acknowledged_at is None and i.delivery.acknowledged_at is None,
        reverse=True,
    )
    rows = [
        {
            **about(request.app, i.message),
            "delivered_at": i.delivery.delivered_at,
            "mine": i.delivery.acknowledged_at,
            "state": country_state(i.chase),
            "open": i.chase.acknowledged_at is None and i.delivery.acknowledged_at is None,
        }
        for i in items
    ]
    consultations = request.app[consultations_key]
    invited = [
        {
            "id": c.id,
            "name": c.name,
            "deadline": (await consultations.get(c.id)).deadline,
            "closed": c.state != "running",
            "responded_at": None if r is None else r.submitted_at,
        }
        for c, r in await store.invited_to(poc.id)
    ]
    context = viewer.context(title="Inbox", rows=rows, consultations=invited)
    return page(request, "pages/inbox.html", context)


async def _readable(request: web.Request, viewer: Viewer) -> Message:
    """The message of the URL, if this PoC may read it. Raises UnknownMessage, Forbidden."""
    tracker = request.app[tracker_key]
    message = await tracker.store.message(request.match_info["message_id"])
    if not await tracker.readable(own_poc(viewer), message):
        raise Forbidden("this message is not for your country: only its recipients see it")
    return message


def content_rows(message: Message, leave_out: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    """The content for people as (label, value): a time stays a datetime (the page shows it
    in UTC and in the viewer's time), the rest is words."""
    times = {
        k: v
        for k, v in message.content.model_dump(exclude_none=True).items()
        if isinstance(v, datetime)
    }
    words = dict(content_lines(message))
    rows: list[tuple[str, Any]] = []
    for key in message.content.model_dump(mode="json", exclude_none=True):
        label = key.replace("_", " ").capitalize()
        if key in leave_out or (key not in times and label not in words):
            continue
        rows.append((label, times.get(key, words.get(label))))
    return rows


def _where(message: Message) -> dict[str, Any] | None:
    location = getattr(message.content, "location", None)
    if location is None:
        return None
    lat, lon = location.lat, location.lon
    return {
        "name": location.name,
        "lat": lat,
        "lon": lon,
        "map": f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=12/{lat}/{lon}",
    }


@guarded("poc")
async def message_page(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    poc = own_poc(viewer)
    message = await _readable(request, viewer)
    store = request.app[tracker_key].store
    mine = next((d for d in await store.deliveries(message.id) if d.poc == poc.id), None)
    chases = await store.chases(message.id)
    ours = next((c for c in chases if c.country == poc.country), None)
    history = [
        {"at": e.at, "what": _HISTORY[e.kind], "poc": e.poc, "detail": dict(e.detail)}
        for e in await store.events(message.id)
        if e.kind in _HISTORY
        and e.country == poc.country
        and (e.poc in (None, poc.id) or e.kind is not EventKind.DELIVERED)
        and not (e.kind is EventKind.DELIVERED and e.detail.get("channel") not in (None, "inbox"))
    ]
    countries = (
        [
            {"name": country_name(request, c.country), "state": country_state(c), "chase": c}
            for c in chases
        ]
        if message.sender == poc.country
        else []
    )
    respondable = (
        message.type is MessageType.ASSISTANCE_REQUEST
        and mine is not None
        and message.sender is not None
        and message.sender != poc.country
    )
    context = viewer.context(
        title=f"{REPORT_WORDS[message.type]} {message.id}",
        **about(request.app, message),
        lines=content_rows(message, ("location", "substances")),
        where=_where(message),
        substances=getattr(message.content, "substances", []),
        mine=mine,
        ours=ours,
        our_state=None if ours is None else country_state(ours),
        history=history,
        countries=countries,
        respondable=respondable,
        acknowledged=request.query.get("acknowledged") == "1",
    )
    return page(request, "pages/message.html", context)


@guarded("poc")
async def acknowledge(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    message = await _readable(request, viewer)
    await request.app[tracker_key].acknowledge(message.id, own_poc(viewer).id, via=Via.WEB)
    return see_other(f"/messages/{message.id}?acknowledged=1")


def _respond_context(
    request: web.Request,
    viewer: Viewer,
    message: Message,
    values: dict[str, str],
    errors: dict[str, str],
) -> dict[str, Any]:
    return viewer.context(
        title=f"Respond to {message.id}",
        **about(request.app, message),
        decisions=_DECISIONS,
        values=values,
        errors=errors,
        lines=content_rows(message),
    )


async def _request_received(request: web.Request, viewer: Viewer) -> Message:
    """The request for assistance of the URL, which reached this PoC. Raises Forbidden."""
    message = await _readable(request, viewer)
    poc = own_poc(viewer)
    reached = any(
        d.poc == poc.id for d in await request.app[tracker_key].store.deliveries(message.id)
    )
    if message.type is not MessageType.ASSISTANCE_REQUEST or not reached or message.sender is None:
        raise Forbidden("only a request for assistance that reached you can be answered here")
    return message


@guarded("poc")
async def respond_page(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    message = await _request_received(request, viewer)
    context = _respond_context(request, viewer, message, {}, {})
    return page(request, "pages/respond.html", context)


def _field_errors(error: InvalidInput) -> dict[str, str]:
    """`content.offer: ...` details as {"offer": "..."}; the rest under "form"."""
    out: dict[str, str] = {}
    for detail in error.details:
        field = str(detail.get("field", ""))
        name = field.removeprefix("content.").split(".")[0].split("[")[0] or "form"
        out.setdefault(name, str(detail.get("message", "")))
    return out or {"form": error.message}


def _time_value(raw: str, viewer: Viewer) -> str | None:
    """A `datetime-local` field's value read in the viewer's country time, as RFC 3339."""
    if not raw.strip():
        return None
    try:
        local = datetime.fromisoformat(raw.strip())
    except ValueError:
        return raw  # the draft's own check says what is wrong with it
    if local.tzinfo is None and viewer.zone is not None:
        local = local.replace(tzinfo=viewer.zone)
    return local.isoformat()


@guarded("poc")
async def respond(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    message = await _request_received(request, viewer)
    poc = own_poc(viewer)
    form = await request.post()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}
    content: dict[str, Any] = {"decision": values.get("decision", "")}
    for name in ("offer", "terms"):
        if values.get(name, "").strip():
            content[name] = values[name]
    arrival = _time_value(values.get("arrival_estimate", ""), viewer)
    if arrival is not None:
        content["arrival_estimate"] = arrival
    data = {
        "type": "assistance_response",
        "mode": message.mode.value,
        "from": poc.country,
        "to": [message.sender],
        "refers_to": message.id,
        "content": content,
    }
    try:
        try:
            draft = _draft.validate_python(data)
        except ValidationError as exc:
            raise invalid_input(exc, json.dumps(data)) from None
        sent, _ = await request.app[tracker_key].send(draft, by=poc)
    except InvalidInput as error:
        context = _respond_context(request, viewer, message, values, _field_errors(error))
        return page(request, "pages/respond.html", context, status=422)
    except IansError:
        raise
    return see_other(f"/messages/{sent.id}")


def add_poc_pages(app: web.Application) -> None:
    app.router.add_get("/inbox", inbox)
    app.router.add_get("/messages/{message_id}", message_page)
    app.router.add_post("/messages/{message_id}/ack", acknowledge)
    app.router.add_get("/messages/{message_id}/respond", respond_page)
    app.router.add_post("/messages/{message_id}/respond", respond)

"""The secretariat's registry page and its form to send a message.

The form is read into the body `POST /api/messages` takes and checked by the same model
and tracker; the API's 422 details (`content.location.lat`, `to[1]`) are shown beside the
fields they name. A message in `actual` mode is a real accident notification: the form
first shows what would be sent and asks for an explicit confirmation.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web
from multidict import MultiMapping
from pydantic import TypeAdapter, ValidationError

from ians.channels.compose import BANNERS, REPORT_WORDS
from ians.domain.messages import MessageDraft, MessageType, Mode, route
from ians.errors import InvalidInput
from ians.web.browser import Viewer, guarded, see_other
from ians.web.draft_form import ReadForm, content_fields, form_values, read_content
from ians.web.http import invalid_input
from ians.web.keys import registry_key, tracker_key
from ians.web.render import page
from ians.web.views import PocView

_draft = TypeAdapter(MessageDraft)
TYPES = [(t.value, REPORT_WORDS[t]) for t in MessageType]
MODES = [(m.value, BANNERS[m]) for m in Mode]


@guarded("admin")
async def registry_page(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    store = request.app[tracker_key].store
    confirmed = await store.details_confirmed()
    # webhooks switched off after a 410 (the webhook channel's store keeps them), if any
    disabled_of = getattr(store, "disabled_channels", None)
    disabled: dict[tuple[str, str], datetime] = await disabled_of() if disabled_of else {}
    countries = [
        {
            "country": c,
            "pocs": [
                {
                    "view": PocView.of(p, confirmed.get(p.id)),
                    "webhook_off": disabled.get((p.id, "webhook")),
                }
                for p in c.points_of_contact
            ],
        }
        for c in request.app[registry_key].countries.values()
    ]
    context = viewer.context(title="Registry", countries=countries)
    return page(request, "pages/registry.html", context)


def _message_type(raw: str | None) -> MessageType:
    try:
        return MessageType(raw or MessageType.EARLY_WARNING.value)
    except ValueError:
        raise InvalidInput.at(
            "type", f"{raw!r} is not a report type: use one of {', '.join(t for t, _ in TYPES)}"
        ) from None


def _send_context(
    request: web.Request,
    viewer: Viewer,
    type_: MessageType,
    values: dict[str, list[str]],
    errors: dict[str, str],
) -> dict[str, Any]:
    registry = request.app[registry_key]
    return viewer.context(
        title="Send a message",
        type=type_.value,
        words=REPORT_WORDS[type_],
        types=TYPES,
        modes=MODES,
        countries=[(c.code, c.name) for c in registry.countries.values()],
        fields=content_fields(type_),
        values=values,
        errors=errors,
    )


@guarded("admin")
async def send_page(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    type_ = _message_type(request.query.get("type"))
    values = {"mode": [Mode.EXERCISE.value]}  # exercise mode preselected
    return page(request, "pages/send.html", _send_context(request, viewer, type_, values, {}))


def _body(type_: MessageType, form: MultiMapping[Any], read: ReadForm) -> dict[str, Any]:
    def one(name: str) -> str | None:
        raw = form.get(name)
        return raw.strip() if isinstance(raw, str) and raw.strip() else None

    body: dict[str, Any] = {
        "type": type_.value,
        "mode": one("mode") or "",
        "to": [v for v in form.getall("to", []) if isinstance(v, str)],
        "content": read.body,
    }
    for name in ("from", "refers_to"):
        if (value := one(name)) is not None:
            body[name] = value
    return body


def field_errors(error: InvalidInput, read: ReadForm) -> dict[str, str]:
    """The API's details as {form field: message}; `to[2]` is shown at `to`, a detail
    without a field at `form`."""
    out: dict[str, str] = {}
    for detail in error.details:
        path = read.form_path(str(detail.get("field", "")))
        name = "to" if path.startswith("to[") else (path or "form")
        message = str(detail.get("message", ""))
        out[name] = f"{out[name]}; {message}" if name in out else message
    return out or {"form": error.message}


@guarded("admin")
async def send(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    form = await request.post()
    raw_type = form.get("type")
    type_ = _message_type(raw_type if isinstance(raw_type, str) else None)
    values = form_values(form)
    read = read_content(content_fields(type_), form)
    body = _body(type_, form, read)
    tracker = request.app[tracker_key]
    if form.get("edit"):  # back from the confirmation, to change the form
        return page(request, "pages/send.html", _send_context(request, viewer, type_, values, {}))
    try:
        try:
            draft = _draft.validate_python(body)
        except ValidationError as exc:
            raise invalid_input(exc, json.dumps(body)) from None
        if draft.mode is Mode.ACTUAL and form.get("confirm") != "actual":
            route(draft, tracker.registry)  # a draft that cannot go is corrected first
            context = viewer.context(
                title="Confirm: send a real notification",
                words=REPORT_WORDS[type_],
                banner=BANNERS[Mode.ACTUAL],
                body=json.dumps(body, indent=2, ensure_ascii=False),
                recipients=[tracker.registry.countries[c].name for c in draft.to],
                pairs=[(k, v) for k, vs in sorted(values.items()) for v in vs],
            )
            return page(request, "pages/send_confirm.html", context)
        message, _ = await tracker.send(draft, by=None)
    except InvalidInput as error:
        context = _send_context(request, viewer, type_, values, field_errors(error, read))
        return page(request, "pages/send.html", context, status=422)
    return see_other(f"/dashboard?sent={message.id}")


def add_admin_pages(app: web.Application) -> None:
    app.router.add_get("/registry", registry_page)
    app.router.add_get("/send", send_page)
    app.router.add_post("/send", send)

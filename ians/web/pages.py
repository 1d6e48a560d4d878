"""Pages for people that e-mails link to: the acknowledgement link, sign-in links; and the
endpoint that sends a sign-in link.

Plain server-rendered HTML that works without JavaScript. `GET /ack/{token}` shows the
message and an Acknowledge button and changes nothing but recording `link_opened`
(mail scanners open every link); the button POSTs to the same URL, which acknowledges
(a program asking for JSON gets JSON: the `ack_url` of a webhook notice is this URL).
A sign-in link works the same way: GET shows a button, POST uses it up (once) and opens
a session of the web pages (ians/web/signing.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ians.channels.compose import BANNERS, REPORT_WORDS, content_lines
from ians.errors import Conflict, IansError
from ians.links import Opened
from ians.tokens import Principal
from ians.web import render
from ians.web.http import read_body
from ians.web.http import render as render_json
from ians.web.keys import links_key, registry_key, services_key
from ians.web.signing import open_session_for
from ians.web.views import AckView


def page(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    response = render.page(request, template, {"viewer": None, "zone": None, **values}, status)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


def problem(request: web.Request, error: IansError) -> web.Response:
    response = render.problem_page(request, error)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ack_page(request: web.Request, opened: Opened) -> web.Response:
    message = opened.message
    registry = request.app[registry_key]
    sender = message.sender
    return page(
        request,
        "ack.html",
        title=f"{REPORT_WORDS[message.type]} {message.id}",
        mode=message.mode.value,
        banner=BANNERS[message.mode],
        words=REPORT_WORDS[message.type],
        sender=registry.countries[sender].name
        if sender in registry.countries
        else "the secretariat",
        sent_at=_utc(message.sent_at),
        country=opened.country,
        poc=opened.poc,
        message_id=message.id,
        exercise_id=message.exercise_id,
        lines=content_lines(message),
        acknowledged_at=_utc(opened.acknowledged_at) if opened.acknowledged_at else None,
    )


async def show_ack(request: web.Request) -> web.Response:
    try:
        opened = await request.app[links_key].open(request.match_info["token"])
    except IansError as error:
        return problem(request, error)
    return _ack_page(request, opened)


async def post_ack(request: web.Request) -> web.Response:
    """Acknowledge; a program that asks for JSON (`Accept: application/json`, as a webhook
    receiver does with the notice's `ack_url`) gets `{acknowledged_at}` or a JSON error."""
    program = _wants_json(request)
    try:
        opened, result = await request.app[links_key].acknowledge(request.match_info["token"])
    except IansError as error:
        if program:
            raise
        return problem(request, error)
    if program:
        return render_json(AckView(acknowledged_at=result.acknowledged_at))
    return _ack_page(request, opened)


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


class SigninBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")


class SigninAnswer(BaseModel):
    status: str = "accepted"
    message: str = (
        "if this address is registered, a sign-in link is on its way to it (valid 15 minutes, once)"
    )


_signin_body = TypeAdapter(SigninBody)


async def signin_link(request: web.Request, who: Principal | None) -> web.Response:
    body = await read_body(request, _signin_body)
    signin = request.app[services_key].signin
    if signin is None or not signin.on:
        raise Conflict("e-mail is off on this server: ask the secretariat for a token")
    signin.request(body.email)
    return render_json(SigninAnswer(), status=202)


async def show_signin(request: web.Request) -> web.Response:
    try:
        claims = request.app[links_key].signin_claims(request.match_info["token"])
    except IansError as error:
        return problem(request, error)
    return page(request, "signin.html", title="Sign in", poc=claims.poc)


async def post_signin(request: web.Request) -> web.Response:
    try:
        poc = await request.app[links_key].redeem_signin(request.match_info["token"])
    except IansError as error:
        return problem(request, error)
    return await open_session_for(request, poc)


def add_pages(app: web.Application) -> None:
    app.router.add_get("/ack/{token}", show_ack)
    app.router.add_post("/ack/{token}", post_ack)
    app.router.add_get("/signin/{token}", show_signin)
    app.router.add_post("/signin/{token}", post_signin)

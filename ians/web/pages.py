"""Pages for people that e-mails link to: the acknowledgement link, sign-in links.

Plain server-rendered HTML that works without JavaScript. `GET /ack/{token}` shows the
message and an Acknowledge button and changes nothing but recording `link_opened`
(mail scanners open every link); the button POSTs to the same URL, which acknowledges.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jinja2
from aiohttp import web

from ians.channels.compose import BANNERS, REPORT_WORDS, content_lines
from ians.errors import IansError
from ians.links import Opened
from ians.web.keys import links_key, registry_key

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("ians.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never pass it on
    "X-Robots-Tag": "noindex",
}


def page(template: str, status: int = 200, **values: Any) -> web.Response:
    body = _templates.get_template(template).render(**values)
    return web.Response(text=body, status=status, content_type="text/html", headers=_HEADERS)


def problem(error: IansError) -> web.Response:
    titles = {404: "Link not valid", 409: "Not recorded", 403: "Not allowed"}
    return page(
        "problem.html",
        status=error.status if error.status in titles else 400,
        title=titles.get(error.status, "Not recorded"),
        text=error.message,
    )


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ack_page(request: web.Request, opened: Opened) -> web.Response:
    message = opened.message
    registry = request.app[registry_key]
    sender = message.sender
    return page(
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
        return problem(error)
    return _ack_page(request, opened)


async def post_ack(request: web.Request) -> web.Response:
    try:
        opened, _ = await request.app[links_key].acknowledge(request.match_info["token"])
    except IansError as error:
        return problem(error)
    return _ack_page(request, opened)


def add_pages(app: web.Application) -> None:
    app.router.add_get("/ack/{token}", show_ack)
    app.router.add_post("/ack/{token}", post_ack)

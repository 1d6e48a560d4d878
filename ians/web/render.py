"""Rendering the pages: one Jinja2 environment (aiohttp-jinja2) for every page, its filters,
and the headers every page carries.

Templates live in ians/web/templates: `base.html` (the frame every page extends),
`partials/` (pieces several pages or the live stream share) and `pages/` (one per page).
Static files (our CSS, the vendored htmx) are served from ians/web/static at /static/.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from ians.errors import IansError

STATIC = Path(__file__).parent / "static"
# vendored from npm (0BSD), each with its licence beside it: htmx.org 2.0.11, htmx-ext-sse 2.2.4
HTMX = "vendor/htmx-2.0.11.min.js"
HTMX_SSE = "vendor/htmx-ext-sse-2.2.4.min.js"
HEADERS = {
    "Cache-Control": "no-store",
    # some URLs carry a token: never pass them to another site (and `no-referrer` would
    # make the browser send `Origin: null` with our own forms)
    "Referrer-Policy": "same-origin",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # everything from this host; htmx's own indicator style is inline
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline';"
    " frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
}
_TITLES = {
    400: "Not recorded",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Not recorded",
    413: "Too large",
    422: "Please correct the form",
}


def setup(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("ians.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # package files: no stat of the file at each rendering
    )
    env.globals.update(static=static_url, nav_links=nav_links, htmx=HTMX, htmx_sse=HTMX_SSE)
    env.filters["when"] = when
    env.filters["utc"] = utc
    env.tests["datetime"] = lambda value: isinstance(value, datetime)
    app.router.add_static("/static/", STATIC, name="static")


# the menu of each kind of user: (label, path); a new page of theirs adds itself here
ADMIN_NAV: list[tuple[str, str]] = [
    ("Dashboard", "/dashboard"),
    ("Send a message", "/send"),
    ("Exercises", "/exercises"),
    ("Consultations", "/consultations"),
    ("Registry", "/registry"),
]
POC_NAV: list[tuple[str, str]] = [("Inbox", "/inbox"), ("Contact details", "/contact")]


def nav_links(viewer: Any) -> list[tuple[str, str]]:
    return ADMIN_NAV if viewer.is_admin else POC_NAV


@functools.cache
def static_url(name: str) -> str:
    """The URL of a static file, with a hash of its content so that browsers may cache it."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


def utc(at: datetime | None) -> str:
    return "" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@jinja2.pass_context
def when(
    context: jinja2.runtime.Context, at: datetime | None, zone: ZoneInfo | None = None
) -> Markup:
    """A time in UTC and, for a PoC, in its country's time: `2026-11-27 09:00 UTC (10:00
    Belgrade time)`, in a <time> element. `zone`: another time zone than the viewer's."""
    if at is None:
        return Markup("")
    zone = zone or context.get("zone")
    at = at.astimezone(UTC)
    text = f"{at:%Y-%m-%d %H:%M} UTC"
    if zone is not None:
        local = at.astimezone(zone)
        day = "" if local.date() == at.date() else f"{local:%Y-%m-%d} "
        text += f" ({day}{local:%H:%M} {_place(zone)} time)"
    # digits, letters of a zone name and punctuation only: nothing to escape
    return Markup(f'<time datetime="{at:%Y-%m-%dT%H:%M:%SZ}">{text}</time>')


@functools.cache
def _place(zone: ZoneInfo) -> str:
    return escape(str(zone).rsplit("/", 1)[-1].replace("_", " "))


def page(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    """The page rendered with the common context (`viewer` etc. set by the caller)."""
    context = {"request_path": request.path, **context}
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    response.headers.update(HEADERS)
    return response


def fragment(app: web.Application, template: str, context: dict[str, Any]) -> str:
    """A template's HTML alone (a live update), without a request."""
    return aiohttp_jinja2.get_env(app).get_template(template).render(context)


def macro(app: web.Application, template: str, name: str) -> Callable[..., str]:
    """A template's macro, to call from Python for a live update: no template context is
    made for each call, as rendering a whole template makes one."""
    module = aiohttp_jinja2.get_env(app).get_template(template).module
    found: Callable[..., str] = getattr(module, name)
    return found


def problem_page(request: web.Request, error: IansError, **context: Any) -> web.Response:
    """An error as a page for people: its title from the status, its message in words."""
    status = error.status if error.status in _TITLES else 400
    values = {"title": _TITLES.get(status, "Not recorded"), "text": error.message, **context}
    values.setdefault("viewer", None)
    values.setdefault("zone", None)
    return page(request, "problem.html", values, status=status)

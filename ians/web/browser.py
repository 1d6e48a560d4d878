"""The pages' edge with the browser: the session cookie, protection against cross-site
requests, and who may see which page.

Every page handler is wrapped by `guarded`: without a live session it sends the browser
to the sign-in page (`/`), remembering where it was going; on a POST it checks the form's
`csrf` field against the session's token (the synchronizer token) and the `Origin` (or
`Sec-Fetch-Site`) header against this server, so a form on another site changes nothing.
Errors become pages for people, never a stack trace.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web

from ians.domain.contacts import PointOfContact
from ians.errors import Forbidden, IansError
from ians.sessions import LIFETIME, Session
from ians.web.keys import links_key, registry_key, sessions_key
from ians.web.render import problem_page

NO_STORE = {"Cache-Control": "no-store"}
COOKIE = "ians_session"
SIGNIN_COOKIE = "ians_signin"  # the sign-in form's token, before any session exists

Who = Literal["admin", "poc", "anyone signed in"]


@dataclass(frozen=True)
class Viewer:
    """Who is looking at a page, and in which time zone its times are also shown."""

    session: Session
    poc: PointOfContact | None
    zone: ZoneInfo | None
    country_name: str | None

    @property
    def is_admin(self) -> bool:
        return self.poc is None

    @property
    def csrf(self) -> str:
        return self.session.csrf

    def context(self, **values: Any) -> dict[str, Any]:
        """A template context with the viewer in it."""
        return {"viewer": self, "zone": self.zone, **values}


PageHandler = Callable[[web.Request, Viewer], Awaitable[web.StreamResponse]]


def viewer_of(request: web.Request, session: Session) -> Viewer:
    poc = session.who.poc
    if poc is None:
        return Viewer(session, None, None, None)
    country = request.app[registry_key].countries.get(poc.country)
    return Viewer(session, poc, country.tz if country else None, country.name if country else None)


def secure(request: web.Request) -> bool:
    """Whether cookies get `Secure`: the request came over https or links say https."""
    return request.secure or request.app[links_key].public_url.startswith("https://")


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=secure(request),
    )


def drop_cookie(request: web.Request, response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path="/", secure=secure(request), httponly=True, samesite="Lax")


def local_path(target: str | None, default: str) -> str:
    """`target` if it is a path on this server (never `//host` or `https://…`), else `default`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    return default if parts.scheme or parts.netloc else target


def check_origin(request: web.Request) -> None:
    """Refuse a request that a page of another site made. Raises Forbidden."""
    origin = request.headers.get("Origin")
    if origin is not None:
        ours = {f"{request.scheme}://{request.host}"}
        public = urlsplit(request.app[links_key].public_url)
        ours.add(f"{public.scheme}://{public.netloc}")
        if origin not in ours:
            raise Forbidden(f"this form was sent from another site ({origin}): nothing was done")
    elif request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise Forbidden("this form was sent from another site: nothing was done")


def token_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


async def check_csrf(request: web.Request, expected: str) -> None:
    """The form's `csrf` field must carry `expected`, and come from this site. Raises Forbidden."""
    check_origin(request)
    form = await request.post() if request.body_exists else None
    given = form.get("csrf") if form is not None else None
    if not isinstance(given, str) or not token_matches(given, expected):
        raise Forbidden(
            "this form is out of date or was sent from another site: nothing was done;"
            " open the page again and resend it"
        )


async def current_session(request: web.Request) -> Session | None:
    key = request.cookies.get(COOKIE)
    if not key:
        return None
    return await request.app[sessions_key].find(key)


def to_signin(request: web.Request, ended: bool) -> web.Response:
    """Back to the sign-in page, which brings the browser back here once signed in."""
    target = request.path_qs if request.method == "GET" else request.path
    location = f"/?next={quote(target, safe='/')}" + ("&ended=1" if ended else "")
    response = see_other(location)
    if ended:
        drop_cookie(request, response, COOKIE)
    return response


Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guarded(who: Who) -> Callable[[PageHandler], Route]:
    """A page for `who`: signed in, the right kind of user, a POST from this site."""

    def wrap(handler: PageHandler) -> Route:
        async def handle(request: web.Request) -> web.StreamResponse:
            session = await current_session(request)
            if session is None:
                return to_signin(request, ended=COOKIE in request.cookies)
            viewer = viewer_of(request, session)
            try:
                if who == "admin" and not viewer.is_admin:
                    raise Forbidden("this page is the secretariat's")
                if who == "poc" and viewer.is_admin:
                    raise Forbidden("this page is a point of contact's: sign in with its token")
                if request.method == "POST":
                    await check_csrf(request, session.csrf)
                return await handler(request, viewer)
            except IansError as error:
                return problem_page(request, error, viewer=viewer, zone=viewer.zone)

        handle.__name__ = handler.__name__
        return handle

    return wrap


def home(viewer: Viewer) -> str:
    return "/dashboard" if viewer.is_admin else "/inbox"


def see_other(location: str) -> web.Response:
    """The answer to a form: go (GET) there."""
    return web.Response(status=303, headers={"Location": location, **NO_STORE})


def signed_in(request: web.Request, key: str, target: str) -> web.Response:
    """Set the new session's cookie and go on to `target`."""
    response = see_other(target)
    set_cookie(request, response, COOKIE, key)
    drop_cookie(request, response, SIGNIN_COOKIE)
    return response

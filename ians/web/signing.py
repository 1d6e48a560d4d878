"""Signing in and out of the web pages.

`GET /` is the sign-in page (a `Token` field and `Sign in`; a PoC may instead ask for a
sign-in link by e-mail), or, for a browser already signed in, its home page. The form
carries a token of its own, also set as a cookie (there is no session yet to tie it to),
so another site cannot sign a browser in as someone else.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from ians.errors import Forbidden, IansError, Unauthorized
from ians.tokens import Principal
from ians.web.browser import (
    COOKIE,
    SIGNIN_COOKIE,
    Viewer,
    check_origin,
    current_session,
    drop_cookie,
    guarded,
    home,
    local_path,
    see_other,
    set_cookie,
    signed_in,
    token_matches,
    viewer_of,
)
from ians.web.keys import registry_key, services_key, sessions_key
from ians.web.render import page, problem_page


def _form_page(
    request: web.Request, status: int = 200, error: str | None = None, notice: str | None = None
) -> web.Response:
    form_token = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(24)
    signin = request.app[services_key].signin
    ended = request.query.get("ended") == "1"
    context = {
        "title": "Sign in",
        "viewer": None,
        "zone": None,
        "form_token": form_token,
        "next": local_path(request.query.get("next"), ""),
        "error": error,
        "notice": notice
        or ("Your session has ended or expired: sign in again." if ended else None),
        "email_on": signin is not None and signin.on,
    }
    response = page(request, "pages/signin.html", context, status=status)
    set_cookie(request, response, SIGNIN_COOKIE, form_token)
    return response


async def signin_page(request: web.Request) -> web.StreamResponse:
    session = await current_session(request)
    if session is not None:
        return see_other(home(viewer_of(request, session)))
    return _form_page(request)


async def _checked_form(request: web.Request) -> dict[str, str]:
    """The sign-in form's fields, once its token and origin are checked. Raises Forbidden."""
    check_origin(request)
    form = await request.post()
    given = form.get("form_token")
    expected = request.cookies.get(SIGNIN_COOKIE)
    if not isinstance(given, str) or expected is None or not token_matches(given, expected):
        raise Forbidden(
            "this sign-in form is out of date or was sent from another site: open the page"
            " again and sign in"
        )
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def sign_in(request: web.Request) -> web.StreamResponse:
    try:
        form = await _checked_form(request)
    except IansError as error:
        return problem_page(request, error)
    token = form.get("token", "").strip()
    if not token:
        return _form_page(request, 422, error="Enter your token.")
    try:
        key, session = await request.app[sessions_key].sign_in(token)
    except Unauthorized:
        return _form_page(request, 401, error="This token is not valid (or was replaced).")
    target = local_path(form.get("next"), home(viewer_of(request, session)))
    return signed_in(request, key, target)


async def email_link(request: web.Request) -> web.StreamResponse:
    """E-mail a sign-in link (the same answer whether or not the address is registered)."""
    try:
        form = await _checked_form(request)
    except IansError as error:
        return problem_page(request, error)
    signin = request.app[services_key].signin
    address = form.get("email", "").strip()
    if signin is None or not signin.on:
        return _form_page(request, 409, error="E-mail is off on this server: ask for a token.")
    if "@" not in address or len(address) > 320 or " " in address:
        return _form_page(request, 422, error="Enter the e-mail address you are registered with.")
    signin.request(address)
    notice = (
        f"If {address} is registered, a sign-in link is on its way to it (valid 15 minutes, once)."
    )
    return _form_page(request, 202, notice=notice)


@guarded("anyone signed in")
async def sign_out(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    await request.app[sessions_key].sign_out(viewer.session)
    response = see_other("/")
    drop_cookie(request, response, COOKIE)
    return response


async def open_session_for(request: web.Request, poc_id: str) -> web.Response:
    """A sign-in link was used: a session for its PoC, and on to its inbox."""
    poc = request.app[registry_key].poc(poc_id)
    key, _ = await request.app[sessions_key].open(Principal(poc))
    return signed_in(request, key, "/inbox")


def add_signing(app: web.Application) -> None:
    app.router.add_get("/", signin_page)
    app.router.add_post("/session", sign_in)
    app.router.add_post("/session/link", email_link)
    app.router.add_post("/signout", sign_out)

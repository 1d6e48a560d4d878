"""The web pages' sessions and their protection, through the real app on a loopback server:
sign in with a token, the cookie's attributes, CSRF and Origin checks, redirects, sign-out,
expiry, and what a PoC may not see."""

from __future__ import annotations

import re
from datetime import timedelta
from http.cookies import SimpleCookie

from aiohttp import ClientResponse

from ians.clock import ManualClock
from ians.sessions import LIFETIME
from tests.conftest import ADMIN_TOKEN, Api, AppFactory, early_warning

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


async def sign_in(api: Api, token: str, **extra: str) -> ClientResponse:
    page = await api.client.get("/")
    found = FORM_TOKEN.search(await page.text())
    assert found, "the sign-in form carries its token"
    return await api.client.post(
        "/session",
        data={"token": token, "form_token": found[1], **extra},
        allow_redirects=False,
    )


async def csrf_of(api: Api, path: str) -> str:
    page = await api.client.get(path)
    assert page.status == 200, await page.text()
    found = CSRF.search(await page.text())
    assert found, f"{path} has a form with the session's token"
    return found[1]


def cookie_of(response: ClientResponse, name: str) -> str:
    headers = response.headers.getall("Set-Cookie")
    cookie: SimpleCookie = SimpleCookie()
    for header in headers:
        cookie.load(header)
    assert name in cookie, headers
    return next(h for h in headers if h.startswith(f"{name}="))


async def test_the_sign_in_page_has_a_token_field_and_a_sign_in_button(api: Api) -> None:
    page = await api.client.get("/")
    text = await page.text()
    assert page.status == 200 and page.content_type == "text/html"
    assert '<label for="token">Token</label>' in text
    assert '<button type="submit">Sign in</button>' in text
    assert "e-mail me a sign-in link" not in text.lower()  # e-mail is off on this server


async def test_a_token_opens_a_session_with_a_safe_cookie(api: Api) -> None:
    response = await sign_in(api, ADMIN_TOKEN)
    assert response.status == 303 and response.headers["Location"] == "/dashboard"
    header = cookie_of(response, "ians_session").lower()
    assert "httponly" in header and "samesite=lax" in header and "path=/" in header
    assert "secure" not in header  # plain http, links not https
    page = await api.client.get("/dashboard")
    assert page.status == 200 and "Dashboard" in await page.text()
    # signed in, the start page goes home
    home = await api.client.get("/", allow_redirects=False)
    assert home.status == 303 and home.headers["Location"] == "/dashboard"


async def test_cookies_are_secure_when_links_are_https(make_api: AppFactory) -> None:
    from ians.channels.config import ChannelsConfig

    api = await make_api(
        delivery=ChannelsConfig("https://ians.example.org", (), timedelta(seconds=15))
    )
    page = await api.client.get("/")
    assert "; secure" in cookie_of(page, "ians_signin").lower()
    found = FORM_TOKEN.search(await page.text())
    assert found
    # behind a TLS proxy the browser sends the Secure cookie back; this client, on http, not
    response = await api.client.post(
        "/session",
        data={"token": ADMIN_TOKEN, "form_token": found[1]},
        headers={"Cookie": f"ians_signin={found[1]}"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert "; secure" in cookie_of(response, "ians_session").lower()


async def test_a_poc_token_goes_to_the_inbox_and_a_bad_token_is_refused(api: Api) -> None:
    response = await sign_in(api, "not-a-token")
    assert response.status == 401 and "not valid" in await response.text()
    assert "ians_session" not in api.client.session.cookie_jar.filter_cookies(
        api.client.make_url("/")
    )
    response = await sign_in(api, await api.token("hun-1"))
    assert response.status == 303 and response.headers["Location"] == "/inbox"


async def test_pages_need_a_session_and_come_back_after_sign_in(api: Api) -> None:
    for path in ("/inbox", "/dashboard", "/contact", "/messages/ew-1"):
        response = await api.client.get(path, allow_redirects=False)
        assert response.status == 303, path
        assert response.headers["Location"] == f"/?next={path}"
    page = await api.client.get("/?next=/contact")
    form_token = FORM_TOKEN.search(await page.text())
    assert form_token and 'name="next" value="/contact"' in await page.text()
    response = await api.client.post(
        "/session",
        data={"token": await api.token("hun-1"), "form_token": form_token[1], "next": "/contact"},
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/contact"


async def test_next_never_leads_to_another_site(api: Api) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        api.client.session.cookie_jar.clear()
        response = await sign_in(api, ADMIN_TOKEN, next=target)
        assert response.headers["Location"] == "/dashboard", target


async def test_the_sign_in_form_needs_its_token_and_our_origin(api: Api) -> None:
    await api.client.get("/")  # the form's cookie
    response = await api.client.post(
        "/session", data={"token": ADMIN_TOKEN, "form_token": "forged"}, allow_redirects=False
    )
    assert response.status == 403
    page = await api.client.get("/")
    found = FORM_TOKEN.search(await page.text())
    assert found
    response = await api.client.post(
        "/session",
        data={"token": ADMIN_TOKEN, "form_token": found[1]},
        headers={"Origin": "http://evil.example"},
        allow_redirects=False,
    )
    assert response.status == 403 and "another site" in await response.text()
    response = await sign_in(api, ADMIN_TOKEN)
    assert response.status == 303


async def test_a_cross_site_post_is_refused_and_changes_nothing(api: Api) -> None:
    sent = await api.json("POST", "/api/messages", json=early_warning(), status=201)
    await sign_in(api, await api.token("hun-1"))
    csrf = await csrf_of(api, f"/messages/{sent['id']}")
    ack = f"/messages/{sent['id']}/ack"
    # another site's form: the browser sends the cookie (a top-level POST) and its Origin
    refused = await api.client.post(
        ack, data={"csrf": csrf}, headers={"Origin": "https://evil.example"}
    )
    assert refused.status == 403 and "another site" in await refused.text()
    refused = await api.client.post(ack, data={"csrf": "guessed"})
    assert refused.status == 403
    refused = await api.client.post(ack, data={})
    assert refused.status == 403
    refused = await api.client.post(ack, json={"csrf": csrf})  # not a form
    assert refused.status == 403
    message = await api.json("GET", f"/api/messages/{sent['id']}")
    assert all(r["acknowledged_at"] is None for r in message["recipients"])
    done = await api.client.post(ack, data={"csrf": csrf}, allow_redirects=False)
    assert done.status == 303
    message = await api.json("GET", f"/api/messages/{sent['id']}")
    by = {r["country"]: r["acknowledged_by"] for r in message["recipients"]}
    assert by == {"HUN": "hun-1", "ROU": None}
    events = await api.json("GET", f"/api/messages/{sent['id']}/events")
    [acked] = [e for e in events["events"] if e["kind"] == "acknowledged"]
    assert acked["detail"]["via"] == "web"


async def test_sign_out_ends_the_session_everywhere(api: Api) -> None:
    response = await sign_in(api, ADMIN_TOKEN)
    key = re.search(r"ians_session=([^;]+)", cookie_of(response, "ians_session"))
    assert key
    csrf = await csrf_of(api, "/dashboard")
    out = await api.client.post("/signout", data={"csrf": csrf}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/"
    # the old cookie, replayed, opens nothing: the session is gone from the database
    api.client.session.cookie_jar.update_cookies({"ians_session": key[1]})
    again = await api.client.get("/dashboard", allow_redirects=False)
    assert again.status == 303 and again.headers["Location"] == "/?next=/dashboard&ended=1"
    page = await api.client.get(again.headers["Location"])
    assert "Your session has ended" in await page.text()


async def test_a_session_expires_and_survives_a_restart(
    make_api: AppFactory, clock: ManualClock
) -> None:
    api = await make_api()
    response = await sign_in(api, ADMIN_TOKEN)
    key = re.search(r"ians_session=([^;]+)", cookie_of(response, "ians_session"))
    assert key
    await api.client.close()
    api = await make_api()  # the same database file: a restart
    api.client.session.cookie_jar.update_cookies({"ians_session": key[1]})
    assert (await api.client.get("/dashboard", allow_redirects=False)).status == 200
    clock.advance(LIFETIME)
    expired = await api.client.get("/dashboard", allow_redirects=False)
    assert expired.status == 303 and "ended=1" in expired.headers["Location"]


async def test_a_poc_sees_nothing_of_another_countrys(api: Api) -> None:
    sent = await api.json("POST", "/api/messages", json=early_warning(to=["HUN"]), status=201)
    await sign_in(api, await api.token("rou-1"))
    page = await api.client.get(f"/messages/{sent['id']}")
    text = await page.text()
    assert page.status == 403 and "not for your country" in text
    assert "Traceback" not in text and sent["id"] not in text.replace(f"/messages/{sent['id']}", "")
    unknown = await api.client.get("/messages/ew-nothing")
    assert unknown.status == 404 and "no message" in await unknown.text()
    assert (await api.client.get("/dashboard")).status == 403  # the secretariat's


async def test_the_admin_has_no_inbox_page(api: Api) -> None:
    await sign_in(api, ADMIN_TOKEN)
    page = await api.client.get("/inbox")
    assert page.status == 403 and "point of contact" in await page.text()


async def test_a_browser_asking_for_no_such_page_gets_a_page(api: Api) -> None:
    html = {"Accept": "text/html,application/xhtml+xml"}
    page = await api.client.get("/no-such-page", headers=html)
    assert page.status == 404 and page.content_type == "text/html"
    assert "there is no such page" in await page.text()
    wrong = await api.client.put("/inbox", headers=html)
    assert wrong.status == 405 and "PUT is not used" in await wrong.text()
    # the API, and a program on any path, still get JSON
    api_404 = await api.client.get("/api/nothing", headers=html)
    assert api_404.content_type == "application/json"
    assert (await api.client.get("/no-such-page")).content_type == "application/json"

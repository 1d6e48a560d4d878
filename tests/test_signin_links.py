"""Sign-in links by e-mail: sent to a registered address only, the same answer either way,
valid 15 minutes, usable once; a bare GET uses nothing up."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ians.clock import ManualClock
from tests.conftest import Api, AppFactory
from tests.email_fixtures import EMAIL_REGISTRY, PUBLIC_URL, channels, services, text_part
from tests.smtp_sink import SmtpSink

REGISTRY = EMAIL_REGISTRY  # what the `registry` fixture loads (tests/conftest.py)


@pytest.fixture
async def api(make_api: AppFactory, sink: SmtpSink) -> Api:
    return await make_api(delivery=channels(sink.port))


async def ask(api: Api, email: str) -> tuple[int, dict[str, object]]:
    response = await api.call("POST", "/api/signin-link", as_=None, json={"email": email})
    body = await response.json()
    signin = services(api).signin
    assert signin is not None
    await signin.drain()
    return response.status, body


def link_in(sink: SmtpSink) -> str:
    found = re.search(
        rf"{re.escape(PUBLIC_URL)}(/signin/\S+)", text_part(sink.received[-1].message)
    )
    assert found
    return found[1]


async def test_a_registered_address_gets_a_link_and_an_unknown_one_the_same_answer(
    api: Api, sink: SmtpSink
) -> None:
    known = await ask(api, "IAN@hun.example")
    unknown = await ask(api, "nobody@hun.example")
    assert known == unknown == (202, known[1])
    [mail] = await sink.wait_for(1)
    assert mail.rcpt_tos == ["ian@hun.example"]
    assert "hun-1" in text_part(mail.message)


async def test_a_link_signs_in_once_and_a_get_uses_nothing_up(api: Api, sink: SmtpSink) -> None:
    await ask(api, "ian@hun.example")
    await sink.wait_for(1)
    link = link_in(sink)
    for _ in range(2):  # a mail scanner, then the person
        page = await api.client.get(link)
        assert page.status == 200 and "Sign in" in await page.text()
    page = await api.client.post(link)
    assert page.status == 200 and "Signed in as hun-1" in await page.text()
    assert (await api.client.post(link)).status == 404  # once
    assert (await api.client.post(link[:-3] + "abc")).status == 404  # tampered


async def test_a_link_expires_after_15_minutes(
    api: Api, sink: SmtpSink, clock: ManualClock
) -> None:
    await ask(api, "ian@hun.example")
    await sink.wait_for(1)
    clock.advance(timedelta(minutes=15))
    assert (await api.client.post(link_in(sink))).status == 404


async def test_a_flood_of_requests_sends_a_few(api: Api, sink: SmtpSink) -> None:
    for _ in range(10):
        assert (await ask(api, "ian@hun.example"))[0] == 202
    await sink.wait_for(3)
    assert len(sink.received) == 3


@pytest.mark.parametrize("body", [{}, {"email": "no-at-sign"}, {"email": "a@b", "x": 1}])
async def test_a_bad_request_names_the_field(api: Api, body: dict[str, object]) -> None:
    response = await api.call("POST", "/api/signin-link", as_=None, json=body)
    assert response.status == 422
    assert (await response.json())["error"]["details"]


async def test_without_e_mail_the_answer_says_so(make_api: AppFactory) -> None:
    api = await make_api()
    response = await api.call("POST", "/api/signin-link", as_=None, json={"email": "a@b.c"})
    assert response.status == 409

"""The sign-in page's "E-mail me a sign-in link": the same answer for any address, the
link by e-mail, and the link opening a session (the e-mail through a real SMTP sink)."""

from __future__ import annotations

from tests.conftest import Api
from tests.email_fixtures import EMAIL_REGISTRY
from tests.smtp_sink import SmtpSink
from tests.test_signin_links import api, link_in  # noqa: F401 (api: the fixture)
from tests.web.test_sessions import FORM_TOKEN

REGISTRY = EMAIL_REGISTRY  # what the `registry` fixture loads (tests/conftest.py)


async def ask_by_form(api: Api, email: str) -> tuple[int, str]:  # noqa: F811 (the fixture)
    page = await api.client.get("/")
    text = await page.text()
    assert "E-mail me a sign-in link" in text  # e-mail is on
    found = FORM_TOKEN.search(text)
    assert found
    answer = await api.client.post("/session/link", data={"email": email, "form_token": found[1]})
    return answer.status, await answer.text()


async def test_the_form_sends_a_link_that_opens_a_session(
    api: Api,  # noqa: F811
    sink: SmtpSink,
) -> None:
    for address in ("nobody@nowhere.example", "ian@hun.example"):
        status, text = await ask_by_form(api, address)
        assert status == 202 and f"If {address} is registered" in text
    [mail] = await sink.wait_for(1)
    assert mail.rcpt_tos == ["ian@hun.example"]
    page = await api.client.post(link_in(sink))  # the link's button: on to the inbox
    assert page.status == 200 and str(page.url).endswith("/inbox")
    assert "Inbox of hun-1" in await page.text()


async def test_a_bad_address_is_said_beside_the_form(api: Api) -> None:  # noqa: F811
    status, text = await ask_by_form(api, "not an address")
    assert status == 422 and "Enter the e-mail address you are registered with" in text

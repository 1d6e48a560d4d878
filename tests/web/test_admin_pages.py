"""The secretariat's registry page and send form, through the real app on a loopback
server: what they show, each form's CSRF token, a PoC refused, the API's errors beside
their fields, and `actual` only after an explicit confirmation."""

from __future__ import annotations

import re
from typing import Any

from ians.clock import ManualClock
from tests.conftest import ADMIN_TOKEN, Api
from tests.web.test_sessions import csrf_of, sign_in


async def admin(api: Api) -> str:
    """Sign in as the secretariat; the CSRF token of its send form."""
    assert (await sign_in(api, ADMIN_TOKEN)).status == 303
    return await csrf_of(api, "/send")


async def post(api: Api, path: str, data: dict[str, Any] | list[tuple[str, str]]) -> Any:
    origin = str(api.client.make_url("/")).rstrip("/")
    return await api.client.post(path, data=data, allow_redirects=False, headers={"Origin": origin})


def early_warning_form(csrf: str, mode: str = "exercise", **extra: str) -> list[tuple[str, str]]:
    fields = {
        "csrf": csrf,
        "type": "early_warning",
        "mode": mode,
        "from": "SRB",
        "content.event_type": "release",
        "content.occurred_at": "2026-11-27T08:45",
        "content.location.name": "Pančevo",
        "content.location.lat": "44.87",
        "content.location.lon": "20.64",
        "content.substances[1].name": "Ammonia",
        "content.substances[1].cas": "7664-41-7",
        **extra,
    }
    return [*fields.items(), ("to", "HUN"), ("to", "ROU"), ("content.media", "air")]


async def test_the_registry_shows_countries_pocs_hours_channels_and_confirmations(
    api: Api, clock: ManualClock
) -> None:
    await api.json("POST", "/api/pocs/hun-1/confirm-details", as_="hun-1")
    await sign_in(api, ADMIN_TOKEN)
    response = await api.client.get("/registry")
    text = await response.text()
    assert response.status == 200
    for expected in ("Serbia (SRB)", "Hungary (HUN)", "Romania (ROU)", "Europe/Budapest"):
        assert expected in text
    row = re.search(r'<tr id="poc-hun-1">.*?</tr>', text, re.S)
    assert row is not None
    assert "Mon-Fri 08:00-16:00" in row[0]
    # confirmed now (T0, 09:00 UTC): shown in UTC and in Budapest's time
    assert "2026-11-27 09:00 UTC (10:00 Budapest time)" in row[0]
    srb = re.search(r'<tr id="poc-srb-1">.*?</tr>', text, re.S)
    assert srb is not None and "e-mail ian@srb.example" in srb[0]
    assert 'data-confirmed="never"' in srb[0]


async def test_a_poc_gets_a_403_page_for_each_secretariat_page(api: Api) -> None:
    await sign_in(api, await api.token("hun-1"))
    for path in ("/registry", "/send"):
        response = await api.client.get(path)
        assert response.status == 403, path
        assert "the secretariat" in await response.text()
    csrf = await csrf_of(api, "/contact")
    response = await post(api, "/send", early_warning_form(csrf))
    assert response.status == 403
    assert (await api.json("GET", "/api/messages"))["messages"] == []


async def test_signed_out_the_pages_go_to_sign_in(api: Api) -> None:
    for path in ("/registry", "/send"):
        response = await api.client.get(path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == f"/?next={path}"


async def test_the_form_preselects_exercise_and_offers_every_report_type(api: Api) -> None:
    await admin(api)
    text = await (await api.client.get("/send")).text()
    assert re.search(r'value="exercise" checked', text)
    assert not re.search(r'value="actual" checked', text)
    types = ("early_warning", "information", "assistance_request", "assistance_response", "test")
    for value in types:
        assert f'<option value="{value}"' in text
        page = await api.client.get(f"/send?type={value}")
        assert page.status == 200
    assistance = await (await api.client.get("/send?type=assistance_request")).text()
    assert 'name="content.assistance[0].kind"' in assistance
    bad = await api.client.get("/send?type=rumour")
    assert bad.status == 422 and "not a report type" in await bad.text()


async def test_a_message_sent_from_the_form_is_the_apis_message(api: Api) -> None:
    csrf = await admin(api)
    response = await post(api, "/send", early_warning_form(csrf))
    assert response.status == 303, await response.text()
    message_id = response.headers["Location"].removeprefix("/dashboard?sent=")
    message = await api.json("GET", f"/api/messages/{message_id}")
    assert message["mode"] == "exercise" and message["to"] == ["HUN", "ROU"]
    content = message["content"]
    assert content["location"] == {"name": "Pančevo", "lat": 44.87, "lon": 20.64}
    assert content["occurred_at"] == "2026-11-27T08:45:00Z"
    assert [(s["name"], s["cas"]) for s in content["substances"]] == [("Ammonia", "7664-41-7")]
    assert content["media"] == ["air"]
    dashboard = await (await api.client.get(response.headers["Location"])).text()
    assert f"Message {message_id} was sent." in dashboard


async def test_without_the_csrf_token_nothing_is_sent(api: Api) -> None:
    await admin(api)
    response = await post(api, "/send", early_warning_form("forged"))
    assert response.status == 403
    assert (await api.json("GET", "/api/messages"))["messages"] == []


async def test_the_apis_errors_are_shown_beside_their_fields(api: Api) -> None:
    csrf = await admin(api)
    form = early_warning_form(
        csrf, **{"content.location.lat": "north", "content.substances[1].cas": "7664-41-8"}
    )
    form.append(("to", "SRB"))
    response = await post(api, "/send", form)
    text = await response.text()
    assert response.status == 422
    lat = re.search(r'id="f-content-location-lat-error">([^<]*)<', text)
    assert lat is not None and "number" in lat[1]
    # the second row of the form is the first substance of the body: shown at its row
    cas = re.search(r'id="f-content-substances-1-cas-error">([^<]*)<', text)
    assert cas is not None and "check digit" in cas[1]
    assert 'value="north"' in text  # what was typed is kept
    assert (await api.json("GET", "/api/messages"))["messages"] == []


async def test_routing_errors_are_shown_at_to(api: Api) -> None:
    csrf = await admin(api)
    form = [(k, v) for k, v in early_warning_form(csrf) if k != "to"] + [("to", "SRB")]
    response = await post(api, "/send", form)
    text = await response.text()
    assert response.status == 422
    to = re.search(r'id="f-to-error">([^<]*)<', text)
    assert to is not None and "does not notify itself" in to[1]


async def test_actual_is_sent_only_after_its_confirmation(api: Api) -> None:
    csrf = await admin(api)
    first = await post(api, "/send", early_warning_form(csrf, mode="actual"))
    text = await first.text()
    assert first.status == 200 and "Confirm: send a real notification" in text
    assert "Hungary, Romania" in text
    assert (await api.json("GET", "/api/messages"))["messages"] == []
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', text)
    changed = await post(api, "/send", [*hidden, ("edit", "1")])
    assert changed.status == 200 and 'value="actual" checked' in await changed.text()
    assert (await api.json("GET", "/api/messages"))["messages"] == []
    confirmed = await post(api, "/send", [*hidden, ("confirm", "actual")])
    assert confirmed.status == 303, await confirmed.text()
    (message,) = (await api.json("GET", "/api/messages"))["messages"]
    assert message["mode"] == "actual" and message["content"]["substances"][0]["cas"] == "7664-41-7"


async def test_a_draft_that_cannot_go_is_corrected_before_the_confirmation(api: Api) -> None:
    csrf = await admin(api)
    form = [(k, v) for k, v in early_warning_form(csrf, mode="actual") if k != "to"]
    response = await post(api, "/send", [*form, ("to", "SRB")])
    assert response.status == 422
    assert "Confirm: send a real notification" not in await response.text()

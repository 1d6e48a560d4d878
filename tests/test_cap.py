"""CAP 1.2 out: every message type and acknowledgement as CAP valid against the OASIS
schema, with its fields; Accept negotiation and format=cap; what the API description
says. (In: test_cap_in.py; the Atom feed: test_cap_feed.py.)"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from lxml import etree

from ians.cap.xml import NS, SCHEMA_PATH
from ians.clock import ManualClock
from tests.conftest import Api, early_warning

CAP = "application/cap+xml"
Q = f"{{{NS}}}"
ATOM = "{http://www.w3.org/2005/Atom}"
# the OASIS schema, read here on its own: the tests check IANS's output with it directly
OASIS = etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))

FULL_WARNING = early_warning(
    content={
        "event_type": "release",
        "occurred_at": "2026-11-27T08:45:00+01:00",
        "location": {"name": "Pančevo", "lat": 44.87, "lon": 20.64},
        "facility": "HIP Azotara",
        "substances": [
            {"name": "ammonia", "cas": "7664-41-7", "un": "1005", "quantity": "20 t"},
            {"name": "chlorine", "un": "UN1017"},
        ],
        "severity": "severe",
        "media": ["air", "water"],
        "possible_effects": "Irritation of eyes & airways <50 km>",
        "measures_taken": "Area cordoned off",
        "description": "A tank leaks; the plume drifts north-east.",
    }
)


async def send(api: Api, body: dict[str, Any], as_: str = "admin") -> dict[str, Any]:
    result: dict[str, Any] = await api.json("POST", "/api/messages", as_, json=body, status=201)
    return result


async def every_type(api: Api) -> dict[str, dict[str, Any]]:
    """One message of each type, the information and the response referring back."""
    warning = await send(api, FULL_WARNING)
    information = await send(
        api,
        {
            "type": "information",
            "mode": "exercise",
            "from": "SRB",
            "to": ["HUN", "ROU"],
            "refers_to": warning["id"],
            "content": {
                "developments": "Leak stopped at 09:40",
                "weather": "Wind NE 4 m/s",
                "protective_actions": "Stay indoors near the Danube",
                "next_update_at": "2026-11-27T12:00:00+01:00",
            },
        },
    )
    request = await send(
        api,
        {
            "type": "assistance_request",
            "mode": "exercise",
            "from": "SRB",
            "to": ["HUN"],
            "content": {
                "assistance": [
                    {"kind": "experts", "description": "Ammonia team", "quantity": "6"},
                    {"kind": "equipment", "description": "Gas detectors"},
                ],
                "needed_by": "2026-11-27T14:00:00Z",
                "delivery_location": "Pančevo fire station",
            },
        },
    )
    response = await send(
        api,
        {
            "type": "assistance_response",
            "mode": "exercise",
            "from": "HUN",
            "to": ["SRB"],
            "refers_to": request["id"],
            "content": {"decision": "partial", "offer": "Experts only", "terms": "At our cost"},
        },
    )
    test = await send(
        api,
        {
            "type": "test",
            "mode": "test",
            "from": None,
            "to": ["HUN", "ROU", "SRB"],
            "content": {"text": "Communication test \x07 please acknowledge"},
        },
    )
    return {m["type"]: m for m in (warning, information, request, response, test)}


async def get_cap(api: Api, path: str, as_: str = "admin", **kwargs: Any) -> etree._Element:
    response = await api.call("GET", path, as_, **kwargs)
    body = await response.read()
    assert response.status == 200, body
    assert response.content_type in (CAP, "application/atom+xml"), response.content_type
    assert response.headers["Vary"] == "Accept"
    return etree.fromstring(body)


def valid(alert: etree._Element) -> etree._Element:
    OASIS.assertValid(alert)
    return alert


def text(alert: etree._Element, path: str) -> str | None:
    found = alert.find(_q(path))
    return None if found is None else found.text


def _q(path: str) -> str:
    return "/".join(f"{Q}{part}" for part in path.split("/"))


def params(alert: etree._Element) -> dict[str, str]:
    return {
        str(p.findtext(f"{Q}valueName")): str(p.findtext(f"{Q}value"))
        for p in alert.iter(f"{Q}parameter")
    }


async def post_cap(api: Api, body: bytes | str, as_: str = "admin") -> Any:
    data = body.encode() if isinstance(body, str) else body
    response = await api.call(
        "POST", "/api/messages", as_, data=io.BytesIO(data), headers={"Content-Type": CAP}
    )
    return response.status, await response.json()


def alert(status: str = "Exercise", msg_type: str = "Alert", **parts: str) -> str:
    head = parts.get("head", "")
    info = parts.get(
        "info",
        """<info>
    <category>Fire</category>
    <event>Fire at a chemical plant</event>
    <urgency>Immediate</urgency>
    <severity>Extreme</severity>
    <certainty>Observed</certainty>
    <onset>2026-11-27T10:15:00+02:00</onset>
    <description>Fire in the tank farm</description>
    <area><areaDesc>Giurgiu</areaDesc><circle>43.9,25.97 5</circle></area>
  </info>""",
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>RO-IGSU-2026-0042</identifier>
  <sender>{parts.get("sender", "dispecerat@igsu.example.ro")}</sender>
  <sent>2026-11-27T10:20:00+02:00</sent>
  <status>{status}</status>
  <msgType>{msg_type}</msgType>
  <scope>Private</scope>
  <addresses>{parts.get("addresses", "HUN SRB")}</addresses>{head}
  {info}
</alert>"""


async def test_every_message_type_is_valid_cap_with_its_fields(api: Api) -> None:
    sent = await every_type(api)
    alerts = {
        t: valid(await get_cap(api, f"/api/messages/{m['id']}?format=cap")) for t, m in sent.items()
    }
    ew, info = alerts["early_warning"], alerts["information"]
    ew_id = sent["early_warning"]["id"]
    assert [
        text(ew, p) for p in ("identifier", "sender", "sent", "status", "msgType", "scope")
    ] == [ew_id, "ians:SRB", "2026-11-27T09:00:00+00:00", "Exercise", "Alert", "Private"]
    assert text(ew, "addresses") == "HUN ROU"
    assert text(ew, "info/category") == "Env" and text(ew, "info/severity") == "Severe"
    assert text(ew, "info/urgency") == "Immediate" and text(ew, "info/certainty") == "Observed"
    assert text(ew, "info/onset") == "2026-11-27T07:45:00+00:00"
    assert text(ew, "info/senderName") == "Serbia"
    assert text(ew, "info/headline") == "Early warning: release of ammonia, chlorine at Pančevo"
    assert text(ew, "info/area/areaDesc") == "Pančevo"
    assert text(ew, "info/area/circle") == "44.87,20.64 0"
    assert params(ew) == {
        "facility": "HIP Azotara",
        "substances[0].name": "ammonia",
        "substances[0].cas": "7664-41-7",
        "substances[0].un": "1005",
        "substances[0].quantity": "20 t",
        "substances[1].name": "chlorine",
        "substances[1].un": "UN1017",
        "media": "air water",
        "possible_effects": "Irritation of eyes & airways <50 km>",
        "measures_taken": "Area cordoned off",
    }
    assert text(info, "msgType") == "Update"
    assert text(info, "references") == f"ians:SRB,{ew_id},2026-11-27T09:00:00+00:00"
    assert text(info, "incidents") == ew_id
    assert text(info, "info/category") == "Env"  # the accident's, from its early warning
    assert text(info, "info/instruction") == "Stay indoors near the Danube"
    assert params(info) == {"weather": "Wind NE 4 m/s", "next_update_at": "2026-11-27T11:00:00Z"}
    assert params(alerts["assistance_request"])["assistance[1].kind"] == "equipment"
    assert text(alerts["assistance_response"], "references").startswith(
        f"ians:SRB,{sent['assistance_request']['id']},"
    )
    test = alerts["test"]
    assert (text(test, "status"), text(test, "sender")) == ("Test", "ians:secretariat")
    # a control character XML cannot hold is replaced, never a 500
    assert text(test, "info/description") == "Communication test \ufffd please acknowledge"


async def test_every_acknowledgement_is_a_cap_ack(api: Api, clock: ManualClock) -> None:
    message = await send(api, FULL_WARNING)
    path = f"/api/messages/{message['id']}/acks"
    assert (await api.json("GET", path))["acknowledgements"] == []
    clock.advance(timedelta(minutes=7))
    await api.json("POST", f"/api/messages/{message['id']}/ack", "rou-1")
    clock.advance(timedelta(minutes=3))
    await api.json("POST", f"/api/messages/{message['id']}/ack", "hun-1")
    assert (await api.json("GET", path))["acknowledgements"] == [
        {"poc": "rou-1", "country": "ROU", "acknowledged_at": "2026-11-27T09:07:00Z"},
        {"poc": "hun-1", "country": "HUN", "acknowledged_at": "2026-11-27T09:10:00Z"},
    ]
    feed = await get_cap(api, f"{path}?format=cap")
    again = await get_cap(api, path, headers={"Accept": "application/atom+xml"})
    assert etree.tostring(again) == etree.tostring(feed)
    assert feed.tag == f"{ATOM}feed"
    assert [c.get("type") for c in feed.iter(f"{ATOM}content")] == [CAP, CAP]
    acks = [valid(a) for a in feed.iter(f"{Q}alert")]
    assert [(text(a, "msgType"), text(a, "sender"), text(a, "sent")) for a in acks] == [
        ("Ack", "ians:ROU:rou-1", "2026-11-27T09:07:00+00:00"),
        ("Ack", "ians:HUN:hun-1", "2026-11-27T09:10:00+00:00"),
    ]
    assert {text(a, "references") for a in acks} == {
        f"ians:SRB,{message['id']},2026-11-27T09:00:00+00:00"
    }
    assert {text(a, "status") for a in acks} == {"Exercise"}
    # a recipient sees its own country's acknowledgements only
    seen = await api.json("GET", path, "hun-1")
    assert [a["poc"] for a in seen["acknowledgements"]] == ["hun-1"]
    assert [a["poc"] for a in (await api.json("GET", path, "srb-2"))["acknowledgements"]] == [
        "rou-1",
        "hun-1",
    ]
    # a PoC of a recipient country that was never reached reads what its country lists
    seen = await api.json("GET", path, "hun-3")
    assert [a["poc"] for a in seen["acknowledgements"]] == ["hun-1"]


@pytest.mark.parametrize(
    ("accept", "cap"),
    [
        (None, False),
        ("application/json", False),
        (CAP, True),
        ("application/cap+xml; charset=utf-8", True),
        ("application/json;q=0.5, application/cap+xml", True),
        ("application/json, application/cap+xml;q=0.9", False),
        ("application/cap+xml;q=0, */*", False),
        ("application/*", False),  # a tie goes to JSON
        ("text/html", False),
        ("application/cap+xml;q=bogus", False),
    ],
)
async def test_accept_negotiation(api: Api, accept: str | None, cap: bool) -> None:
    message = await send(api, early_warning())
    headers = {} if accept is None else {"Accept": accept}
    response = await api.call("GET", f"/api/messages/{message['id']}", headers=headers)
    assert response.status == 200
    assert response.content_type == (CAP if cap else "application/json")


async def test_format_wins_over_accept_and_a_bad_format_is_named(api: Api) -> None:
    message = await send(api, early_warning())
    path = f"/api/messages/{message['id']}"
    response = await api.call("GET", f"{path}?format=json", headers={"Accept": CAP})
    assert response.content_type == "application/json"
    body = await api.json("GET", f"{path}?format=xml", status=422)
    assert body["error"]["details"] == [
        {"field": "format", "message": "'xml' is not one of json, cap"}
    ]
    # CAP keeps the same authorization as JSON: HUN neither sent nor received this one
    to_rou = await send(api, early_warning(to=["ROU"]))
    for format_ in ("json", "cap"):
        response = await api.call("GET", f"/api/messages/{to_rou['id']}?format={format_}", "hun-3")
        assert response.status == 403


def test_text_that_xml_cannot_hold_as_is_survives_escaped() -> None:
    from ians.cap.render import render_alert
    from ians.domain.messages import Message

    text = 'A & B <tank> "3" \r\n end \x00\x1b \U0001f525'
    message = Message.model_validate(
        {
            "id": "te-1",
            "type": "test",
            "mode": "test",
            "from": None,
            "to": ["HUN"],
            "sent_at": "2026-11-27T09:00:00.123456Z",
            "content": {"text": text},
        }
    )
    document = valid(etree.fromstring(render_alert(message)))
    assert document.findtext(_q("sent")) == "2026-11-27T09:00:00+00:00"  # whole seconds
    assert document.findtext(_q("info/description")) == text.replace("\x00", "\ufffd").replace(
        "\x1b", "\ufffd"
    )


async def test_the_api_description_and_media_types_say_cap(api: Api) -> None:
    paths = (await api.json("GET", "/api/openapi.json", None))["paths"]
    body = paths["/api/messages"]["post"]["requestBody"]["content"]
    assert body[CAP]["schema"]["type"] == "string"
    assert CAP in paths["/api/messages/{message_id}"]["get"]["responses"]["200"]["content"]
    acks = paths["/api/messages/{message_id}/acks"]["get"]["responses"]["200"]["content"]
    assert list(acks) == ["application/json", "application/atom+xml"]
    feed = paths["/api/feed.atom"]["get"]["responses"]["200"]["content"]
    assert list(feed) == ["application/atom+xml"]
    # XML of another media type is refused as any other body, naming both accepted
    response = await api.call(
        "POST", "/api/messages", data=alert().encode(), headers={"Content-Type": "text/xml"}
    )
    assert response.status == 415
    assert (await response.json())["error"]["message"].endswith(
        "send it as application/json or application/cap+xml"
    )
    message = await send(api, early_warning())
    response = await api.call("GET", f"/api/messages/{message['id']}")
    assert response.headers["Vary"] == "Accept"  # the JSON answer too, for caches

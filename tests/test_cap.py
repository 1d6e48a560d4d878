"""CAP 1.2 through the API: every message type and acknowledgement as CAP valid against
the OASIS schema, CAP alerts sent in (round trip out → in), bad CAP refused cleanly,
Accept negotiation, the Atom feed and who may read it."""

from __future__ import annotations

import io
import time
from datetime import timedelta
from typing import Any

import pytest
from lxml import etree
from yarl import URL

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
    # a recipient sees its own country's acknowledgements only; a stranger none
    seen = await api.json("GET", path, "hun-1")
    assert [a["poc"] for a in seen["acknowledgements"]] == ["hun-1"]
    assert [a["poc"] for a in (await api.json("GET", path, "srb-2"))["acknowledgements"]] == [
        "rou-1",
        "hun-1",
    ]
    for stranger in ("hun-2", "hun-3"):  # of the country, never reached
        response = await api.call("GET", path, stranger)
        assert response.status == 403


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
    # CAP keeps the same authorization as JSON
    response = await api.call("GET", f"{path}?format=cap", "hun-3")
    assert response.status == 403


async def post_cap(api: Api, body: bytes | str, as_: str = "admin") -> Any:
    data = body.encode() if isinstance(body, str) else body
    response = await api.call(
        "POST", "/api/messages", as_, data=io.BytesIO(data), headers={"Content-Type": CAP}
    )
    return response.status, await response.json()


async def test_round_trip_out_and_in_keeps_what_cap_carries(api: Api) -> None:
    sent = await every_type(api)
    for type_ in ("early_warning", "information"):
        original = sent[type_]
        response = await api.call("GET", f"/api/messages/{original['id']}?format=cap")
        status, copy = await post_cap(api, await response.read())
        assert status == 201, copy
        assert copy["id"] != original["id"]
        keep = ("type", "mode", "from", "to", "refers_to", "content")
        assert {k: copy[k] for k in keep} == {k: original[k] for k in keep}


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


async def test_a_national_systems_alert_is_an_early_warning_from_its_country(api: Api) -> None:
    status, message = await post_cap(api, alert(), "rou-1")
    assert status == 201, message
    assert (message["type"], message["mode"], message["from"], message["to"]) == (
        "early_warning",
        "exercise",
        "ROU",
        ["HUN", "SRB"],
    )
    assert message["content"] == {
        "event_type": "fire",
        "occurred_at": "2026-11-27T08:15:00Z",
        "location": {"name": "Giurgiu", "lat": 43.9, "lon": 25.97},
        "severity": "extreme",
        "description": "Fire in the tank farm",
        "facility": None,
        "substances": [],
        "media": [],
        "possible_effects": None,
        "measures_taken": None,
    }
    inbox = (await api.json("GET", "/api/inbox", "hun-1"))["messages"]
    assert [m["message"]["id"] for m in inbox] == [message["id"]]
    # its update, with the references a CAP system writes, is information about it
    ours = f"ians:ROU,{message['id']},2026-11-27T08:20:00+00:00"
    theirs = "dispecerat@igsu.example.ro,RO-IGSU-2026-0042,2026-11-27T10:20:00+02:00"
    update = alert(msg_type="Update", head=f"\n  <references>{theirs} {ours}</references>")
    status, info = await post_cap(api, update, "rou-1")
    assert status == 201, info
    assert (info["type"], info["refers_to"]) == ("information", message["id"])
    assert info["content"]["developments"] == "Fire in the tank farm"


async def test_cap_in_follows_the_rules_of_json_in(api: Api) -> None:
    exercise_warning = await send(api, early_warning())
    # a PoC sends for its own country only, whatever the CAP sender says
    for to in ("SRB", "HUN SRB"):
        status, body = await post_cap(api, alert(sender="ians:HUN", addresses=to), "rou-1")
        assert status == 403, body
    # Actual traffic cannot refer to exercise traffic
    ref = f"ians:SRB,{exercise_warning['id']},2026-11-27T09:00:00+00:00"
    status, body = await post_cap(
        api,
        alert("Actual", "Update", addresses="HUN", head=f"<references>{ref}</references>"),
        "srb-1",
    )
    assert status == 422, body
    assert body["error"]["details"][0]["field"] == "refers_to"
    assert "exercise mode" in body["error"]["message"]
    # the secretariat must say which country sends
    status, body = await post_cap(api, alert())
    assert status == 422
    assert body["error"]["details"][0] == {
        "field": "sender",
        "line": 4,
        "message": "name the sending country as ians:<ISO 3166 alpha-3>",
    }
    status, body = await post_cap(api, alert(sender="ians:ROU"))
    assert status == 201 and body["from"] == "ROU"


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol9;</identifier></alert>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&secret;</identifier></alert>"""


@pytest.mark.parametrize(
    ("body", "line", "field", "says"),
    [
        (b"", 1, "", "not well-formed XML: the body is empty"),
        (b'{"type": "early_warning"}', 1, "", "not well-formed XML: Start tag expected"),
        (alert().replace("</alert>", "").encode(), 20, "", "not well-formed XML: Premature end"),
        (BOMB, 2, "", "a DOCTYPE is not allowed: CAP has no DTD"),
        (XXE, 2, "", "a DOCTYPE is not allowed: CAP has no DTD"),
        (b"<a>" * 300, 1, "", "not well-formed XML: elements nested too deep"),
        (
            alert().replace(":cap:1.2", ":cap:1.1").encode(),
            2,
            "alert",
            "the root element is <alert> in namespace urn:oasis:names:tc:emergency:cap:1.1",
        ),
        (
            alert("Bogus").encode(),
            6,
            "status",
            "'Bogus' is not one of 'Actual', 'Exercise', 'System', 'Test', 'Draft'",
        ),
        (alert("Draft").encode(), 6, "status", "'Draft': IANS takes Actual, Exercise or Test"),
        (
            alert().replace("+02:00</sent>", "Z</sent>").encode(),
            5,
            "sent",
            "'2026-11-27T10:20:00Z' is not a CAP time",
        ),
        (alert(msg_type="Cancel").encode(), 7, "msgType", "'Cancel': IANS takes Alert"),
        (alert(msg_type="Update").encode(), 2, "references", "an Update names the alert"),
        (
            alert().replace("<scope>Private</scope>", "").encode(),
            9,
            "addresses",
            "not expected here; expected one of: source, scope",
        ),
        (alert(info="").encode(), 2, "info", "an early_warning needs an <info> block"),
        (alert(addresses="HUN XXX").encode(), 9, "to[1]", "no country 'XXX' in the registry"),
        (alert(addresses="HUN hun").encode(), 9, "to[1]", "'hun' is not a country code"),
        (
            alert().replace("43.9,25.97 5", "93.9,25.97 5").encode(),
            18,
            "content.location.lat",
            "93.9 is too large: must be at most 90",
        ),
        (
            alert().replace("43.9,25.97 5", "north of Giurgiu").encode(),
            18,
            "circle",
            "'north of Giurgiu' is not 'lat,lon radius'",
        ),
        (
            alert()
            .replace(
                "<area>",
                "<parameter><valueName>substances[0].cas</valueName><value>7664</value>"
                "</parameter>\n    <area>",
            )
            .encode(),
            18,
            "content.substances[0].name",
            "required",
        ),
    ],
)
async def test_bad_cap_is_refused_naming_the_line(
    api: Api, body: bytes, line: int, field: str, says: str
) -> None:
    started = time.perf_counter()
    status, answer = await post_cap(api, body, "rou-1")
    assert time.perf_counter() - started < 2  # the bomb is refused unexpanded
    assert status == 422, answer
    first = answer["error"]["details"][0]
    assert (first["line"], first["field"]) == (line, field), answer
    assert says in first["message"], answer
    assert (
        answer["error"]["message"].startswith(f"line {line}:")
        or "line" in answer["error"]["message"]
    )
    assert "root:" not in str(answer)  # never a byte of /etc/passwd
    assert (await api.json("GET", "/api/inbox", "hun-1"))["messages"] == []


async def test_a_cap_body_over_1_mib_is_413(api: Api) -> None:
    huge = alert().replace("Fire in the tank farm", "x" * (1024 * 1024)).encode()
    status, body = await post_cap(api, huge, "rou-1")
    assert status == 413, body


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


async def test_a_polygon_gives_its_mean_point_and_comments_are_no_matter(api: Api) -> None:
    polygon = alert().replace(
        "<circle>43.9,25.97 5</circle>",
        "<polygon>44.0,26.0 44.0,27.0 45.0,27.0 45.0,26.0 44.0,26.0</polygon>",
    )
    commented = polygon.replace(
        "<area>",
        "<parameter><!-- an IANS field --><valueName>facility</valueName>"
        "<value>Tank farm 3</value></parameter><area>",
    )
    status, message = await post_cap(api, commented, "rou-1")
    assert status == 201, message
    assert message["content"]["location"] == {"name": "Giurgiu", "lat": 44.5, "lon": 26.5}
    assert message["content"]["facility"] == "Tank farm 3"


async def feed_of(api: Api, as_: str = "admin", query: str = "") -> etree._Element:
    feed = await get_cap(api, f"/api/feed.atom{query}", as_)
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):  # RFC 4287 4.1.1
        assert feed.findtext(f"{ATOM}{required}"), required
    for entry in feed.iter(f"{ATOM}entry"):  # RFC 4287 4.1.2
        for required in ("id", "title", "updated", "author/" + ATOM + "name"):
            assert entry.findtext(f"{ATOM}{required}"), required
    return feed


def entries(feed: etree._Element) -> list[tuple[str, str]]:
    """(title, CAP link) of each entry, in order."""
    return [
        (
            str(e.findtext(f"{ATOM}title")),
            next(
                str(link.get("href"))
                for link in e.iter(f"{ATOM}link")
                if link.get("rel") == "alternate" and link.get("type") == CAP
            ),
        )
        for e in feed.iter(f"{ATOM}entry")
    ]


async def test_the_feed_lists_what_the_caller_may_read_newest_first(
    api: Api, clock: ManualClock
) -> None:
    sent = []
    for body in (
        early_warning(),  # SRB → HUN, ROU: reaches hun-1 and rou-1
        early_warning(sender="HUN", to=["ROU"]),
        early_warning(sender="ROU", to=["SRB"], mode="actual"),
    ):
        sent.append(await send(api, body))
        clock.advance(timedelta(minutes=1))
    ids = [m["id"] for m in sent]
    everything = entries(await feed_of(api))
    assert [link.rsplit("/", 1)[1] for _, link in everything] == [
        f"{i}?format=cap" for i in reversed(ids)
    ]
    assert everything[0][0] == "Early warning: release at Pančevo"  # actual: no mark
    assert everything[1][0] == "[EXERCISE] Early warning: release at Pančevo"
    # each entry's CAP link serves the message's CAP to the same caller
    for _, link in everything:
        valid(await get_cap(api, URL(link).path_qs))
    # a PoC: what its country sent and what reached it, nothing else
    hun1 = [link for _, link in entries(await feed_of(api, "hun-1"))]
    assert [link.split("/")[-1] for link in hun1] == [
        f"{ids[1]}?format=cap",
        f"{ids[0]}?format=cap",
    ]
    hun3 = [link for _, link in entries(await feed_of(api, "hun-3"))]  # reached by nothing
    assert [link.split("/")[-1] for link in hun3] == [f"{ids[1]}?format=cap"]
    srb = [link for _, link in entries(await feed_of(api, "srb-1"))]
    assert [link.split("/")[-1] for link in srb] == [f"{ids[2]}?format=cap", f"{ids[0]}?format=cap"]


async def test_the_feed_pages_with_a_next_link(api: Api, clock: ManualClock) -> None:
    ids = []
    for _ in range(5):
        ids.append((await send(api, early_warning()))["id"])
        clock.advance(timedelta(seconds=1))
    seen: list[str] = []
    query = "?limit=2"
    for _ in range(5):  # bounded: 3 pages expected
        feed = await feed_of(api, "admin", query)
        seen += [link.split("/")[-1].split("?")[0] for _, link in entries(feed)]
        after = [
            link.get("href") for link in feed.findall(f"{ATOM}link") if link.get("rel") == "next"
        ]
        if not after:
            break
        query = "?" + str(after[0]).split("?", 1)[1]
    assert seen == list(reversed(ids))
    body = await api.json("GET", "/api/feed.atom?limit=0", status=422)
    assert body["error"]["details"][0]["field"] == "limit"


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


async def test_a_rehearsals_messages_are_in_no_feed(api: Api) -> None:
    from tests.test_rehearsals import virtual_drill

    live = await send(api, early_warning())
    _, report = await virtual_drill(api)
    assert report["recipients"]  # the rehearsal sent messages
    for caller in ("admin", "srb-1", "hun-1"):
        links = [link for _, link in entries(await feed_of(api, caller))]
        assert [URL(link).name for link in links] == [live["id"]], caller

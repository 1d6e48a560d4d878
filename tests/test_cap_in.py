"""CAP 1.2 in: an alert sent with Content-Type application/cap+xml becomes an early
warning or information by the rules of JSON; the round trip out → in keeps what CAP
carries; bad CAP (not XML, an entity bomb, the wrong namespace, a bad status, a field
IANS cannot take) is refused cleanly, naming its line."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Api, early_warning
from tests.test_cap import (
    alert,
    every_type,
    post_cap,
    send,
)


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
    assert f"line {line}: " in answer["error"]["message"], answer
    assert "root:" not in str(answer)  # never a byte of /etc/passwd
    assert (await api.json("GET", "/api/inbox", "hun-1"))["messages"] == []


async def test_a_cap_body_over_1_mib_is_413(api: Api) -> None:
    huge = alert().replace("Fire in the tank farm", "x" * (1024 * 1024)).encode()
    status, body = await post_cap(api, huge, "rou-1")
    assert status == 413, body


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

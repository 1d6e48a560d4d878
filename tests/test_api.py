"""The HTTP API against the real app on a loopback server: flows, authorization, bad input."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from openapi_spec_validator import validate

from ians.clock import ManualClock
from ians.web.keys import tracker_key
from tests import pg
from tests.conftest import ADMIN_TOKEN, JSON, Api, early_warning

BOTH_BACKENDS = True  # the API's contract, on SQLite and on PostgreSQL (tests/conftest.py)


async def send(api: Api, body: dict[str, Any] | None = None, as_: str = "admin") -> dict[str, Any]:
    result: dict[str, Any] = await api.json(
        "POST", "/api/messages", as_, json=body or early_warning(), status=201
    )
    return result


async def test_health_and_openapi_are_public(api: Api) -> None:
    assert await api.json("GET", "/api/health", None) == {"status": "ok"}
    spec = await api.json("GET", "/api/openapi.json", None)
    validate(spec)
    assert {"/api/messages", "/api/messages/{message_id}/ack", "/api/inbox"} <= set(spec["paths"])
    draft = spec["components"]["schemas"]["MessageDraft"]
    assert draft["discriminator"]["propertyName"] == "type"


async def test_the_registry_is_served_to_the_admin(api: Api) -> None:
    countries = (await api.json("GET", "/api/countries"))["countries"]
    assert [c["code"] for c in countries] == ["HUN", "ROU", "SRB"]
    assert countries[0]["points_of_contact"] == ["hun-1", "hun-2", "hun-3"]
    pocs = (await api.json("GET", "/api/pocs"))["points_of_contact"]
    assert {p["id"]: p["country"] for p in pocs}["hun-2"] == "HUN"


async def test_quick_tour_send_read_acknowledge_watch_a_reminder(
    api: Api, clock: ManualClock
) -> None:
    message = await send(api)
    assert message["from"] == "SRB" and message["mode"] == "exercise"
    assert "recipients" not in message and message["to"] == ["HUN", "ROU"]
    sent = await api.json("GET", f"/api/messages/{message['id']}")
    assert [r["reached"] for r in sent["recipients"]] == [["hun-1"], ["rou-1"]]
    inbox = (await api.json("GET", "/api/inbox", "hun-1"))["messages"]
    assert [(m["message"]["id"], m["acknowledged_at"]) for m in inbox] == [(message["id"], None)]
    clock.advance(timedelta(minutes=7))
    ack = await api.json("POST", f"/api/messages/{message['id']}/ack", "rou-1")
    assert ack == {"acknowledged_at": "2026-11-27T09:07:00Z"}
    clock.advance(timedelta(minutes=1))
    again = await api.json(
        "POST", f"/api/messages/{message['id']}/ack", "rou-1", json={"note": "seen"}
    )
    assert again == ack
    clock.advance(timedelta(minutes=7))  # 15m: HUN is reminded, ROU is not
    await api.app[tracker_key].timers.run_due()
    status = await api.json("GET", f"/api/messages/{message['id']}")
    assert {r["country"]: (r["status"], r["reminders"]) for r in status["recipients"]} == {
        "HUN": ("pending", 1),
        "ROU": ("acknowledged", 0),
    }
    assert status["recipients"][1]["acknowledged_by"] == "rou-1"


async def test_a_recipient_sees_only_its_own_countrys_state(api: Api) -> None:
    message = await send(api)
    seen = await api.json("GET", f"/api/messages/{message['id']}", "hun-1")
    assert [r["country"] for r in seen["recipients"]] == ["HUN"]
    by_sender = await api.json("GET", f"/api/messages/{message['id']}", "srb-2")
    assert [r["country"] for r in by_sender["recipients"]] == ["HUN", "ROU"]


async def test_a_poc_sends_for_its_own_country(api: Api) -> None:
    message = await send(api, as_="srb-1")
    assert message["from"] == "SRB"
    body = await api.json("POST", "/api/messages", "hun-1", json=early_warning(), status=403)
    assert body["error"]["code"] == "forbidden"


async def test_a_new_token_replaces_the_old_one(api: Api) -> None:
    old = await api.token("hun-1")
    assert (  # used once: the server now knows this header (tokens.py keeps good ones)
        await api.client.get("/api/inbox", headers={"Authorization": f"Bearer {old}"})
    ).status == 200
    new = (await api.json("POST", "/api/pocs/hun-1/token", status=201))["token"]
    assert new != old
    assert (
        await api.client.get("/api/inbox", headers={"Authorization": f"Bearer {old}"})
    ).status == 401
    assert (
        await api.client.get("/api/inbox", headers={"Authorization": f"Bearer {new}"})
    ).status == 200


async def test_tokens_survive_a_restart_and_are_stored_hashed(make_api, db, db_path) -> None:  # type: ignore[no-untyped-def]
    api = await make_api()
    token = await api.token("hun-1")
    await api.client.close()
    if db.startswith("postgresql://"):
        raw = "".join(str(r) for r in await pg.everything(db)).encode()
    else:
        raw = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    assert b"hun-1" in raw  # the tokens table was read
    assert token.encode() not in raw and ADMIN_TOKEN.encode() not in raw
    api = await make_api()
    response = await api.client.get("/api/inbox", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200


# --- the authorization matrix: every endpoint × every kind of caller ---------------------

NO_TOKEN, BAD_TOKEN = "none", "bad"
TEST_DRILL = """\
kind: connectivity_test
name: Matrix test
participants: [SRB, HUN, ROU]
"""
TEST_CONSULTATION = """\
kind: consultation
name: Matrix consultation
audience: {countries: [HUN]}
deadline: 7d
questions: [{id: q1, text: Up to date?, type: yes_no}]
"""
ENDPOINTS = [
    # method, path, body, {caller: expected status}
    ("GET", "/api/health", None, {NO_TOKEN: 200, BAD_TOKEN: 200, "hun-3": 200, "admin": 200}),
    ("GET", "/api/openapi.json", None, {NO_TOKEN: 200, BAD_TOKEN: 200, "hun-3": 200, "admin": 200}),
    ("GET", "/api/countries", None, {NO_TOKEN: 401, BAD_TOKEN: 401, "hun-3": 403, "admin": 200}),
    ("GET", "/api/pocs", None, {NO_TOKEN: 401, BAD_TOKEN: 401, "hun-3": 403, "admin": 200}),
    (
        "POST",
        "/api/pocs/rou-1/token",
        None,
        {NO_TOKEN: 401, BAD_TOKEN: 401, "hun-3": 403, "admin": 201},
    ),
    (
        "POST",
        "/api/pocs/rou-1/confirm-details",
        None,
        {NO_TOKEN: 401, BAD_TOKEN: 401, "hun-3": 403, "rou-1": 200, "admin": 200},
    ),
    (
        "POST",
        "/api/messages",
        early_warning(),
        {NO_TOKEN: 401, BAD_TOKEN: 401, "hun-3": 403, "srb-2": 201, "admin": 201},
    ),
    (
        "GET",
        "/api/messages/{id}",
        None,
        {NO_TOKEN: 401, BAD_TOKEN: 401, "hun-3": 200, "hun-1": 200, "srb-2": 200, "admin": 200},
    ),
    ("GET", "/api/inbox", None, {NO_TOKEN: 401, BAD_TOKEN: 401, "hun-3": 200, "admin": 403}),
    ("GET", "/api/messages", None, {NO_TOKEN: 401, BAD_TOKEN: 401, "rou-1": 200, "admin": 200}),
    (
        "GET",
        "/api/messages/{id}/events",
        None,
        {NO_TOKEN: 401, BAD_TOKEN: 401, "hun-1": 403, "srb-1": 403, "admin": 200},
    ),
    ("GET", "/api/exercises", None, {NO_TOKEN: 401, BAD_TOKEN: 401, "hun-1": 403, "admin": 200}),
    (
        "GET",
        "/api/consultations",
        None,
        {NO_TOKEN: 401, BAD_TOKEN: 401, "hun-1": 403, "admin": 200},
    ),
    (
        "POST",
        "/api/messages/{id}/ack",
        None,
        {NO_TOKEN: 401, BAD_TOKEN: 401, "hun-3": 403, "srb-1": 403, "hun-1": 200, "admin": 403},
    ),
    (
        "POST",
        "/api/exercises",
        {"scenario": TEST_DRILL},
        {NO_TOKEN: 401, BAD_TOKEN: 401, "hun-1": 403, "admin": 201},
    ),
    (
        "GET",
        "/api/exercises/{ex}",
        None,
        {NO_TOKEN: 401, BAD_TOKEN: 401, "hun-1": 403, "admin": 200},
    ),
    (
        "GET",
        "/api/exercises/{ex}/report",
        None,
        {NO_TOKEN: 401, BAD_TOKEN: 401, "hun-1": 403, "admin": 200},
    ),
    (
        "POST",
        "/api/exercises/{ex}/stop",
        None,
        {NO_TOKEN: 401, BAD_TOKEN: 401, "hun-1": 403, "admin": 200},
    ),
    # the consultation invites HUN's PoCs only: rou-1 is the other PoC
    (
        "GET",
        "/api/consultations/{cn}",
        None,
        {NO_TOKEN: 401, BAD_TOKEN: 401, "rou-1": 403, "hun-1": 200, "admin": 200},
    ),
    (
        "POST",
        "/api/consultations/{cn}/responses",
        {"answers": {"q1": True}},
        {NO_TOKEN: 401, BAD_TOKEN: 401, "rou-1": 403, "hun-1": 201, "admin": 403},
    ),
    (
        "GET",
        "/api/consultations/{cn}/results",
        None,
        {NO_TOKEN: 401, BAD_TOKEN: 401, "hun-1": 403, "admin": 200},
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "caller", "expected"),
    [(m, p, b, c, s) for m, p, b, expect in ENDPOINTS for c, s in expect.items()],
)
async def test_authorization_matrix(
    api: Api, method: str, path: str, body: Any, caller: str, expected: int
) -> None:
    message = await send(api)
    exercise = await api.json("POST", "/api/exercises", json={"scenario": TEST_DRILL}, status=201)
    consultation = await api.json(
        "POST", "/api/exercises", json={"scenario": TEST_CONSULTATION}, status=201
    )
    headers = {}
    if caller == BAD_TOKEN:
        headers["Authorization"] = "Bearer not-a-token"
    as_ = None if caller in (NO_TOKEN, BAD_TOKEN) else caller
    url = path.format(id=message["id"], ex=exercise["id"], cn=consultation["id"])
    response = await api.call(method, url, as_, json=body, headers=headers)
    assert response.status == expected, await response.text()
    if expected >= 400:
        error = (await response.json())["error"]
        assert error["code"] in ("unauthorized", "forbidden") and error["message"]


# --- bad input: a clear error, never a 500, nothing stored -------------------------------


@pytest.mark.parametrize(
    ("raw", "status", "field"),
    [
        (b"{not json", 400, None),
        (b"", 400, None),
        (b"[1, 2]", 400, None),
        (b'"text"', 400, None),
        (json.dumps({**early_warning(), "type": "rumour"}).encode(), 422, "type"),
        (
            json.dumps({k: v for k, v in early_warning().items() if k != "type"}).encode(),
            422,
            "type",
        ),
        (json.dumps({**early_warning(), "mode": "drill"}).encode(), 422, "mode"),
        (json.dumps({**early_warning(), "to": "HUN"}).encode(), 422, "to"),
        (json.dumps({**early_warning(), "to": []}).encode(), 422, "to"),
        (json.dumps({**early_warning(), "to": ["hun"]}).encode(), 422, "to[0]"),
        (json.dumps({**early_warning(), "to": ["ZZZ"]}).encode(), 422, "to[0]"),
        (json.dumps({**early_warning(), "surprise": 1}).encode(), 422, "surprise"),
        (
            json.dumps(early_warning(content={"event_type": "fire"})).encode(),
            422,
            "content.occurred_at",
        ),
        (
            json.dumps(
                early_warning(
                    content={
                        **early_warning()["content"],
                        "location": {"name": "X", "lat": 91, "lon": 0},
                    }
                )
            ).encode(),
            422,
            "content.location.lat",
        ),
        (
            json.dumps(
                early_warning(
                    content={**early_warning()["content"], "occurred_at": "2026-11-27T08:45:00"}
                )
            ).encode(),
            422,
            "content.occurred_at",
        ),
        (
            json.dumps(
                early_warning(
                    content={
                        **early_warning()["content"],
                        "substances": [{"name": "NH3", "cas": "7664417"}],
                    }
                )
            ).encode(),
            422,
            "content.substances[0].cas",
        ),
        (json.dumps(early_warning(refers_to="ew-unknown")).encode(), 422, "refers_to"),
        (json.dumps({**early_warning(), "content": None}).encode(), 422, "content"),
    ],
)
async def test_bad_message_bodies(api: Api, raw: bytes, status: int, field: str | None) -> None:
    response = await api.call(
        "POST", "/api/messages", data=raw, headers={"Content-Type": "application/json"}
    )
    body = await response.json()
    assert response.status == status, body
    assert body["error"]["message"]
    if field is not None:
        assert body["error"]["details"][0]["field"] == field
    tracker = api.app[tracker_key]
    assert await tracker.store.pending_timers() == []  # nothing was stored


async def test_a_body_over_1_mib_gets_413_and_the_server_goes_on(api: Api) -> None:
    huge = json.dumps({**early_warning(), "content": {"text": "x" * (1024 * 1024 + 10)}})
    response = await api.call("POST", "/api/messages", data=io.BytesIO(huge.encode()), headers=JSON)
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"
    await send(api)


async def test_unknown_ids_get_404(api: Api) -> None:
    for method, path, as_ in [
        ("GET", "/api/messages/ew-nope", "admin"),
        ("POST", "/api/messages/ew-nope/ack", "hun-1"),
        ("POST", "/api/pocs/nobody/token", "admin"),
        ("GET", "/api/no-such-thing", "admin"),
    ]:
        body = await api.json(method, path, as_, status=404)
        assert body["error"]["code"] == "not_found", body


async def test_wrong_method_and_bad_query_are_json_errors(api: Api) -> None:
    body = await api.json("DELETE", "/api/inbox", "hun-1", status=405)
    assert body["error"]["code"] == "method_not_allowed"
    body = await api.json("GET", "/api/inbox?limit=abc", "hun-1", status=422)
    assert body["error"]["details"][0]["field"] == "limit"


@pytest.mark.parametrize(
    "raw",
    [
        b"{bad",
        b"[]",
        b'{"note": 5}',
        b'{"note": "x", "extra": true}',
        json.dumps({"note": "n" * 2001}).encode(),
    ],
)
async def test_bad_ack_bodies_leave_the_ack_unrecorded(api: Api, raw: bytes) -> None:
    message = await send(api)
    response = await api.call(
        "POST", f"/api/messages/{message['id']}/ack", "hun-1", data=raw, headers=JSON
    )
    assert response.status in (400, 422)
    status = await api.json("GET", f"/api/messages/{message['id']}")
    assert status["recipients"][0]["status"] == "pending"


ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1e308,
    "",
    "x" * 5000,
    [],
    {},
    [None],
    {"": None},
    "\u0000",
    "😀",
    "2026-13-45T99:99:99Z",
]


@pytest.mark.parametrize("value", ODD_VALUES)
async def test_odd_values_in_every_field_never_give_a_500(api: Api, value: Any) -> None:
    base = early_warning()
    paths: list[tuple[str, ...]] = [
        ("type",),
        ("mode",),
        ("from",),
        ("to",),
        ("refers_to",),
        ("content",),
        ("content", "event_type"),
        ("content", "occurred_at"),
        ("content", "location"),
        ("content", "location", "lat"),
    ]
    for path in paths:
        body = json.loads(json.dumps(base))
        target = body
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        response = await api.call("POST", "/api/messages", json=body)
        assert response.status < 500, (path, value, await response.text())

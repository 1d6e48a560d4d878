"""The lists (messages, exercises, consultations) and a message's events: newest first,
paged with `before`, filtered, and shown only to whom they belong. Real app, loopback."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ians.clock import ManualClock
from ians.web.keys import tracker_key
from tests.conftest import Api, early_warning
from tests.test_exercises import DRILL_HUN_ROU

CONSULTATION = """\
kind: consultation
name: Readiness {n}
audience: {{roles: [notification], countries: [HUN]}}
deadline: 2d
questions:
  - {{id: q1, text: Ready?, type: yes_no}}
"""


async def send(api: Api, sender: str = "SRB", to: list[str] | None = None, **extra: Any) -> str:
    body = await api.json(
        "POST", "/api/messages", json=early_warning(sender, to, **extra), status=201
    )
    return str(body["id"])


async def walk(api: Api, url: str, key: str, as_: str = "admin") -> list[str]:
    """Every id of a list, page after page through `next` (bounded)."""
    ids: list[str] = []
    for _ in range(100):
        page = await api.json("GET", url, as_)
        ids += [item["id"] for item in page[key]]
        if page["next"] is None:
            return ids
        url = page["next"]
    raise AssertionError("more than 100 pages")


async def test_messages_come_newest_first_in_pages_that_miss_and_repeat_nothing(
    api: Api, clock: ManualClock
) -> None:
    sent = []
    for i in range(7):
        if i != 3:  # messages 2 and 3 share their time: the id orders them
            clock.advance(timedelta(minutes=1))
        sent.append((clock.now(), await send(api)))
    expected = [m for _, m in sorted(sent, reverse=True)]
    first = await api.json("GET", "/api/messages?limit=3")
    assert [m["id"] for m in first["messages"]] == expected[:3]
    assert first["next"] == f"/api/messages?limit=3&before={expected[2]}"
    clock.advance(timedelta(minutes=1))
    newer = await send(api)  # arrives while the list is walked: on top, not in a later page
    rest = await walk(api, first["next"], "messages")
    assert rest == expected[3:]
    assert await walk(api, "/api/messages?limit=2", "messages") == [newer, *expected]
    assert (await api.json("GET", "/api/messages?limit=1000"))["next"] is None


async def test_message_filters_narrow_the_list_and_the_next_page_keeps_them(
    api: Api, clock: ManualClock
) -> None:
    to_hun = await send(api, to=["HUN"])
    clock.advance(timedelta(seconds=1))
    to_rou = await send(api, to=["ROU"])
    clock.advance(timedelta(seconds=1))
    actual = await send(api, to=["ROU"], mode="actual")
    clock.advance(timedelta(seconds=1))
    from_hun = await send(api, "HUN", ["SRB"])

    async def ids(query: str) -> list[str]:
        return await walk(api, f"/api/messages?limit=1&{query}", "messages")

    assert await ids("country=ROU") == [actual, to_rou]
    assert await ids("country=HUN") == [from_hun, to_hun]
    assert await ids("mode=actual") == [actual]
    assert await ids("mode=exercise&country=ROU") == [to_rou]
    assert await ids("country=SRB") == [from_hun, actual, to_rou, to_hun]
    page = await api.json("GET", "/api/messages?limit=1&country=ROU&mode=exercise")
    assert page["next"] is None
    page = await api.json("GET", "/api/messages?country=ROU&limit=1")
    assert page["next"] == f"/api/messages?country=ROU&limit=1&before={actual}"


async def test_an_exercises_messages_are_listed_by_exercise(api: Api) -> None:
    outside = await send(api)
    exercise = await api.json(
        "POST", "/api/exercises", json={"scenario": DRILL_HUN_ROU}, status=201
    )
    await api.app[tracker_key].timers.run_due()  # the drill's first inject falls due at once
    listed = await api.json("GET", f"/api/messages?exercise={exercise['id']}")
    assert listed["messages"], "the drill's first inject is sent at its start"
    assert {m["exercise_id"] for m in listed["messages"]} == {exercise["id"]}
    assert outside not in {m["id"] for m in listed["messages"]}


async def test_a_poc_lists_only_what_its_country_sent_or_received(
    api: Api, clock: ManualClock
) -> None:
    to_hun = await send(api, to=["HUN", "ROU"])
    clock.advance(timedelta(seconds=1))
    to_rou = await send(api, to=["ROU"])
    clock.advance(timedelta(seconds=1))
    from_hun = await send(api, "HUN", ["ROU"])
    assert await walk(api, "/api/messages?limit=1", "messages", "hun-3") == [from_hun, to_hun]
    assert await walk(api, "/api/messages", "messages", "rou-1") == [from_hun, to_rou, to_hun]
    # a filter narrows a PoC's list further; it never widens it
    srb_rou = await walk(api, "/api/messages?country=SRB", "messages", "rou-1")
    assert srb_rou == [to_rou, to_hun]
    assert await walk(api, "/api/messages?country=SRB", "messages", "hun-1") == [to_hun]


async def test_every_message_a_poc_lists_it_can_open(api: Api) -> None:
    to_hun = await send(api, to=["HUN"])  # reaches hun-1 only, yet it is HUN's message
    assert await walk(api, "/api/messages", "messages", "hun-3") == [to_hun]
    opened = await api.json("GET", f"/api/messages/{to_hun}", "hun-3")
    assert [r["country"] for r in opened["recipients"]] == ["HUN"]
    await api.json("GET", f"/api/messages/{to_hun}", "rou-1", status=403)
    await api.json("POST", f"/api/messages/{to_hun}/ack", "hun-3", status=403)


async def test_a_poc_cannot_page_from_a_message_it_may_not_see(api: Api) -> None:
    hidden = await send(api, to=["ROU"])
    seen = await api.json("GET", f"/api/messages?before={hidden}", "hun-1", status=422)
    unknown = await api.json("GET", "/api/messages?before=ew-none", "hun-1", status=422)
    # answered as if it did not exist: the same words either way
    assert seen["error"]["message"].replace(hidden, "ID") == unknown["error"]["message"].replace(
        "ew-none", "ID"
    )
    assert seen["error"]["details"][0]["field"] == "before"
    assert (await api.json("GET", f"/api/messages?before={hidden}", "rou-1"))["messages"] == []


@pytest.mark.parametrize(
    "path", ["/api/exercises", "/api/consultations", "/api/messages/ew-x/events"]
)
async def test_the_admin_only_lists_refuse_a_poc_and_every_list_refuses_no_token(
    api: Api, path: str
) -> None:
    await api.json("GET", path, "hun-1", status=403)
    await api.json("GET", path, None, status=401)
    await api.json("GET", "/api/messages", None, status=401)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=²", "limit"),
        ("mode=drill", "mode"),
        ("country=srb", "country"),
        ("country=QQQ", "country"),
        ("exercise=ex-none", "exercise"),
        ("before=ew-none", "before"),
    ],
)
async def test_bad_message_list_parameters_are_a_422_naming_them(
    api: Api, query: str, field: str
) -> None:
    body = await api.json("GET", f"/api/messages?{query}", status=422)
    assert [d["field"] for d in body["error"]["details"]] == [field]


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/exercises", "state=done", "state"),
        ("/api/exercises", "kind=exam", "kind"),
        ("/api/exercises", "limit=1001", "limit"),
        ("/api/exercises", "before=ex-none", "before"),
        ("/api/consultations", "state=open", "state"),
        ("/api/consultations", "limit=-3", "limit"),
        ("/api/consultations", "before=cn-none", "before"),
    ],
)
async def test_bad_exercise_list_parameters_are_a_422_naming_them(
    api: Api, path: str, query: str, field: str
) -> None:
    body = await api.json("GET", f"{path}?{query}", status=422)
    assert [d["field"] for d in body["error"]["details"]] == [field]


async def test_exercises_and_consultations_are_listed_newest_first_by_state_and_kind(
    api: Api, clock: ManualClock
) -> None:
    started = []
    for n in range(3):
        clock.advance(timedelta(minutes=1))
        scenario = CONSULTATION.format(n=n)
        created = await api.json("POST", "/api/exercises", json={"scenario": scenario}, status=201)
        started.append(created["id"])
    clock.advance(timedelta(minutes=1))
    drill = await api.json("POST", "/api/exercises", json={"scenario": DRILL_HUN_ROU}, status=201)
    await api.json("POST", f"/api/exercises/{started[1]}/stop")
    consultations = started[::-1]

    assert await walk(api, "/api/exercises?limit=1", "exercises") == [drill["id"], *consultations]
    assert await walk(api, "/api/consultations?limit=2", "consultations") == consultations
    assert await walk(api, "/api/exercises?kind=drill", "exercises") == [drill["id"]]
    kind = "/api/exercises?kind=consultation&limit=1"
    assert await walk(api, kind, "exercises") == consultations
    stopped = await walk(api, "/api/consultations?state=stopped", "consultations")
    assert stopped == [started[1]]
    running = await walk(api, "/api/exercises?state=running&limit=1", "exercises")
    assert running == [drill["id"], started[2], started[0]]
    page = await api.json("GET", "/api/consultations?limit=1")
    item = page["consultations"][0]
    assert (item["id"], item["kind"], item["state"]) == (started[2], "consultation", "running")
    assert item["report"] == f"/api/consultations/{started[2]}/results?format=json"
    assert item["started_at"].endswith("Z")
    listed = (await api.json("GET", "/api/exercises?kind=drill"))["exercises"][0]
    assert listed["report"] == f"/api/exercises/{drill['id']}/report?format=json"


async def test_a_messages_events_are_its_audit_trail_with_times(
    api: Api, clock: ManualClock
) -> None:
    message = await send(api, to=["HUN"])
    clock.advance(timedelta(minutes=3))
    await api.json("POST", f"/api/messages/{message}/ack", "hun-1")
    trail = await api.json("GET", f"/api/messages/{message}/events")
    assert trail["message_id"] == message
    kinds = [(e["kind"], e["country"], e["poc"]) for e in trail["events"]]
    assert kinds[0] == ("sent", None, None)
    assert ("delivered", "HUN", "hun-1") in kinds
    assert kinds[-1] == ("acknowledged", "HUN", "hun-1")
    assert trail["events"][-1]["at"] == "2026-11-27T09:03:00Z"
    assert all(e["at"].endswith("Z") for e in trail["events"])
    await api.json("GET", "/api/messages/ew-none/events", status=404)

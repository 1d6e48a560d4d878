"""Consultations through the API on a loopback server, with a manual clock: invitations,
reminders to non-respondents only, answers and their rules, replace-then-close,
authorization, results maths, a restart between a reminder falling due and being sent,
and a virtual rehearsal."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest

from ians.clock import ManualClock
from ians.consultations import REMIND
from ians.web.keys import tracker_key
from tests.conftest import JSON, Api, AppFactory

# audience: the notification PoCs of SRB, HUN and ROU: srb-1, srb-2, hun-1, hun-2, hun-3, rou-1
CONSULTATION = """\
kind: consultation
name: Consultation of IAN points of contact
audience: {roles: [notification], countries: all}
deadline: 14d
reminders: [7d, 2d]
questions:
  - {id: q1, text: Are your contact details up to date?, type: yes_no, required: true}
  - {id: q2, text: Which channel reaches you fastest?, type: single,
     options: [email, phone, web]}
  - {id: q3, text: Which features do you use?, type: multiple,
     options: [early warning, exercises], max_choices: 2}
  - {id: q4, text: Rate the system, type: scale, min: 1, max: 5}
  - {id: q5, text: Comments, type: text, max_length: 20}
"""
INVITED = ["hun-1", "hun-2", "hun-3", "rou-1", "srb-1", "srb-2"]


async def open_consultation(api: Api) -> str:
    created = await api.json("POST", "/api/exercises", json={"scenario": CONSULTATION}, status=201)
    assert (created["kind"], created["state"]) == ("consultation", "running")
    return str(created["id"])


async def answer(api: Api, cid: str, poc: str, answers: dict[str, Any], status: int = 201) -> Any:
    return await api.json(
        "POST", f"/api/consultations/{cid}/responses", poc, json={"answers": answers}, status=status
    )


async def step(api: Api, clock: ManualClock, by: timedelta) -> None:
    clock.advance(by)
    tracker = api.app[tracker_key]
    await tracker.timers.run_due()
    await tracker.dispatcher.drain()


async def reminded(api: Api, cid: str) -> list[tuple[str, str]]:
    """(poc, "invitation" or "reminder") for every invitation delivered and reminder sent."""
    events = await api.app[tracker_key].store.events(cid)
    return [
        (e.poc or "", "reminder" if e.kind == "reminded" else str(e.detail.get("notice")))
        for e in events
        if e.kind in ("delivered", "reminded")
    ]


async def test_invitations_reach_every_invited_poc_through_the_inbox(api: Api) -> None:
    cid = await open_consultation(api)
    for poc in INVITED:
        inbox = await api.json("GET", "/api/inbox", poc)
        assert [(c["id"], c["closed"], c["responded_at"]) for c in inbox["consultations"]] == [
            (cid, False, None)
        ]
    assert (await api.json("GET", "/api/inbox", "srb-1"))["consultations"][0]["deadline"] == (
        "2026-12-11T09:00:00Z"
    )
    delivered = await reminded(api, cid)
    assert sorted(p for p, n in delivered if n == "invitation") == INVITED


async def test_reminders_go_to_non_respondents_only_and_nothing_after_closing(
    api: Api, clock: ManualClock
) -> None:
    cid = await open_consultation(api)
    await answer(api, cid, "hun-1", {"q1": True})
    await step(api, clock, timedelta(days=7))  # first reminder, 7 days before the deadline
    await answer(api, cid, "rou-1", {"q1": False})
    await step(api, clock, timedelta(days=5))  # second reminder, 2 days before
    notices = await reminded(api, cid)
    first = sorted(p for p, n in notices if n == "reminder")
    assert first == sorted(
        ["hun-2", "hun-3", "rou-1", "srb-1", "srb-2", "hun-2", "hun-3", "srb-1", "srb-2"]
    )
    await step(api, clock, timedelta(days=2))  # the deadline: closed
    status = await api.json("GET", f"/api/exercises/{cid}")
    assert status["state"] == "completed"
    await step(api, clock, timedelta(days=30))
    assert len(await reminded(api, cid)) == len(notices)  # nothing after closing
    body = await answer(api, cid, "srb-1", {"q1": True}, status=409)
    assert body["error"]["code"] == "conflict"


async def test_a_poc_may_replace_its_answers_until_the_deadline(
    api: Api, clock: ManualClock
) -> None:
    cid = await open_consultation(api)
    first = await answer(api, cid, "srb-1", {"q1": True, "q4": 2})
    clock.advance(timedelta(days=3))
    second = await answer(api, cid, "srb-1", {"q1": False, "q2": "web"}, status=200)
    assert second["answers"] == {"q1": False, "q2": "web"}
    assert second["submitted_at"] > first["submitted_at"]
    mine = await api.json("GET", f"/api/consultations/{cid}", "srb-1")
    assert mine["response"]["answers"] == {"q1": False, "q2": "web"}
    assert mine["progress"] is None
    other = await api.json("GET", f"/api/consultations/{cid}", "hun-1")
    assert other["response"] is None  # a PoC never sees another PoC's answers
    clock.advance(timedelta(days=11))  # exactly at the deadline
    await answer(api, cid, "srb-1", {"q1": True}, status=409)
    results = await api.json("GET", f"/api/consultations/{cid}/results")
    assert results["responded"] == 1
    assert results["questions"][0]["tally"] == {"yes": 0, "no": 1}


@pytest.mark.parametrize(
    ("answers", "fields"),
    [
        ({}, ["answers.q1"]),  # required
        ({"q1": None}, ["answers.q1"]),
        ({"q1": "yes"}, ["answers.q1"]),  # a string is not a yes/no
        ({"q1": 1}, ["answers.q1"]),
        ({"q1": True, "q2": "fax"}, ["answers.q2"]),  # not an option
        ({"q1": True, "q2": ["email"]}, ["answers.q2"]),
        ({"q1": True, "q3": "exercises"}, ["answers.q3"]),  # a list is needed
        ({"q1": True, "q3": ["exercises", "drills"]}, ["answers.q3"]),
        ({"q1": True, "q3": ["exercises", "exercises"]}, ["answers.q3"]),
        ({"q1": True, "q4": 6}, ["answers.q4"]),  # off the scale
        ({"q1": True, "q4": 0}, ["answers.q4"]),
        ({"q1": True, "q4": 3.5}, ["answers.q4"]),
        ({"q1": True, "q4": True}, ["answers.q4"]),
        ({"q1": True, "q5": "x" * 21}, ["answers.q5"]),  # too long
        ({"q1": True, "q5": 5}, ["answers.q5"]),
        ({"q1": True, "q9": 1}, ["answers.q9"]),  # no such question
        ({"q4": 9, "q2": "fax"}, ["answers.q1", "answers.q2", "answers.q4"]),  # all at once
    ],
)
async def test_every_answer_rule_gives_a_422_naming_the_question(
    api: Api, answers: dict[str, Any], fields: list[str]
) -> None:
    cid = await open_consultation(api)
    body = await answer(api, cid, "hun-1", answers, status=422)
    assert sorted(d["field"] for d in body["error"]["details"]) == fields
    assert (await api.json("GET", f"/api/consultations/{cid}/results"))["responded"] == 0


@pytest.mark.parametrize("raw", [b"{bad", b"[]", b'{"answers": []}', b'{"answers": {}, "x": 1}'])
async def test_malformed_response_bodies(api: Api, raw: bytes) -> None:
    cid = await open_consultation(api)
    response = await api.call(
        "POST", f"/api/consultations/{cid}/responses", "hun-1", data=raw, headers=JSON
    )
    assert response.status in (400, 422)


async def test_only_invited_pocs_answer_or_see_and_only_the_admin_sees_results(
    make_api: AppFactory, tmp_path: Any
) -> None:
    # HUN only: ROU's and SRB's PoCs are not invited
    api = await make_api()
    cid = (
        await api.json(
            "POST",
            "/api/exercises",
            status=201,
            json={"scenario": CONSULTATION.replace("countries: all", "countries: [HUN]")},
        )
    )["id"]
    await api.json("GET", f"/api/consultations/{cid}", "rou-1", status=403)
    await answer(api, cid, "rou-1", {"q1": True}, status=403)
    await api.json("GET", f"/api/consultations/{cid}/results", "hun-1", status=403)
    await api.json(
        "POST",
        f"/api/consultations/{cid}/responses",
        "admin",
        json={"answers": {"q1": True}},
        status=403,
    )
    await api.json("GET", f"/api/consultations/{cid}", None, status=401)
    seen = await api.json("GET", f"/api/consultations/{cid}", "hun-2")
    assert [q["id"] for q in seen["questions"]] == ["q1", "q2", "q3", "q4", "q5"]
    admin = await api.json("GET", f"/api/consultations/{cid}")
    assert admin["progress"] == {"invited": 3, "responded": 0, "response_rate": 0.0}
    await api.json("GET", "/api/consultations/cn-nope", status=404)
    await api.json(
        "POST", "/api/consultations/cn-nope/responses", "hun-1", json={"answers": {}}, status=404
    )


async def test_results_of_a_hand_made_set(api: Api) -> None:
    cid = await open_consultation(api)
    await answer(
        api,
        cid,
        "hun-1",
        {"q1": True, "q2": "email", "q3": ["early warning"], "q4": 5, "q5": "Works well"},
    )
    await answer(api, cid, "hun-2", {"q1": True, "q3": ["early warning", "exercises"], "q4": 4})
    await answer(
        api,
        cid,
        "srb-1",
        {"q1": False, "q2": "email", "q3": ["early warning"], "q4": 3, "q5": "More drills"},
    )
    results = await api.json("GET", f"/api/consultations/{cid}/results")
    assert (results["invited"], results["responded"], results["response_rate"]) == (6, 3, 0.5)
    assert results["by_country"] == [
        {"country": "HUN", "invited": 3, "responded": 2, "response_rate": 0.667},
        {"country": "ROU", "invited": 1, "responded": 0, "response_rate": 0.0},
        {"country": "SRB", "invited": 2, "responded": 1, "response_rate": 0.5},
    ]
    q = {row["id"]: row for row in results["questions"]}
    assert (q["q1"]["answers"], q["q1"]["tally"]) == (3, {"yes": 2, "no": 1})
    assert q["q2"]["tally"] == {"email": 2, "phone": 0, "web": 0}
    assert q["q3"]["tally"] == {"early warning": 3, "exercises": 1}
    assert (q["q4"]["tally"], q["q4"]["mean"]) == ({"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}, 4.0)
    assert sorted(q["q5"]["texts"]) == ["More drills", "Works well"]
    assert results["non_respondents"] == ["hun-3", "rou-1", "srb-2"]
    assert results["consultation"]["closed"] is False

    response = await api.call("GET", f"/api/consultations/{cid}/results?format=csv")
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [r["poc"] for r in rows] == ["hun-1", "hun-2", "srb-1"]
    assert rows[1] == {
        "poc": "hun-2",
        "country": "HUN",
        "submitted_at": rows[1]["submitted_at"],
        "q1": "yes",
        "q2": "",
        "q3": "early warning;exercises",
        "q4": "4",
        "q5": "",
    }
    for fmt in ("md", "html"):
        page = await api.call("GET", f"/api/consultations/{cid}/results?format={fmt}")
        assert page.status == 200 and "Works well" in await page.text()
    md = await (await api.call("GET", f"/api/consultations/{cid}/results?format=md")).text()
    assert "| rou-1 | ROU Romania | — |" in md  # country named from the registry; no org given
    assert "| HUN Hungary | 3 | 2 | 66.7% |" in md
    pdf = await api.call("GET", f"/api/consultations/{cid}/results?format=pdf")
    assert pdf.content_type == "application/pdf" and (await pdf.read()).startswith(b"%PDF-")
    await api.json("GET", f"/api/consultations/{cid}/results?format=docx", status=422)


async def test_a_restart_between_a_reminder_falling_due_and_being_sent(
    make_api: AppFactory, clock: ManualClock
) -> None:
    api = await make_api()
    cid = await open_consultation(api)
    await api.client.close()  # down before the first reminder
    clock.advance(timedelta(days=8))  # the first reminder fell due while down
    api = await make_api()
    timers = api.app[tracker_key].timers
    assert timers.is_armed((REMIND, (cid, 2)))
    await timers.run_due()  # overdue: sent at once, once
    await api.app[tracker_key].dispatcher.drain()
    await timers.run_due()
    notices = [n for _, n in await reminded(api, cid)]
    assert notices.count("reminder") == len(INVITED)
    await api.client.close()
    api = await make_api()  # and after another restart it is not sent again
    assert not api.app[tracker_key].timers.is_armed((REMIND, (cid, 1)))


async def test_a_virtual_rehearsal_shows_the_expected_response_rate(api: Api) -> None:
    created = await api.json(
        "POST",
        "/api/exercises",
        status=201,
        json={"scenario": CONSULTATION, "clock": "virtual", "seed": 2},
    )
    assert created["state"] == "completed"
    results = await api.json("GET", f"/api/consultations/{created['id']}/results")
    assert results["consultation"]["closed"] is True
    assert results["invited"] == 6
    # default models (median 10m, no misses): everybody answers on the first notice
    assert results["responded"] == 6
    assert all(row["answers"] >= 1 for row in results["questions"] if row["id"] == "q1")
    again = await api.json(
        "POST",
        "/api/exercises",
        status=201,
        json={"scenario": CONSULTATION, "clock": "virtual", "seed": 2},
    )
    assert (await api.json("GET", f"/api/consultations/{again['id']}/results"))["questions"] == (
        results["questions"]
    )

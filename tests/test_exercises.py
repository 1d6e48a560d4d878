"""Exercises on every clock: virtual runs checked by hand, a scaled exercise in a real
server with a PoC played over HTTP, mixed live and simulated PoCs, stop, restart, and
the virtual engine agreeing with live tracking."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ians.clock import ManualClock
from ians.contacts import load_registry
from ians.domain.contacts import Registry
from ians.domain.policy import PolicyTable
from ians.reports.build import build_report
from ians.scenarios.loader import load_scenario
from ians.scenarios.virtual import VirtualExercise
from ians.web.keys import exercises_key, tracker_key
from tests.conftest import AppFactory

FRIDAY_5PM_BELGRADE = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # 17:00 local

# spread 0: a simulated PoC acknowledges exactly its median after its hours open
EXACT_REGISTRY = """\
countries:
  SRB:
    name: Serbia
    timezone: Europe/Belgrade
    points_of_contact:
      - {id: srb-1, roles: [notification, assistance], simulation: {median: 3m, spread: 0}}
  HUN:
    name: Hungary
    timezone: Europe/Budapest
    points_of_contact:
      - {id: hun-1, roles: [notification], hours: "Mon-Fri 08:00-16:00",
         simulation: {median: 10m, spread: 0}}
      - {id: hun-2, roles: [notification, assistance], hours: "24/7",
         simulation: {median: 5m, spread: 0}}
  ROU:
    name: Romania
    timezone: Europe/Bucharest
    points_of_contact:
      - {id: rou-1, roles: [notification], simulation: {median: 20m, spread: 0}}
  AUT:
    name: Austria
    timezone: Europe/Vienna
    points_of_contact:
      - {id: aut-1, roles: [notification], simulation: {median: 1m, spread: 0, miss: 1}}
"""

DRILL = """\
kind: drill
name: Danube ammonia release
participants: [SRB, HUN, ROU, AUT]
policy: {ack_within: 30m, reminders: [15m, 30m], escalate_every: 30m, give_up_after: 2h,
         respond_within: 1h}
injects:
  - id: ew1
    at: 0m
    type: early_warning
    from: SRB
    to: [HUN, ROU, AUT]
    content: {event_type: release, occurred_at: start-20m,
              location: {name: Pančevo, lat: 44.87, lon: 20.64}}
  - id: ra1
    at: 1h
    type: assistance_request
    from: SRB
    to: [HUN]
    refers_to: ew1
    content: {assistance: [{kind: experts, description: Ammonia response team}]}
"""


def registry_of(text: str, folder: Path) -> Registry:
    path = folder / "exact-contacts.yaml"  # beside, not over, the conftest registry file
    path.write_text(text)
    return load_registry([path])


# the drill with the registry of tests/conftest.py, which has no AUT
DRILL_HUN_ROU = DRILL.replace(", AUT]", "]").replace("[HUN, ROU, AUT]", "[HUN, ROU]")


@pytest.fixture
def exact(tmp_path: Path) -> Registry:
    return registry_of(EXACT_REGISTRY, tmp_path)


async def run_virtually(api: Any, seed: int) -> Any:
    """The drill in virtual time from Friday 17:00 in Belgrade: the exercise as created."""
    return await api.json(
        "POST",
        "/api/exercises",
        status=201,
        json={
            "scenario": DRILL,
            "clock": "virtual",
            "seed": seed,
            "start": FRIDAY_5PM_BELGRADE.isoformat(),
        },
    )


async def test_a_virtual_drill_gives_the_figures_computed_by_hand(
    make_api: AppFactory, exact: Registry
) -> None:
    api = await make_api(registry=exact)
    created = await run_virtually(api, seed=1)
    assert created["state"] == "completed"
    report = await api.json("GET", f"/api/exercises/{created['id']}/report")
    rows = {(r["inject"], r["country"]): r for r in report["recipients"]}
    # ROU: rou-1 (24/7) acks at 20m; reminded at 15m
    assert (
        rows["ew1", "ROU"]["ack_seconds"],
        rows["ew1", "ROU"]["reminders"],
        rows["ew1", "ROU"]["within_target"],
    ) == (1200, 1, True)
    # HUN: hun-1 is closed on Friday evening; at 30m the escalation reaches hun-2 (24/7),
    # which acks 5m later: 35m, after both reminders, late for a 30m target
    hun = rows["ew1", "HUN"]
    assert (
        hun["ack_seconds"],
        hun["acknowledged_by"],
        hun["reminders"],
        hun["escalations"],
        hun["within_target"],
    ) == (2100, "hun-2", 2, 1, False)
    # AUT never acknowledges: chased until the give-up at 2h, nulls in the report
    aut = rows["ew1", "AUT"]
    assert (aut["ack_seconds"], aut["reminders"], aut["escalations"]) == (None, 2, 0)
    # the request reaches HUN's assistance PoC hun-2 at 1h: ack 5m, response 5m later
    ra1 = rows["ra1", "HUN"]
    assert (ra1["ack_seconds"], ra1["response_seconds"]) == (300, 600)
    assert ra1["responded_at"] == "2026-11-27T17:10:00Z"
    # the response goes back to SRB, whose PoC acks it 3m later
    response = next(r for r in report["recipients"] if r["type"] == "assistance_response")
    assert (response["inject"], response["country"], response["ack_seconds"]) == (None, "SRB", 180)
    summary = report["summary"]
    assert (summary["recipients"], summary["acknowledged"], summary["within_target"]) == (5, 4, 3)
    assert summary["ack_rate"] == 0.8 and summary["within_target_rate"] == 0.6
    # acked: 180, 300, 1200, 2100 → median is the 2nd (300), p90 the 4th (2100)
    assert summary["ack_seconds"] == {"median": 300, "p90": 2100, "max": 2100}
    assert (summary["reminders"], summary["escalations"]) == (5, 1)
    # the exercise ends when AUT is given up on at 2h (later than every answer)
    assert report["exercise"]["ended_at"] == "2026-11-27T18:00:00Z"


def test_office_hours_carry_a_weekend_drill_to_monday_morning(exact: Registry) -> None:
    only_hun1 = (
        DRILL.replace("to: [HUN, ROU, AUT]", "to: [HUN]")
        .replace("escalate_every: 30m", "escalate_every: 3d")
        .replace("give_up_after: 2h", "give_up_after: 4d")
    )
    scenario = load_scenario(only_hun1.split("  - id: ra1")[0], exact)
    run = VirtualExercise(scenario, exact, PolicyTable(), FRIDAY_5PM_BELGRADE, "ex").run(1)
    (chase,) = run.chases
    # Monday 08:00 in Budapest is 07:00 UTC; hun-1 acks 10m after its office opens
    assert chase.acknowledged_at == datetime(2026, 11, 30, 7, 10, tzinfo=UTC)


def test_the_same_seed_gives_the_same_run_and_another_seed_another(tmp_path: Path) -> None:
    tuned = EXACT_REGISTRY.replace("spread: 0", "spread: 0.9")
    registry = registry_of(tuned, tmp_path)
    scenario = load_scenario(DRILL, registry)
    exercise = VirtualExercise(scenario, registry, PolicyTable(), FRIDAY_5PM_BELGRADE, "ex")
    first, again, other = exercise.run(5), exercise.run(5), exercise.run(6)
    assert first.chases == again.chases and first.events == again.events
    assert [c.acknowledged_at for c in first.chases] != [c.acknowledged_at for c in other.chases]


async def test_a_scaled_exercise_reports_a_poc_played_over_http_in_scenario_time(
    make_api: AppFactory, clock: ManualClock
) -> None:
    api = await make_api()
    created = await api.json(
        "POST", "/api/exercises", json={"scenario": DRILL_HUN_ROU, "speed": 60}, status=201
    )
    assert (created["state"], created["speed"]) == ("running", 60)
    timers = api.app[tracker_key].timers
    await timers.run_due()  # ew1 falls due at once
    inbox = (await api.json("GET", "/api/inbox", "hun-1"))["messages"]
    assert [m["message"]["exercise_id"] for m in inbox] == [created["id"]]
    assert inbox[0]["message"]["mode"] == "exercise"
    clock.advance(timedelta(seconds=10))  # 10 real seconds = 10 scenario minutes
    await api.json("POST", f"/api/messages/{inbox[0]['message']['id']}/ack", "hun-1")
    clock.advance(timedelta(seconds=20))  # 30 scenario minutes: ROU reminded twice so far
    await timers.run_due()
    report = await api.json("GET", f"/api/exercises/{created['id']}/report")
    rows = {r["country"]: r for r in report["recipients"]}
    assert (rows["HUN"]["ack_seconds"], rows["HUN"]["target_seconds"]) == (600, 1800)
    assert rows["HUN"]["within_target"] is True
    assert rows["ROU"]["reminders"] == 2 and rows["ROU"]["ack_seconds"] is None
    assert report["exercise"]["speed"] == 60


async def test_simulated_countries_answer_beside_live_ones(
    make_api: AppFactory, clock: ManualClock
) -> None:
    api = await make_api()
    created = await api.json(
        "POST",
        "/api/exercises",
        json={"scenario": DRILL_HUN_ROU, "simulate": ["ROU"], "seed": 3},
        status=201,
    )
    tracker = api.app[tracker_key]
    await tracker.timers.run_due()
    await tracker.dispatcher.drain()
    for _ in range(20):  # step from timer to timer, as far as two hours of exercise
        due = tracker.timers.next_due()
        if due is None or due > clock.now() + timedelta(hours=2):
            break
        clock.set(due)
        await tracker.timers.run_due()
        await tracker.dispatcher.drain()
    status = await api.json("GET", f"/api/exercises/{created['id']}")
    report = await api.json("GET", f"/api/exercises/{created['id']}/report")
    rows = {(r["inject"], r["country"]): r for r in report["recipients"]}
    assert rows["ew1", "ROU"]["acknowledged_by"] == "rou-1"  # played by the server
    assert rows["ew1", "HUN"]["ack_seconds"] is None  # nobody played HUN
    assert status["progress"]["injects_sent"] == 2


async def test_stopping_an_exercise_ends_its_chases_and_refuses_later_acks(
    make_api: AppFactory, clock: ManualClock
) -> None:
    api = await make_api()
    created = await api.json(
        "POST",
        "/api/exercises",
        json={"scenario": DRILL_HUN_ROU},
        status=201,
    )
    tracker = api.app[tracker_key]
    await tracker.timers.run_due()
    inbox = (await api.json("GET", "/api/inbox", "rou-1"))["messages"]
    stopped = await api.json("POST", f"/api/exercises/{created['id']}/stop")
    assert stopped["state"] == "stopped"
    body = await api.json("POST", f"/api/exercises/{created['id']}/stop", status=409)
    assert body["error"]["code"] == "conflict"
    body = await api.json(
        "POST", f"/api/messages/{inbox[0]['message']['id']}/ack", "rou-1", status=409
    )
    clock.advance(timedelta(hours=3))
    await tracker.timers.run_due()  # ra1 and every reminder would be due: nothing happens
    report = await api.json("GET", f"/api/exercises/{created['id']}/report")
    assert [r["inject"] for r in report["recipients"]] == ["ew1", "ew1"]
    assert all(r["reminders"] == 0 for r in report["recipients"])
    assert report["exercise"]["ended_at"] == created["started_at"]


async def test_an_inject_another_node_sent_is_not_sent_again(
    make_api: AppFactory, clock: ManualClock
) -> None:
    api = await make_api()
    created = await api.json("POST", "/api/exercises", json={"scenario": DRILL_HUN_ROU}, status=201)
    await api.app[tracker_key].timers.run_due()  # ew1 sent
    exercises = api.app[exercises_key]
    # a node that lost the exercise without knowing it yet: it believes ew1 still due
    del exercises._live[created["id"]].sent["ew1"]
    await exercises._injects_due([(created["id"], "ew1")], clock.now())  # no error
    report = await api.json("GET", f"/api/exercises/{created['id']}/report")
    assert [r["inject"] for r in report["recipients"]] == ["ew1", "ew1"]  # HUN, ROU once


async def test_a_restart_takes_up_a_running_exercise(
    make_api: AppFactory, clock: ManualClock
) -> None:
    api = await make_api()
    created = await api.json("POST", "/api/exercises", json={"scenario": DRILL_HUN_ROU}, status=201)
    await api.app[tracker_key].timers.run_due()
    await api.client.close()  # the server stops before ra1 is due

    api = await make_api()
    clock.advance(timedelta(hours=1))
    assert await api.app[tracker_key].timers.run_due() >= 1
    report = await api.json("GET", f"/api/exercises/{created['id']}/report")
    assert [r["inject"] for r in report["recipients"]].count("ra1") == 1
    status = await api.json("GET", f"/api/exercises/{created['id']}")
    assert status["progress"]["injects_sent"] == 2 and status["state"] == "running"


async def test_virtual_time_and_live_tracking_agree(
    make_api: AppFactory, tmp_path: Path, clock: ManualClock
) -> None:
    """The same scenario, seed and start: once in virtual time, once on the live path with
    the server playing every country; the reports' rows must be the same."""
    clock.set(FRIDAY_5PM_BELGRADE)
    tuned = registry_of(EXACT_REGISTRY.replace("spread: 0", "spread: 0.7"), tmp_path)
    api = await make_api(registry=tuned)
    virtual = await run_virtually(api, seed=9)
    live = await api.json(
        "POST", "/api/exercises", json={"scenario": DRILL, "simulate": "all", "seed": 9}, status=201
    )
    tracker = api.app[tracker_key]
    for _ in range(200):
        await tracker.timers.run_due()
        await tracker.dispatcher.drain()
        status = await api.json("GET", f"/api/exercises/{live['id']}")
        due = tracker.timers.next_due()
        if status["state"] != "running" or due is None:
            break
        clock.set(max(due, clock.now()))
    assert status["state"] == "completed"

    def rows(report: dict[str, Any]) -> list[tuple[Any, ...]]:
        return sorted(
            (
                r["inject"] or "",
                r["type"],
                r["country"],
                r["ack_seconds"],
                r["acknowledged_by"],
                r["reminders"],
                r["escalations"],
                r["response_seconds"],
            )
            for r in report["recipients"]
        )

    virtual_report = await api.json("GET", f"/api/exercises/{virtual['id']}/report")
    live_report = await api.json("GET", f"/api/exercises/{live['id']}/report")
    assert rows(live_report) == rows(virtual_report)
    assert live_report["summary"] == virtual_report["summary"]
    assert live_report["exercise"]["ended_at"] == virtual_report["exercise"]["ended_at"]
    facts = await api.app[tracker_key].store.exercise_facts(virtual["id"])
    assert build_report(facts).summary.recipients == 5
    assert api.app[exercises_key] is not None


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"scenario": "kind: drill\nname: x\ninjects: [\n"}, 422, None),
        ({"scenario": DRILL.replace("mode: exercise", "") + "mode: actual\n"}, 422, "mode"),
        ({"scenario": DRILL, "clock": "wall"}, 422, "clock"),
        ({"scenario": DRILL, "speed": 0}, 422, "speed"),
        ({"scenario": DRILL, "simulate": ["XXX"]}, 422, "simulate"),
        ({"scenario": DRILL, "clock": "virtual", "simulate": ["HUN"]}, 422, "simulate"),
        ({"scenario": 5}, 422, "scenario"),
        ({}, 422, "scenario"),
    ],
)
async def test_bad_exercise_requests(
    make_api: AppFactory, exact: Registry, body: dict[str, Any], status: int, field: str | None
) -> None:
    api = await make_api(registry=exact)
    response = await api.json("POST", "/api/exercises", json=body, status=status)
    if field is not None:
        assert any(d.get("field", "").startswith(field) for d in response["error"]["details"]), (
            response
        )


async def test_exercise_endpoints_are_for_the_admin_and_know_unknown_ids(api: Any) -> None:
    await api.json("POST", "/api/exercises", "hun-1", json={"scenario": DRILL}, status=403)
    await api.json("GET", "/api/exercises/ex-nope", status=404)
    await api.json("POST", "/api/exercises/ex-nope/stop", status=404)
    await api.json("GET", "/api/exercises/ex-nope/report", status=404)


async def test_the_report_comes_in_every_format(make_api: AppFactory, exact: Registry) -> None:
    api = await make_api(registry=exact)
    created = await api.json(
        "POST",
        "/api/exercises",
        json={"scenario": DRILL, "clock": "virtual", "seed": 1},
        status=201,
    )
    pages = {}
    for fmt, media in [
        ("json", "application/json"),
        ("csv", "text/csv"),
        ("md", "text/markdown"),
        ("html", "text/html"),
    ]:
        response = await api.call("GET", f"/api/exercises/{created['id']}/report?format={fmt}")
        assert response.status == 200 and response.content_type == media
        pages[fmt] = await response.text()
    assert pages["csv"].splitlines()[0].startswith("inject,message_id,type,country")
    assert "Danube ammonia release" in pages["md"] and "<svg" in pages["html"]
    assert "| HUN Hungary |" in pages["md"]  # countries named from the server's registry
    assert json.loads(pages["json"])["exercise"]["state"] == "completed"
    pdf = await api.call("GET", f"/api/exercises/{created['id']}/report?format=pdf")
    assert pdf.content_type == "application/pdf" and (await pdf.read()).startswith(b"%PDF-")
    await api.json("GET", f"/api/exercises/{created['id']}/report?format=xml", status=422)


async def test_an_exercise_that_no_longer_fits_the_registry_is_stopped_at_start(
    make_api: AppFactory, exact: Registry, registry: Registry
) -> None:
    api = await make_api(registry=exact)
    created = await api.json("POST", "/api/exercises", json={"scenario": DRILL}, status=201)
    await api.client.close()
    api = await make_api(registry=registry)  # the test registry has no AUT
    status = await api.json("GET", f"/api/exercises/{created['id']}")
    assert status["state"] == "stopped"


async def test_a_live_pocs_response_joins_the_exercise_on_its_clock(
    make_api: AppFactory, clock: ManualClock
) -> None:
    api = await make_api()
    created = await api.json(
        "POST",
        "/api/exercises",
        status=201,
        json={"scenario": DRILL_HUN_ROU, "speed": 60, "simulate": ["SRB"]},
    )
    tracker = api.app[tracker_key]
    clock.advance(timedelta(minutes=1))  # 1h of scenario time: ew1 and ra1 are due
    await tracker.timers.run_due()
    inbox = (await api.json("GET", "/api/inbox", "hun-2"))["messages"]
    (request,) = [m["message"] for m in inbox if m["message"]["type"] == "assistance_request"]
    clock.advance(timedelta(seconds=5))  # 5 scenario minutes later hun-2 answers
    await api.json("POST", f"/api/messages/{request['id']}/ack", "hun-2")
    response = await api.json(
        "POST",
        "/api/messages",
        "hun-2",
        status=201,
        json={
            "type": "assistance_response",
            "mode": "exercise",
            "from": "HUN",
            "to": ["SRB"],
            "refers_to": request["id"],
            "content": {"decision": "partial", "offer": "Two experts"},
        },
    )
    assert response["exercise_id"] == created["id"]
    await tracker.dispatcher.drain()
    reply_status: dict[str, Any] = {}
    for _ in range(20):  # the server plays SRB: step until its PoC acknowledges the response
        reply_status = await api.json("GET", f"/api/messages/{response['id']}")
        due = tracker.timers.next_due()
        if reply_status["recipients"][0]["status"] != "pending" or due is None:
            break
        clock.set(max(due, clock.now()))
        await tracker.timers.run_due()
        await tracker.dispatcher.drain()
    assert reply_status["recipients"][0]["acknowledged_by"] == "srb-1"
    report = await api.json("GET", f"/api/exercises/{created['id']}/report")
    rows = {(r["inject"], r["type"], r["country"]): r for r in report["recipients"]}
    assert rows["ra1", "assistance_request", "HUN"]["response_seconds"] == 300
    reply = rows[None, "assistance_response", "SRB"]
    assert reply["acknowledged_by"] == "srb-1" and reply["target_seconds"] == 1800

    await api.json("POST", f"/api/exercises/{created['id']}/stop")
    body = await api.json(
        "POST",
        "/api/messages",
        "hun-2",
        status=409,
        json={
            "type": "assistance_response",
            "mode": "exercise",
            "from": "HUN",
            "to": ["SRB"],
            "refers_to": request["id"],
            "content": {"decision": "decline"},
        },
    )
    assert "stopped" in body["error"]["message"]

"""An assistance response acknowledges the request it answers (SPEC §5): over the API,
in a scaled exercise, in virtual time, and the same way in virtual and live runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ians.clock import ManualClock
from ians.contacts import load_registry
from ians.domain.chase import ChaseStatus, EventKind
from ians.domain.policy import PolicyTable
from ians.scenarios.loader import load_scenario_file
from ians.scenarios.virtual import VirtualExercise
from ians.web.keys import tracker_key
from tests.conftest import Api, AppFactory

ROOT = Path(__file__).resolve().parent.parent
DANUBE = ROOT / "scenarios" / "danube-ammonia.yaml"
FRIDAY_5PM = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # 17:00 in Belgrade

REQUEST = {
    "type": "assistance_request",
    "mode": "exercise",
    "from": "SRB",
    "to": ["HUN"],
    "content": {"assistance": [{"kind": "experts", "description": "Ammonia team"}]},
}


def response_to(request_id: str, sender: str = "HUN") -> dict[str, Any]:
    return {
        "type": "assistance_response",
        "mode": "exercise",
        "from": sender,
        "to": ["SRB"],
        "refers_to": request_id,
        "content": {"decision": "partial", "offer": "Six experts"},
    }


async def step(api: Api, clock: ManualClock, until: datetime) -> None:
    """Run every timer due up to `until`, timer by timer."""
    tracker = api.app[tracker_key]
    for _ in range(500):
        await tracker.timers.run_due()
        await tracker.dispatcher.drain()
        due = tracker.timers.next_due()
        if due is None or due > until:
            break
        clock.set(max(due, clock.now()))
    clock.set(max(until, clock.now()))
    await tracker.timers.run_due()
    await tracker.dispatcher.drain()


def acks(events: list[Any], country: str) -> list[Any]:
    return [e for e in events if e.kind is EventKind.ACKNOWLEDGED and e.country == country]


async def test_a_response_over_the_api_acknowledges_and_stops_the_chase(
    api: Api, clock: ManualClock
) -> None:
    request = await api.json("POST", "/api/messages", json=REQUEST, status=201)
    clock.advance(timedelta(minutes=20))  # one reminder to hun-2 so far
    await step(api, clock, clock.now())
    answered_at = clock.now()
    await api.json("POST", "/api/messages", "hun-2", json=response_to(request["id"]), status=201)
    view = await api.json("GET", f"/api/messages/{request['id']}")
    (hun,) = view["recipients"]
    assert (hun["status"], hun["acknowledged_by"]) == ("acknowledged", "hun-2")
    assert hun["acknowledged_at"] == answered_at.isoformat().replace("+00:00", "Z")
    await step(api, clock, clock.now() + timedelta(hours=3))  # past every step and the give-up
    tracker = api.app[tracker_key]
    (chase,) = await tracker.store.chases(request["id"])
    assert (chase.status, chase.reminders, chase.gave_up_at) == (ChaseStatus.ACKNOWLEDGED, 1, None)
    events = await tracker.store.events(request["id"])
    assert not [e for e in events if e.kind in (EventKind.REMINDED, EventKind.GAVE_UP)][1:]
    (ack,) = acks(events, "HUN")
    assert (ack.poc, ack.at, ack.detail["via"]) == ("hun-2", answered_at, "response")
    # a later API ack by the PoC is its own, and says so; the country's time stays
    await api.json("POST", f"/api/messages/{request['id']}/ack", "hun-2")
    assert [e.detail["via"] for e in acks(await tracker.store.events(request["id"]), "HUN")] == [
        "response"
    ]


async def test_an_api_ack_says_via_api_and_a_response_then_changes_nothing(
    api: Api, clock: ManualClock
) -> None:
    request = await api.json("POST", "/api/messages", json=REQUEST, status=201)
    clock.advance(timedelta(minutes=5))
    first = await api.json("POST", f"/api/messages/{request['id']}/ack", "hun-2")
    clock.advance(timedelta(minutes=5))
    await api.json("POST", "/api/messages", "hun-2", json=response_to(request["id"]), status=201)
    view = await api.json("GET", f"/api/messages/{request['id']}")
    assert view["recipients"][0]["acknowledged_at"] == first["acknowledged_at"]
    events = await api.app[tracker_key].store.events(request["id"])
    assert [e.detail["via"] for e in acks(events, "HUN")] == ["api"]


async def test_a_response_after_the_give_up_acknowledges_late(api: Api, clock: ManualClock) -> None:
    request = await api.json("POST", "/api/messages", json=REQUEST, status=201)
    await step(api, clock, clock.now() + timedelta(hours=2, minutes=10))  # given up at 2h
    await api.json("POST", "/api/messages", json=response_to(request["id"]), status=201)
    view = await api.json("GET", f"/api/messages/{request['id']}")
    (hun,) = view["recipients"]
    # sent by the secretariat for HUN: the first PoC the request reached answers
    assert (hun["status"], hun["acknowledged_by"]) == ("acknowledged", "hun-2")


def test_in_the_danube_drill_romania_answers_ra1_and_is_not_chased_after(  # virtual
) -> None:
    registry = load_registry([ROOT / "contacts"])
    scenario = load_scenario_file(DANUBE, registry)
    run = VirtualExercise(scenario, registry, PolicyTable(), FRIDAY_5PM, "ex-d").run(1)
    ra1 = next(m.message for m in run.messages if m.inject == "ra1")
    rou = next(c for c in run.chases if c.message_id == ra1.id and c.country == "ROU")
    answered = FRIDAY_5PM + timedelta(hours=1, minutes=50)  # rs-rou
    assert (rou.status, rou.acknowledged_at, rou.acknowledged_by) == (
        ChaseStatus.ACKNOWLEDGED,
        answered,
        "rou-2",  # Romania's assistance PoC, out of office on a Friday evening
    )
    assert (rou.reminders, rou.gave_up_at) == (2, None)  # reminded at 10m and 20m, then never
    steps = [e for e in run.events if e.message_id == ra1.id and e.country == "ROU"]
    assert [e.kind for e in steps][-1] is EventKind.ACKNOWLEDGED
    assert all(e.at <= answered for e in steps)
    assert dict(steps[-1].detail) == {"via": "response", "simulated": True}


async def test_the_danube_drill_scaled_acknowledges_by_response(
    make_api: AppFactory, clock: ManualClock
) -> None:
    """At speed 60 nobody plays any country: the scripted responses are the only answers."""
    clock.set(FRIDAY_5PM)
    api = await make_api(registry=load_registry([ROOT / "contacts"]), policies=PolicyTable())
    created = await api.json(
        "POST",
        "/api/exercises",
        json={"scenario": DANUBE.read_text(), "speed": 60},
        status=201,
    )
    await step(api, clock, FRIDAY_5PM + timedelta(minutes=6))  # 6 scenario hours
    report = await api.json("GET", f"/api/exercises/{created['id']}/report")
    rows = {(r["inject"], r["country"]): r for r in report["recipients"]}
    rou, hun = rows["ra1", "ROU"], rows["ra1", "HUN"]
    assert (rou["acknowledged_at"], rou["acknowledged_by"], rou["ack_seconds"]) == (
        "2026-11-27T17:50:00Z",
        "rou-2",
        3000,
    )
    assert (hun["acknowledged_by"], hun["ack_seconds"], hun["reminders"]) == ("hun-1", 2100, 2)
    assert rou["reminders"] == 2 and rou["within_target"] is False
    assert (rou["acknowledged_via"], rou["simulated"]) == ("response", True)  # scripted
    assert rows["ew1", "ROU"]["acknowledged_at"] is None  # nobody acknowledged ew1
    status = await api.json("GET", f"/api/exercises/{created['id']}")
    assert status["state"] == "completed"


async def test_virtual_and_live_agree_on_the_danube_drill(
    make_api: AppFactory, clock: ManualClock
) -> None:
    clock.set(FRIDAY_5PM)
    api = await make_api(registry=load_registry([ROOT / "contacts"]), policies=PolicyTable())
    text = DANUBE.read_text()
    virtual = await api.json(
        "POST",
        "/api/exercises",
        json={"scenario": text, "clock": "virtual", "seed": 4, "start": FRIDAY_5PM.isoformat()},
        status=201,
    )
    live = await api.json(
        "POST", "/api/exercises", json={"scenario": text, "simulate": "all", "seed": 4}, status=201
    )
    await step(api, clock, FRIDAY_5PM + timedelta(days=4))
    assert (await api.json("GET", f"/api/exercises/{live['id']}"))["state"] == "completed"

    def rows(report: dict[str, Any]) -> list[tuple[Any, ...]]:
        return sorted(
            (
                r["inject"] or "",
                r["type"],
                r["country"],
                r["acknowledged_at"],
                r["acknowledged_by"],
                r["reminders"],
                r["escalations"],
                r["responded_at"],
            )
            for r in report["recipients"]
        )

    virtual_report = await api.json("GET", f"/api/exercises/{virtual['id']}/report")
    live_report = await api.json("GET", f"/api/exercises/{live['id']}/report")
    assert rows(live_report) == rows(virtual_report)
    ra1_rou = [
        r for r in virtual_report["recipients"] if (r["inject"], r["country"]) == ("ra1", "ROU")
    ]
    assert ra1_rou[0]["acknowledged_at"] == "2026-11-27T17:50:00Z"  # by rs-rou, both ways
    assert live_report["exercise"]["ended_at"] == virtual_report["exercise"]["ended_at"]

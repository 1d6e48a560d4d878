"""A consultation on a scaled clock (`speed: N`, SPEC §7): a 14-day consultation at
speed 336 runs in an hour, its reminders and deadline scaled like a drill's, its times
reported in scenario time; a restart keeps the scaled timers."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from ians.clock import ManualClock
from ians.consultations import CLOSE
from ians.web.keys import tracker_key
from tests.conftest import T0, AppFactory
from tests.test_consultations import CONSULTATION, INVITED, answer, reminded, step

HOUR = 3600


async def test_a_fourteen_day_consultation_at_speed_336_runs_in_an_hour(
    make_api: AppFactory, clock: ManualClock
) -> None:
    api = await make_api()
    created = await api.json(
        "POST", "/api/exercises", json={"scenario": CONSULTATION, "speed": 336}, status=201
    )
    assert (created["kind"], created["speed"], created["state"]) == ("consultation", 336, "running")
    cid = created["id"]
    shown = await api.json("GET", f"/api/consultations/{cid}", "hun-1")
    assert shown["deadline"] == "2026-12-11T09:00:00Z"  # 14 days in scenario time
    assert shown["reminders"] == ["2026-12-04T09:00:00Z", "2026-12-09T09:00:00Z"]

    await step(api, clock, timedelta(minutes=10))  # 10 real minutes: 56 scenario hours
    saved = await answer(api, cid, "hun-1", {"q1": True})
    assert saved["submitted_at"] == "2026-11-29T17:00:00Z"
    await step(api, clock, timedelta(minutes=19, seconds=59))
    assert [n for _, n in await reminded(api, cid)].count("reminder") == 0
    await step(api, clock, timedelta(seconds=1))  # 30 real minutes: 7 scenario days
    first = sorted(p for p, n in await reminded(api, cid) if n == "reminder")
    assert first == [p for p in INVITED if p != "hun-1"]
    inbox = await api.json("GET", "/api/inbox", "hun-1")
    assert inbox["consultations"][0]["responded_at"] == "2026-11-29T17:00:00Z"

    await step(api, clock, timedelta(minutes=29))  # 59 real minutes: still open
    await answer(api, cid, "rou-1", {"q1": False})
    assert (await api.json("GET", f"/api/exercises/{cid}"))["state"] == "running"
    await step(api, clock, timedelta(minutes=1))  # one real hour: the deadline
    status = await api.json("GET", f"/api/exercises/{cid}")
    assert (status["state"], status["ended_at"]) == ("completed", "2026-12-11T09:00:00Z")
    await answer(api, cid, "srb-1", {"q1": True}, status=409)
    assert [n for _, n in await reminded(api, cid)].count(
        "reminder"
    ) == 5 + 5  # rou-1 answered after both

    results = await api.json("GET", f"/api/consultations/{cid}/results")
    assert results["consultation"]["deadline"] == "2026-12-11T09:00:00Z"
    assert (results["invited"], results["responded"], results["consultation"]["closed"]) == (
        6,
        2,
        True,
    )
    page = await api.call("GET", f"/api/consultations/{cid}/results?format=csv")
    rows = {r["poc"]: r for r in csv.DictReader(io.StringIO(await page.text()))}
    # rou-1 answered 59 real minutes in: 59 × 336 scenario minutes
    assert rows["rou-1"]["submitted_at"] == (
        (T0 + timedelta(minutes=59 * 336)).isoformat().replace("+00:00", "Z")
    )


async def test_a_restart_keeps_a_scaled_consultation_on_its_scaled_deadline(
    make_api: AppFactory, clock: ManualClock
) -> None:
    api = await make_api()
    created = await api.json(
        "POST", "/api/exercises", json={"scenario": CONSULTATION, "speed": 336}, status=201
    )
    await api.client.close()
    clock.advance(timedelta(minutes=40))
    api = await make_api()
    timers = api.app[tracker_key].timers
    assert timers.is_armed((CLOSE, created["id"]))
    assert timers.next_due() == T0 + timedelta(minutes=30)  # reminder 1, overdue
    await step(api, clock, timedelta(minutes=20))
    status = await api.json("GET", f"/api/exercises/{created['id']}")
    assert (status["state"], status["ended_at"]) == ("completed", "2026-12-11T09:00:00Z")

"""Rehearsals stay apart from live use (SPEC §7): a virtual run on the server's database
reaches no PoC's inbox, cannot be acknowledged, read or answered by a PoC, and is marked
`simulated: true` wherever it is listed; a database holding runs stored before is
cleaned up when it opens."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

from ians.cli import main
from ians.clock import ManualClock
from ians.store.sqlite import SqliteStore
from ians.web.keys import tracker_key
from tests.conftest import Api, AppFactory, early_warning
from tests.test_consultations import CONSULTATION
from tests.test_exercises import DRILL_HUN_ROU

POCS = ["srb-1", "srb-2", "hun-1", "hun-2", "hun-3", "rou-1"]


async def virtual_drill(api: Api) -> tuple[str, dict[str, Any]]:
    created = await api.json(
        "POST",
        "/api/exercises",
        json={"scenario": DRILL_HUN_ROU, "clock": "virtual", "seed": 1},
        status=201,
    )
    return created["id"], await api.json("GET", f"/api/exercises/{created['id']}/report")


async def test_a_virtual_drill_reaches_no_inbox_and_no_poc_may_act_on_it(api: Api) -> None:
    exercise_id, report = await virtual_drill(api)
    assert report["summary"]["acknowledged"] >= 3  # simulated hun-*, rou-1 and srb-1 acked
    for poc in POCS:
        assert (await api.json("GET", "/api/inbox", poc))["messages"] == []
    ew1 = next(r["message_id"] for r in report["recipients"] if r["inject"] == "ew1")
    # a PoC may not read it, even of the sending country, nor acknowledge it
    await api.json("GET", f"/api/messages/{ew1}", "hun-1", status=403)
    await api.json("GET", f"/api/messages/{ew1}", "srb-2", status=403)
    await api.json("POST", f"/api/messages/{ew1}/ack", "hun-1", status=403)
    # nor refer to it: as if it did not exist; the secretariat is told it is a rehearsal's
    body = early_warning("SRB", ["HUN"], refers_to=ew1)
    hidden = await api.json("POST", "/api/messages", "srb-1", json=body, status=422)
    assert hidden["error"]["details"][0]["message"] == f"no message {ew1!r}"
    told = await api.json("POST", "/api/messages", json=body, status=422)
    assert "virtual run" in told["error"]["message"]
    assert await api.json("GET", f"/api/exercises/{exercise_id}/report") == report
    # the secretariat sees it, marked
    assert (await api.json("GET", f"/api/messages/{ew1}"))["simulated"] is True
    assert (await api.json("GET", f"/api/exercises/{exercise_id}"))["simulated"] is True
    assert report["exercise"]["simulated"] is True
    assert all(r["simulated"] for r in report["recipients"])
    acks = [e for e in await api.app[tracker_key].store.events(ew1) if e.kind == "acknowledged"]
    assert acks and all(e.detail["simulated"] is True for e in acks)


async def test_a_virtual_consultation_invites_nobody(api: Api) -> None:
    created = await api.json(
        "POST",
        "/api/exercises",
        json={"scenario": CONSULTATION, "clock": "virtual", "seed": 2},
        status=201,
    )
    cid = created["id"]
    assert created["simulated"] is True
    for poc in POCS:
        assert (await api.json("GET", "/api/inbox", poc))["consultations"] == []
    await api.json("GET", f"/api/consultations/{cid}", "hun-1", status=403)
    await api.json(
        "POST",
        f"/api/consultations/{cid}/responses",
        "hun-1",
        json={"answers": {"q1": True}},
        status=403,
    )
    assert (await api.json("GET", f"/api/consultations/{cid}"))["simulated"] is True
    results = await api.json("GET", f"/api/consultations/{cid}/results")
    assert results["consultation"]["simulated"] is True and results["responded"] == 6


async def test_ians_drill_virtual_on_the_servers_database(
    api: Api, db_path: Path, tmp_path: Path
) -> None:
    """The case found: `ians drill --virtual --db` on the database a server is using."""
    scenario = tmp_path / "drill.yaml"
    scenario.write_text(DRILL_HUN_ROU, encoding="utf-8")
    args = ["drill", str(scenario), "--virtual", "--seed", "1", "--db", str(db_path)]
    contacts = ["--contacts", str(tmp_path / "contacts.yaml")]
    report = tmp_path / "r.json"
    assert await asyncio.to_thread(main, [*args, *contacts, "--report", str(report)]) == 0
    for poc in POCS:
        assert (await api.json("GET", "/api/inbox", poc))["messages"] == []


async def test_live_traffic_is_not_marked_but_a_country_the_server_plays_is(
    make_api: AppFactory, clock: ManualClock
) -> None:
    api = await make_api()
    created = await api.json(
        "POST",
        "/api/exercises",
        json={"scenario": DRILL_HUN_ROU, "simulate": ["ROU"], "seed": 3},
        status=201,
    )
    assert created["simulated"] is False
    tracker = api.app[tracker_key]
    await tracker.timers.run_due()
    await tracker.dispatcher.drain()
    (entry,) = (await api.json("GET", "/api/inbox", "hun-1"))["messages"]
    assert entry["message"]["simulated"] is False
    await api.json("POST", f"/api/messages/{entry['message']['id']}/ack", "hun-1")
    for _ in range(20):  # until ROU's PoC, played by the server, has acknowledged
        report = await api.json("GET", f"/api/exercises/{created['id']}/report")
        rows = {r["country"]: r for r in report["recipients"] if r["inject"] == "ew1"}
        if rows["ROU"]["acknowledged_at"] is not None:
            break
        due = tracker.timers.next_due()
        assert due is not None
        clock.set(max(due, clock.now() + timedelta(seconds=1)))
        await tracker.timers.run_due()
        await tracker.dispatcher.drain()
    assert (rows["HUN"]["simulated"], rows["ROU"]["simulated"]) == (False, True)
    assert report["exercise"]["simulated"] is False


async def test_runs_stored_before_leave_the_inboxes_when_the_database_opens(
    api: Api, db_path: Path
) -> None:
    _, report = await virtual_drill(api)
    await api.client.close()
    ids = sorted({r["message_id"] for r in report["recipients"]})
    with sqlite3.connect(db_path) as conn:  # as IANS stored a virtual run before
        conn.execute("ALTER TABLE messages DROP COLUMN simulated")
        conn.executemany(
            "INSERT INTO deliveries (message_id, poc, country, delivered_at) VALUES (?, ?, ?, 0)",
            [(m, "hun-1", "HUN") for m in ids],
        )
        conn.execute("PRAGMA user_version = 3")
    store = await SqliteStore.open(db_path)
    try:
        assert await store.inbox("hun-1", 100) == []
        assert all([(await store.message(m)).simulated for m in ids])
    finally:
        await store.close()

"""The event log: every inbox delivery is committed with its `delivered` event (so a kill -9
cannot part them), a database that lost some gets them back at its first start, and each
chase step is one line on the console."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from ians.clock import ManualClock
from ians.delivery import Notice
from ians.domain.contacts import PointOfContact
from ians.store.sqlite import SqliteStore
from ians.web.keys import tracker_key
from tests.conftest import Api, AppFactory, early_warning
from tests.test_consultations import open_consultation

# (message_id, poc) of every inbox entry, and of every inbox `delivered` event, with its time
ENTRIES = """
    SELECT message_id, poc, delivered_at FROM deliveries
    UNION ALL SELECT consultation_id, poc, invited_at FROM invitations
"""
INBOX_EVENTS = """
    SELECT message_id, poc, at FROM events
    WHERE kind = 'delivered' AND json_extract(detail, '$.channel') = 'inbox'
"""


def inbox_log(db_path: Path) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, int]]]:
    """The inbox entries and the inbox `delivered` events, sorted, read from the file."""
    with sqlite3.connect(db_path) as db:
        return sorted(db.execute(ENTRIES).fetchall()), sorted(db.execute(INBOX_EVENTS).fetchall())


class StuckChannel:
    """A channel beside the inbox that never finishes until released: what the event log
    holds meanwhile is what a kill -9 right after the commits would leave."""

    name = "stuck"

    def __init__(self) -> None:
        self.release = asyncio.Event()

    def reaches(self, poc: PointOfContact, notice: Notice) -> bool:
        return True

    async def deliver(self, notice: Notice, poc: PointOfContact) -> None:
        await self.release.wait()


async def test_each_inbox_delivery_is_committed_with_its_delivered_event(
    make_api: AppFactory, clock: ManualClock, db_path: Path
) -> None:
    stuck = StuckChannel()
    api = await make_api(channels=[stuck])
    try:
        message = await api.json("POST", "/api/messages", json=early_warning(), status=201)
        cid = await open_consultation(api)
        clock.advance(timedelta(minutes=30))  # HUN escalates to hun-2
        await api.app[tracker_key].timers.run_due()

        entries, events = inbox_log(db_path)
        assert (message["id"], "hun-2") in {(m, p) for m, p, _ in entries}
        assert {cid} < {m for m, _, _ in entries}  # the invitations are inbox entries too
        assert events == entries  # one event per entry, at its time, none waiting for `stuck`
    finally:
        stuck.release.set()  # else the server's shutdown would wait for it
    await api.app[tracker_key].dispatcher.drain()
    assert inbox_log(db_path)[1] == entries  # the channel adds its own, not the inbox's again


async def test_a_database_that_lost_delivered_events_gets_them_back_once(
    api: Api, clock: ManualClock, db_path: Path
) -> None:
    message = await api.json("POST", "/api/messages", json=early_warning(), status=201)
    await open_consultation(api)
    clock.advance(timedelta(minutes=30))
    await api.app[tracker_key].timers.run_due()
    await api.app[tracker_key].dispatcher.drain()
    entries, _ = inbox_log(db_path)
    await api.client.close()
    with sqlite3.connect(db_path) as db:  # as an IANS before schema 5 left it after a kill -9
        db.execute(
            "DELETE FROM events WHERE kind = 'delivered' AND (poc = 'hun-2' OR message_id != ?)",
            (message["id"],),
        )
        db.execute("PRAGMA user_version = 4")

    for _ in range(2):  # the second start finds nothing to recreate
        store = await SqliteStore.open(db_path)
        await store.close()
        assert inbox_log(db_path) == (entries, entries)
    with sqlite3.connect(db_path) as db:
        recovered = db.execute(
            "SELECT message_id, poc FROM events WHERE json_extract(detail, '$.recovered')"
        ).fetchall()
    # the escalation to hun-2 and the six invitations had lost theirs
    assert sorted(recovered) == sorted(
        [(message["id"], "hun-2")] + [(m, p) for m, p, _ in entries if m != message["id"]]
    )
    assert len(recovered) == 7


async def test_chase_steps_are_logged_one_line_each(
    api: Api, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ians.tracking")
    message = await api.json("POST", "/api/messages", json=early_warning(), status=201)
    mid = message["id"]
    await api.json("POST", f"/api/messages/{mid}/ack", "rou-1")
    tracker = api.app[tracker_key]
    for minutes in (15, 15, 30, 60):  # reminders at 15m and 30m, escalations, give-up at 2h
        clock.advance(timedelta(minutes=minutes))
        await tracker.timers.run_due()
    await api.json("POST", f"/api/messages/{mid}/ack", "hun-3")  # after the give-up
    lines = [r.getMessage() for r in caplog.records if r.name == "ians.tracking"]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "ians.tracking")
    assert lines == [
        f"chase {mid} ROU: acknowledged by rou-1",
        f"chase {mid} HUN: reminded hun-1 (reminder 1)",
        f"chase {mid} HUN: reminded hun-1 (reminder 2)",
        f"chase {mid} HUN: escalated to hun-2 (escalation 1)",
        f"chase {mid} HUN: escalated to hun-3 (escalation 2)",
        f"chase {mid} HUN: gave up (reached hun-1, hun-2, hun-3)",
        f"chase {mid} HUN: acknowledged by hun-3, late (after the give-up)",
    ]

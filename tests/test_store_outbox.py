"""The outbox in the store: notices stored in the transaction of their step (or not at all),
and attempts' outcomes applied once, whatever order or repetition they come in."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from ians.domain import messages
from ians.domain.chase import Event, EventKind, start_chase
from ians.domain.messages import Message, MessageType, Mode
from ians.domain.outbox import Attempt, NoticeState
from ians.domain.policy import AckPolicy
from ians.store import batches
from ians.store.outbox import record_attempts, set_channels
from ians.store.sqlite import SqliteStore
from tests.conftest import T0

POLICY = AckPolicy(reminders=(timedelta(minutes=15),), give_up_after=timedelta(hours=2))


def message(message_id: str = "te-1") -> Message:
    return Message(
        id=message_id,
        type=MessageType.TEST,
        mode=Mode.TEST,
        sender=None,
        to=["HUN", "ROU"],
        sent_at=T0,
        content=messages.TestContent(text="test"),
    )


def send(conn: sqlite3.Connection, m: Message) -> None:
    chases = [
        start_chase(m.id, "HUN", ("hun-1", "hun-2"), T0, POLICY),
        start_chase(m.id, "ROU", ("rou-1",), T0, POLICY),
    ]
    [ids] = batches.add_message(
        conn, [(m, POLICY, chases, [Event(T0, EventKind.SENT, m.id)], None)]
    )
    assert isinstance(ids, list)


async def schema(path: Path) -> None:
    store = await SqliteStore.open(path)  # creates and migrates it
    await store.close()


def outbox(conn: sqlite3.Connection) -> list[tuple[str, str, str, int, str]]:
    return conn.execute(
        "SELECT kind, poc, channel, attempts, state FROM outbox ORDER BY id"
    ).fetchall()


async def test_notices_are_stored_with_their_step_or_not_at_all(db_path: Path) -> None:
    await schema(db_path)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    set_channels(conn, [[("hun-1", "email"), ("hun-2", "email")]])  # ROU has no address
    conn.execute("COMMIT")
    conn.execute("BEGIN IMMEDIATE")
    send(conn, message("te-1"))
    conn.execute("ROLLBACK")  # the send failed: no notice either
    assert outbox(conn) == []
    conn.execute("BEGIN IMMEDIATE")
    send(conn, message("te-2"))
    conn.execute("COMMIT")
    assert outbox(conn) == [("message", "hun-1", "email", 0, "pending")]
    conn.execute("BEGIN IMMEDIATE")
    [chase_id] = [r[0] for r in conn.execute("SELECT id FROM chases WHERE country = 'HUN'")]
    batches.fire(conn, [([chase_id], T0 + timedelta(minutes=30))])  # reminder + escalation
    conn.execute("COMMIT")
    assert [r[:2] for r in outbox(conn)] == [
        ("message", "hun-1"),
        ("reminder", "hun-1"),
        ("message", "hun-2"),
    ]


async def test_an_outcome_applies_once_and_only_to_the_attempt_it_is_for(db_path: Path) -> None:
    await schema(db_path)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    set_channels(conn, [[("hun-1", "email"), ("rou-1", "email")]])
    send(conn, message())
    at = T0 + timedelta(seconds=1)
    failed = Attempt(1, 1, at, False, "451 later", retry_at=at + timedelta(seconds=10))
    record_attempts(conn, [[failed]])
    record_attempts(conn, [[failed]])  # the same outcome again: stale
    record_attempts(conn, [[Attempt(1, 3, at, True, "250 ok")]])  # not the next attempt
    record_attempts(conn, [[Attempt(1, 2, at, True, "250 ok")]])
    record_attempts(conn, [[Attempt(1, 3, at, False, "550 no", permanent=True)]])  # delivered
    conn.execute("COMMIT")
    assert outbox(conn)[0][3:] == (2, NoticeState.DELIVERED)
    kinds = conn.execute(
        "SELECT kind FROM events WHERE kind IN ('delivered', 'delivery_failed')"
        " AND json_extract(detail, '$.channel') = 'email' ORDER BY id"
    ).fetchall()
    assert kinds == [("delivery_failed",), ("delivered",)]


async def test_a_final_failure_of_the_last_poc_reached_escalates_once(db_path: Path) -> None:
    await schema(db_path)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    set_channels(conn, [[("hun-1", "email"), ("hun-2", "email")]])
    send(conn, message())
    at = T0 + timedelta(seconds=1)
    [escalations] = record_attempts(conn, [[Attempt(1, 1, at, False, "550 no", permanent=True)]])
    assert [(e.kind, e.poc) for e in escalations] == [(EventKind.ESCALATED, "hun-2")]
    [none] = record_attempts(conn, [[Attempt(1, 2, at, False, "550 no", permanent=True)]])
    assert none == []
    conn.execute("COMMIT")
    assert conn.execute("SELECT reached FROM chases WHERE country = 'HUN'").fetchone() == (2,)
    assert [r[:2] for r in outbox(conn)] == [("message", "hun-1"), ("message", "hun-2")]
    inbox = conn.execute("SELECT poc FROM deliveries WHERE country = 'HUN' ORDER BY poc")
    assert inbox.fetchall() == [("hun-1",), ("hun-2",)]


async def test_a_burst_of_outcomes_in_one_write_applies_each_once(db_path: Path) -> None:
    """Outcomes stored together (one SELECT, one UPDATE for all): a repeated or stale one
    in the same batch, or in another item of the same transaction, still changes nothing."""
    await schema(db_path)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    set_channels(conn, [[("hun-1", "webhook"), ("rou-1", "webhook")]])
    send(conn, message())
    at = T0 + timedelta(seconds=1)
    failed = Attempt(1, 1, at, False, "503 busy", retry_at=at + timedelta(seconds=10))
    delivered = Attempt(2, 1, at, True, "204 No Content")
    stale = Attempt(1, 3, at, True, "204")  # not the next attempt
    record_attempts(conn, [[failed, delivered, failed, stale], [delivered]])
    conn.execute("COMMIT")
    assert outbox(conn) == [
        ("message", "hun-1", "webhook", 1, "pending"),
        ("message", "rou-1", "webhook", 1, "delivered"),
    ]
    kinds = conn.execute(
        "SELECT kind, poc FROM events WHERE kind IN ('delivered', 'delivery_failed')"
        " AND json_extract(detail, '$.channel') = 'webhook' ORDER BY id"
    ).fetchall()
    assert kinds == [("delivery_failed", "hun-1"), ("delivered", "rou-1")]

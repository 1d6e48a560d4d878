"""The store's writes, as batches the writer process runs inside its open transaction.

Each takes the queued items of its kind and returns one result per item: a value, or
an IansError for that item alone (the others still commit). Items and results cross a
process boundary, so both are plain picklable values.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from datetime import datetime
from typing import Any

from ians.domain import chase as rules
from ians.domain.chase import Chase, Event, EventKind, Via
from ians.domain.consultation import Answers, Invitation, Response
from ians.domain.exercise import Exercise, SentMessage
from ians.domain.messages import Message
from ians.domain.policy import AckPolicy
from ians.errors import (
    Conflict,
    Forbidden,
    IansError,
    InjectSent,
    NotDelivered,
    UnknownExercise,
    UnknownMessage,
)
from ians.store.base import AckResult, Fired
from ians.store.outbox import (
    queue_chase_steps,
    queue_consultation_reminders,
    queue_notices,
    queue_sent,
)
from ians.store.rows import (
    CHASE_COLUMNS_C,
    UPDATE_CHASE,
    chase_of,
    chase_update,
    chunks,
    inbox_delivered,
    inject_stored,
    insert_chases,
    insert_deliveries,
    insert_events,
    insert_exercise,
    insert_message,
    opt_dt,
    to_us,
)


def set_meta(conn: sqlite3.Connection, items: list[tuple[str, str]]) -> list[None]:
    conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", items)
    return [None] * len(items)


def set_token(conn: sqlite3.Connection, items: list[tuple[str, str, int]]) -> list[None]:
    conn.executemany(
        "INSERT INTO tokens (poc, token_hash, issued_at) VALUES (?, ?, ?) ON CONFLICT (poc)"
        " DO UPDATE SET token_hash = excluded.token_hash, issued_at = excluded.issued_at",
        items,
    )
    return [None] * len(items)


def confirm_details(conn: sqlite3.Connection, items: list[tuple[str, int]]) -> list[None]:
    # the same PoC confirming twice in one microsecond is one confirmation
    conn.executemany(
        "INSERT OR IGNORE INTO detail_confirmations (poc_id, confirmed_at) VALUES (?, ?)", items
    )
    return [None] * len(items)


def save_findings(
    conn: sqlite3.Connection, items: list[tuple[str, str, int]]
) -> list[IansError | None]:
    out: list[IansError | None] = []
    for exercise_id, findings, at in items:
        if conn.execute("SELECT 1 FROM exercises WHERE id = ?", (exercise_id,)).fetchone() is None:
            out.append(UnknownExercise(exercise_id))
            continue
        conn.execute(
            "INSERT INTO exercise_findings (exercise_id, findings, edited_at) VALUES (?, ?, ?)"
            " ON CONFLICT (exercise_id) DO UPDATE SET findings = excluded.findings,"
            " edited_at = excluded.edited_at",
            (exercise_id, findings, at),
        )
        out.append(None)
    return out


def record_events(conn: sqlite3.Connection, items: list[list[Event]]) -> list[None]:
    insert_events(conn, [e for events in items for e in events])
    return [None] * len(items)


def add_message(
    conn: sqlite3.Connection,
    items: list[tuple[Message, AckPolicy, list[Chase], list[Event], str | None]],
) -> list[list[int] | IansError]:
    out: list[list[int] | IansError] = []
    for message, policy, chases, events, inject in items:
        if inject_stored(conn, message, inject):
            out.append(InjectSent.of(message.exercise_id, inject))
            continue
        try:
            insert_message(conn, message, policy, inject)
        except sqlite3.IntegrityError:
            out.append(Conflict(f"message {message.id!r} exists"))
            continue
        ids = insert_chases(conn, chases)
        insert_events(conn, events)
        insert_deliveries(
            conn, [(c.message_id, c.pocs[0], c.country, message.sent_at) for c in chases]
        )
        queue_sent(conn, message.id, message.sent_at)
        out.append(ids)
    return out


ResponseItem = tuple[Message, AckPolicy, list[Chase], list[Event], str | None, str | None, bool]


def add_response(
    conn: sqlite3.Connection, items: list[ResponseItem]
) -> list[tuple[list[int], Chase | None] | IansError]:
    """Add assistance responses, each with the acknowledgement of its request that it is
    when its country had not acknowledged yet (`rules.acknowledge_by_response`)."""
    out: list[tuple[list[int], Chase | None] | IansError] = []
    for message, policy, chases, events, inject, poc, simulated in items:
        ids = add_message(conn, [(message, policy, chases, events, inject)])[0]
        if isinstance(ids, IansError):
            out.append(ids)
            continue
        row = conn.execute(
            f"SELECT {CHASE_COLUMNS_C} FROM chases c WHERE c.message_id = ? AND c.country = ?",
            (message.refers_to, message.sender),
        ).fetchone()
        if row is None:
            out.append((ids, None))
            continue
        after, acked = rules.acknowledge_by_response(chase_of(row), poc, message.sent_at, simulated)
        if not acked:
            out.append((ids, None))
            continue
        conn.execute(UPDATE_CHASE, chase_update(after))
        conn.execute(
            "UPDATE deliveries SET acknowledged_at = ?"
            " WHERE message_id = ? AND poc = ? AND acknowledged_at IS NULL",
            (to_us(message.sent_at), message.refers_to, after.acknowledged_by),
        )
        insert_events(conn, acked)
        out.append((ids, after))
    return out


def acknowledge(
    conn: sqlite3.Connection, items: list[tuple[str, str, datetime, str | None, bool, str]]
) -> list[AckResult | IansError]:
    """Items: (message, PoC, time, note, simulated, the value of its Via)."""
    keys = list({(m, p) for m, p, _, _, _, _ in items})
    found: dict[tuple[str, str], tuple[datetime | None, Chase]] = {}
    for chunk in chunks(keys):
        values = ", ".join("(?, ?)" for _ in chunk)
        cursor = conn.execute(
            # the keys drive the join: each is a primary-key lookup. `(a, b) IN (VALUES ...)`
            # made SQLite scan all of `deliveries` for every batch.
            f"WITH k (message_id, poc) AS (VALUES {values})"
            f" SELECT d.message_id, d.poc, d.acknowledged_at, {CHASE_COLUMNS_C}"
            " FROM k JOIN deliveries d ON d.message_id = k.message_id AND d.poc = k.poc"
            " JOIN chases c ON c.message_id = d.message_id AND c.country = d.country",
            [x for key in chunk for x in key],
        )
        for r in cursor.fetchall():
            found[(r[0], r[1])] = (opt_dt(r[2]), chase_of(r[3:]))
    chases: dict[int, Chase] = {c.id: c for _, c in found.values() if c.id is not None}
    acked: dict[tuple[str, str], datetime] = {}
    events: list[Event] = []
    out: list[AckResult | IansError] = []
    for message_id, poc, now, note, simulated, via in items:
        key = (message_id, poc)
        if key not in found:
            out.append(why_not_delivered(conn, message_id, poc))
            continue
        first_ack, chase = found[key]
        chase = chases[chase.id]  # type: ignore[index]
        first_ack = first_ack or acked.get(key)
        if first_ack is not None:
            out.append(AckResult(first_ack, True, chase))
            continue
        try:
            chase, new_events = rules.acknowledge(chase, poc, now, note, Via(via), simulated)
        except IansError as refused:
            out.append(refused)
            continue
        chases[chase.id] = chase  # type: ignore[index]
        acked[key] = now
        events += new_events
        out.append(AckResult(now, False, chase))
    if acked:
        conn.executemany(
            "UPDATE deliveries SET acknowledged_at = ? WHERE message_id = ? AND poc = ?",
            [(to_us(at), m, p) for (m, p), at in acked.items()],
        )
        touched = {found[k][1].id for k in acked}
        conn.executemany(UPDATE_CHASE, [chase_update(chases[i]) for i in touched])  # type: ignore[index]
        insert_events(conn, events)
    return out


@functools.lru_cache(maxsize=1024)
def parsed_policy(stored: str) -> AckPolicy:
    """A message's stored policy, parsed once: every firing of its chases needs it."""
    return AckPolicy.model_validate_json(stored)


def why_not_delivered(conn: sqlite3.Connection, message_id: str, poc: str) -> IansError:
    cursor = conn.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,))
    if cursor.fetchone() is None:
        return UnknownMessage(message_id)
    return NotDelivered(message_id, poc)


def fire(conn: sqlite3.Connection, items: list[tuple[list[int], datetime]]) -> list[list[Fired]]:
    out: list[list[Fired]] = []
    for chase_ids, now in items:
        fired: list[Fired] = []
        for chunk in chunks(chase_ids):
            marks = ", ".join("?" for _ in chunk)
            cursor = conn.execute(
                f"SELECT {CHASE_COLUMNS_C}, m.policy FROM chases c"
                " JOIN messages m ON m.id = c.message_id"
                f" WHERE c.id IN ({marks}) AND c.status = 'pending'",
                list(chunk),
            )
            for r in cursor.fetchall():
                after, events = rules.fire(chase_of(r[:-1]), parsed_policy(r[-1]), now)
                if events:
                    fired.append(Fired(after, events))
        if fired:
            conn.executemany(UPDATE_CHASE, [chase_update(f.chase) for f in fired])
            events = [e for f in fired for e in f.events]
            insert_events(conn, events)
            insert_deliveries(
                conn,
                [
                    (e.message_id, e.poc, e.country, e.at)  # type: ignore[misc]
                    for e in events
                    if e.kind is EventKind.ESCALATED
                ],
            )
            queue_chase_steps(conn, events)
        out.append(fired)
    return out


def add_exercise(conn: sqlite3.Connection, items: list[Exercise]) -> list[Any]:
    out: list[Any] = []
    for exercise in items:
        try:
            insert_exercise(conn, exercise)
            out.append(None)
        except sqlite3.IntegrityError:
            out.append(Conflict(f"exercise {exercise.id!r} exists"))
    return out


def end_exercise(conn: sqlite3.Connection, items: list[tuple[str, str, datetime]]) -> list[Any]:
    out: list[Any] = []
    for exercise_id, state, ended_at in items:
        cursor = conn.execute("SELECT state FROM exercises WHERE id = ?", (exercise_id,))
        row = cursor.fetchone()
        if row is None:
            out.append(UnknownExercise(exercise_id))
            continue
        if row[0] != "running":
            out.append(Conflict(f"exercise {exercise_id!r} is {row[0]}, not running"))
            continue
        conn.execute(
            "UPDATE exercises SET state = ?, ended_at = ? WHERE id = ?",
            (state, to_us(ended_at), exercise_id),
        )
        if state == "stopped":
            conn.execute(
                "UPDATE chases SET status = 'stopped', next_due_at = NULL"
                " WHERE status = 'pending' AND message_id IN"
                " (SELECT id FROM messages WHERE exercise_id = ?)",
                (exercise_id,),
            )
        out.append(None)
    return out


def import_run(
    conn: sqlite3.Connection,
    items: list[tuple[Exercise, list[SentMessage], list[Chase], list[Event]]],
) -> list[Any]:
    for exercise, messages, chases, events in items:
        insert_exercise(conn, exercise)
        for sent in messages:
            insert_message(conn, sent.message, sent.policy, sent.inject)
        insert_chases(conn, chases)
        # no delivery rows: a rehearsal reaches no real PoC's inbox (its events tell who)
        insert_events(conn, events)
    return [None] * len(items)


def add_consultation(
    conn: sqlite3.Connection,
    items: list[tuple[Exercise, list[Invitation], list[Response]]],
) -> list[Any]:
    for consultation, invitations, responses in items:
        insert_exercise(conn, consultation)
        conn.executemany(
            "INSERT INTO invitations (consultation_id, poc, country, invited_at)"
            " VALUES (?, ?, ?, ?)",
            [(consultation.id, i.poc, i.country, to_us(i.invited_at)) for i in invitations],
        )
        if consultation.clock != "virtual":  # a rehearsal reaches no one
            insert_events(
                conn,
                [
                    inbox_delivered("invitation", consultation.id, i.country, i.poc, i.invited_at)
                    for i in invitations
                ],
            )
        conn.executemany(
            "INSERT INTO responses (consultation_id, poc, submitted_at, answers, versions)"
            " VALUES (?, ?, ?, ?, 1)",
            [
                (consultation.id, r.poc, to_us(r.submitted_at), json.dumps(r.answers))
                for r in responses
            ],
        )
        if consultation.clock != "virtual":  # a rehearsal reaches nobody
            queue_notices(
                conn,
                [
                    ("invitation", consultation.id, i.poc, i.country, i.invited_at)
                    for i in invitations
                ],
            )
    return [None] * len(items)


def save_response(
    conn: sqlite3.Connection, items: list[tuple[str, str, Answers, datetime, datetime]]
) -> list[Any]:
    out: list[Any] = []
    for consultation_id, poc, answers, now, deadline in items:
        cursor = conn.execute("SELECT state FROM exercises WHERE id = ?", (consultation_id,))
        row = cursor.fetchone()
        if row is None:
            out.append(UnknownExercise(consultation_id))
            continue
        if row[0] != "running" or now >= deadline:
            out.append(Conflict("the consultation is closed: no more answers are accepted"))
            continue
        cursor = conn.execute(
            "SELECT 1 FROM invitations WHERE consultation_id = ? AND poc = ?",
            (consultation_id, poc),
        )
        if cursor.fetchone() is None:
            out.append(Forbidden(f"{poc} is not invited to this consultation"))
            continue
        cursor = conn.execute(
            "INSERT INTO responses (consultation_id, poc, submitted_at, answers, versions)"
            " VALUES (?, ?, ?, ?, 1) ON CONFLICT (consultation_id, poc) DO UPDATE SET"
            " submitted_at = excluded.submitted_at, answers = excluded.answers,"
            " versions = versions + 1 RETURNING versions",
            (consultation_id, poc, to_us(now), json.dumps(answers)),
        )
        versions = cursor.fetchone()[0]
        out.append(versions == 1)
    return out


def remind(conn: sqlite3.Connection, items: list[tuple[str, int, datetime]]) -> list[list[str]]:
    out: list[list[str]] = []
    for consultation_id, number, now in items:
        cursor = conn.execute(
            "SELECT 1 FROM exercises WHERE id = ? AND state = 'running'", (consultation_id,)
        )
        open_ = cursor.fetchone() is not None
        cursor = conn.execute(
            "SELECT 1 FROM consultation_reminders WHERE consultation_id = ? AND number = ?",
            (consultation_id, number),
        )
        if not open_ or cursor.fetchone() is not None:
            out.append([])
            continue
        cursor = conn.execute(
            "SELECT i.poc FROM invitations i LEFT JOIN responses r"
            " ON r.consultation_id = i.consultation_id AND r.poc = i.poc"
            " WHERE i.consultation_id = ? AND r.poc IS NULL ORDER BY i.poc",
            (consultation_id,),
        )
        pocs = [str(r[0]) for r in cursor.fetchall()]
        conn.execute(
            "INSERT INTO consultation_reminders (consultation_id, number, sent_at, reminded)"
            " VALUES (?, ?, ?, ?)",
            (consultation_id, number, to_us(now), len(pocs)),
        )
        insert_events(
            conn,
            [
                Event(
                    now, EventKind.REMINDED, consultation_id, None, poc, None, {"reminder": number}
                )
                for poc in pocs
            ],
        )
        queue_consultation_reminders(conn, consultation_id, pocs, now)
        out.append(pocs)
    return out

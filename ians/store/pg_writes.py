"""The PostgreSQL store's writes: each runs inside the one transaction its caller opened,
and makes the same rows (and the same domain transitions) as its SQLite batch in
ians/store/batches.py and ians/store/outbox.py. A write that refuses raises its IansError
(the caller's transaction then rolls back; nothing was written before the refusal).

Rows that a transition changes are read `FOR UPDATE`: two nodes acknowledging or firing
the same chase take turns, and the second sees what the first wrote.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

from ians.domain import chase as rules
from ians.domain.chase import Chase, Event, EventKind, Via
from ians.domain.consultation import Answers, Invitation, Response
from ians.domain.exercise import Exercise, SentMessage
from ians.domain.messages import Message
from ians.domain.outbox import Attempt, NoticeState
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
from ians.store.batches import parsed_policy
from ians.store.rows import (
    CHASE_COLUMNS,
    CHASE_COLUMNS_C,
    EXERCISE_COLUMNS,
    MESSAGE_COLUMNS,
    chase_of,
    chase_row,
    chase_update,
    event_row,
    exercise_row,
    inbox_delivered,
    opt_dt,
    shared_micros,
    to_us,
)

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = asyncpg.Connection[Any] | PoolConnectionProxy[Any]

UPDATE_CHASE = (
    "UPDATE chases SET status = $1, steps_done = $2, reached = $3, reminders = $4,"
    " acknowledged_at = $5, acknowledged_by = $6, gave_up_at = $7, next_due_at = $8"
    " WHERE id = $9"
)


def marks(count: int, start: int = 1) -> str:
    return ", ".join(f"${i}" for i in range(start, start + count))


# --- shared inserts ---------------------------------------------------------------------
async def insert_events(conn: Conn, events: Sequence[Event]) -> None:
    if not events:
        return
    us = shared_micros()
    await conn.executemany(
        "INSERT INTO events (at, kind, message_id, country, poc, due_at, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [event_row(e, us) for e in events],
    )


async def insert_deliveries(conn: Conn, reached: Sequence[tuple[str, str, str, datetime]]) -> None:
    """Inbox entries `(message_id, poc, country, at)`, each with its `delivered` event."""
    if not reached:
        return
    us = shared_micros()
    await conn.executemany(
        "INSERT INTO deliveries (message_id, poc, country, delivered_at) VALUES ($1, $2, $3, $4)",
        [(m, p, c, us(at)) for m, p, c, at in reached],
    )
    await insert_events(conn, [inbox_delivered("message", m, c, p, at) for m, p, c, at in reached])


async def insert_message(
    conn: Conn, message: Message, policy: AckPolicy, inject: str | None
) -> None:
    """Raises Conflict if the id exists."""
    try:
        await conn.execute(
            f"INSERT INTO messages ({MESSAGE_COLUMNS}, policy, inject) VALUES ({marks(12)})",
            message.id,
            message.type.value,
            message.mode.value,
            message.sender,
            json.dumps(message.to),
            to_us(message.sent_at),
            message.refers_to,
            message.content.model_dump_json(exclude_none=True),
            message.exercise_id,
            int(message.simulated),
            policy.model_dump_json(),
            inject,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(f"message {message.id!r} exists") from None


async def insert_chases(conn: Conn, chases: Sequence[Chase]) -> list[int]:
    """Insert chases under new ids from the sequence (returned in order)."""
    if not chases:
        return []
    rows = await conn.fetch(
        "SELECT nextval(pg_get_serial_sequence('chases', 'id')) FROM generate_series(1, $1)",
        len(chases),
    )
    ids = sorted(int(r[0]) for r in rows)
    us = shared_micros()
    await conn.executemany(
        f"INSERT INTO chases ({CHASE_COLUMNS}) VALUES ({marks(13)})",
        [(i, *chase_row(c, us)[1:]) for i, c in zip(ids, chases, strict=True)],
    )
    return ids


async def insert_exercise(conn: Conn, exercise: Exercise) -> None:
    """Raises Conflict if the id exists."""
    try:
        await conn.execute(
            f"INSERT INTO exercises ({EXERCISE_COLUMNS}) VALUES ({marks(12)})",
            *exercise_row(exercise),
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(f"exercise {exercise.id!r} exists") from None


async def update_chases(conn: Conn, chases: Sequence[Chase]) -> None:
    await conn.executemany(UPDATE_CHASE, [chase_update(c) for c in chases])


# --- the outbox's queue -------------------------------------------------------------------
NoticeRow = tuple[str, str, str, str, datetime]


async def _channels_on(conn: Conn) -> bool:
    return await conn.fetchval("SELECT 1 FROM poc_channels LIMIT 1") is not None


async def queue_notices(conn: Conn, notices: Sequence[NoticeRow]) -> None:
    if not notices or not await _channels_on(conn):
        return
    await conn.executemany(
        "INSERT INTO outbox (kind, message_id, poc, country, channel, created_at,"
        " next_attempt_at) SELECT $1, $2, $3, $4, channel, $5, $5 FROM poc_channels"
        " WHERE poc = $3",
        [(k, m, p, c, to_us(at)) for k, m, p, c, at in notices],
    )


async def queue_sent(conn: Conn, message_id: str, at: datetime) -> None:
    if not await _channels_on(conn):
        return
    await conn.execute(
        "INSERT INTO outbox (kind, message_id, poc, country, channel, created_at,"
        " next_attempt_at) SELECT 'message', d.message_id, d.poc, d.country, pc.channel, $1, $1"
        " FROM deliveries d JOIN poc_channels pc ON pc.poc = d.poc WHERE d.message_id = $2"
        " ORDER BY d.country, d.poc",
        to_us(at),
        message_id,
    )


async def queue_chase_steps(conn: Conn, events: Sequence[Event]) -> None:
    await queue_notices(
        conn,
        [
            (
                "reminder" if e.kind is EventKind.REMINDED else "message",
                e.message_id,
                e.poc,
                e.country,
                e.at,
            )
            for e in events
            if e.kind in (EventKind.REMINDED, EventKind.ESCALATED)
            and e.poc is not None
            and e.country is not None
        ],
    )


# --- messages, acknowledgements, timers ----------------------------------------------------
_INJECT_LOCKS = 0x1A5515  # advisory locks (this, hash of exercise and inject): one a time


async def add_message(
    conn: Conn,
    message: Message,
    policy: AckPolicy,
    chases: Sequence[Chase],
    events: Sequence[Event],
    inject: str | None,
) -> list[int]:
    """Raises InjectSent when the message's exercise has a message of this inject already:
    two nodes sending it at once take turns, and the second finds the first's."""
    if inject is not None and message.exercise_id is not None:
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            _INJECT_LOCKS,
            f"{message.exercise_id}/{inject}",
        )
        if await conn.fetchval(
            "SELECT 1 FROM messages WHERE exercise_id = $1 AND inject = $2 LIMIT 1",
            message.exercise_id,
            inject,
        ):
            raise InjectSent.of(message.exercise_id, inject)
    await insert_message(conn, message, policy, inject)
    ids = await insert_chases(conn, chases)
    await insert_events(conn, events)
    await insert_deliveries(
        conn, [(c.message_id, c.pocs[0], c.country, message.sent_at) for c in chases]
    )
    await queue_sent(conn, message.id, message.sent_at)
    return ids


async def add_response(
    conn: Conn,
    message: Message,
    policy: AckPolicy,
    chases: Sequence[Chase],
    events: Sequence[Event],
    inject: str | None,
    poc: str | None,
    simulated: bool,
) -> tuple[list[int], Chase | None]:
    ids = await add_message(conn, message, policy, chases, events, inject)
    row = await conn.fetchrow(
        f"SELECT {CHASE_COLUMNS_C} FROM chases c WHERE c.message_id = $1 AND c.country = $2"
        " FOR UPDATE",
        message.refers_to,
        message.sender,
    )
    if row is None:
        return ids, None
    after, acked = rules.acknowledge_by_response(
        chase_of(tuple(row)), poc, message.sent_at, simulated
    )
    if not acked:
        return ids, None
    await update_chases(conn, [after])
    await conn.execute(
        "UPDATE deliveries SET acknowledged_at = $1"
        " WHERE message_id = $2 AND poc = $3 AND acknowledged_at IS NULL",
        to_us(message.sent_at),
        message.refers_to,
        after.acknowledged_by,
    )
    await insert_events(conn, acked)
    return ids, after


AckItem = tuple[str, str, datetime, str | None, bool, Via]
"""(message id, poc, now, note, simulated, via): one acknowledgement to record."""


async def acknowledge_many(conn: Conn, items: Sequence[AckItem]) -> list[AckResult | IansError]:
    """Record acknowledgements in one transaction, with one statement of each kind for all
    of them (as SQLite's batch): the chases they touch are locked in id order."""
    keys = sorted({(m, p) for m, p, _, _, _, _ in items})
    rows = await conn.fetch(
        f"SELECT d.message_id, d.poc, d.acknowledged_at, {CHASE_COLUMNS_C}"
        " FROM unnest($1::text[], $2::text[]) AS k (message_id, poc)"
        " JOIN deliveries d ON d.message_id = k.message_id AND d.poc = k.poc"
        " JOIN chases c ON c.message_id = d.message_id AND c.country = d.country"
        # d locked too: a batch that waited for another's locks then reads the deliveries
        # as that one left them (only locked rows are read again after the wait)
        " ORDER BY c.id, d.poc FOR UPDATE OF c, d",
        [m for m, _ in keys],
        [p for _, p in keys],
    )
    found: dict[tuple[str, str], tuple[datetime | None, Chase]] = {}
    for r in rows:
        values = tuple(r)
        found[(values[0], values[1])] = (opt_dt(values[2]), chase_of(values[3:]))
    chases: dict[int, Chase] = {c.id: c for _, c in found.values() if c.id is not None}
    acked: dict[tuple[str, str], datetime] = {}
    events: list[Event] = []
    out: list[AckResult | IansError] = []
    for message_id, poc, now, note, simulated, via in items:
        key = (message_id, poc)
        if key not in found:
            known = await conn.fetchval("SELECT 1 FROM messages WHERE id = $1", message_id)
            out.append(
                UnknownMessage(message_id) if known is None else NotDelivered(message_id, poc)
            )
            continue
        first_ack, chase = found[key]
        chase = chases[chase.id]  # type: ignore[index]
        first_ack = first_ack or acked.get(key)
        if first_ack is not None:
            out.append(AckResult(first_ack, True, chase))
            continue
        try:
            chase, new_events = rules.acknowledge(chase, poc, now, note, via, simulated)
        except IansError as refused:
            out.append(refused)
            continue
        chases[chase.id] = chase  # type: ignore[index]
        acked[key] = now
        events += new_events
        out.append(AckResult(now, False, chase))
    if acked:
        await conn.executemany(
            "UPDATE deliveries SET acknowledged_at = $1 WHERE message_id = $2 AND poc = $3",
            [(to_us(at), m, p) for (m, p), at in acked.items()],
        )
        touched = sorted({found[k][1].id for k in acked})  # type: ignore[type-var]
        await update_chases(conn, [chases[i] for i in touched])  # type: ignore[index]
        await insert_events(conn, events)
    return out


async def fire(conn: Conn, rows: Sequence[Any], now: datetime) -> list[Fired]:
    """Apply the due steps of these locked rows (chase columns, then the policy)."""
    fired: list[Fired] = []
    for r in rows:
        values = tuple(r)
        after, events = rules.fire(chase_of(values[:-1]), parsed_policy(values[-1]), now)
        if events:
            fired.append(Fired(after, events))
    if fired:
        await update_chases(conn, [f.chase for f in fired])
        events = [e for f in fired for e in f.events]
        await insert_events(conn, events)
        await insert_deliveries(
            conn,
            [
                (e.message_id, e.poc, e.country, e.at)  # type: ignore[misc]
                for e in events
                if e.kind is EventKind.ESCALATED
            ],
        )
        await queue_chase_steps(conn, events)
    return fired


FIRE_COLUMNS = (
    f"SELECT {CHASE_COLUMNS_C}, m.policy FROM chases c JOIN messages m ON m.id = c.message_id"
)


# --- exercises --------------------------------------------------------------------------
async def end_exercise(conn: Conn, exercise_id: str, state: str, ended_at: datetime) -> None:
    current = await conn.fetchval(
        "SELECT state FROM exercises WHERE id = $1 FOR UPDATE", exercise_id
    )
    if current is None:
        raise UnknownExercise(exercise_id)
    if current != "running":
        raise Conflict(f"exercise {exercise_id!r} is {current}, not running")
    await conn.execute(
        "UPDATE exercises SET state = $1, ended_at = $2 WHERE id = $3",
        state,
        to_us(ended_at),
        exercise_id,
    )
    if state == "stopped":
        await conn.execute(
            "UPDATE chases SET status = 'stopped', next_due_at = NULL"
            " WHERE status = 'pending' AND message_id IN"
            " (SELECT id FROM messages WHERE exercise_id = $1)",
            exercise_id,
        )


async def import_run(
    conn: Conn,
    exercise: Exercise,
    messages: Sequence[SentMessage],
    chases: Sequence[Chase],
    events: Sequence[Event],
) -> None:
    await insert_exercise(conn, exercise)
    for sent in messages:
        await insert_message(conn, sent.message, sent.policy, sent.inject)
    await insert_chases(conn, chases)
    await insert_events(conn, events)  # no deliveries: a rehearsal reaches no inbox


async def add_consultation(
    conn: Conn,
    consultation: Exercise,
    invitations: Sequence[Invitation],
    responses: Sequence[Response],
) -> None:
    await insert_exercise(conn, consultation)
    await conn.executemany(
        "INSERT INTO invitations (consultation_id, poc, country, invited_at)"
        " VALUES ($1, $2, $3, $4)",
        [(consultation.id, i.poc, i.country, to_us(i.invited_at)) for i in invitations],
    )
    real = consultation.clock != "virtual"  # a rehearsal reaches no one
    if real:
        await insert_events(
            conn,
            [
                inbox_delivered("invitation", consultation.id, i.country, i.poc, i.invited_at)
                for i in invitations
            ],
        )
    await conn.executemany(
        "INSERT INTO responses (consultation_id, poc, submitted_at, answers, versions)"
        " VALUES ($1, $2, $3, $4, 1)",
        [(consultation.id, r.poc, to_us(r.submitted_at), json.dumps(r.answers)) for r in responses],
    )
    if real:
        await queue_notices(
            conn,
            [("invitation", consultation.id, i.poc, i.country, i.invited_at) for i in invitations],
        )


async def save_response(
    conn: Conn, consultation_id: str, poc: str, answers: Answers, now: datetime, deadline: datetime
) -> bool:
    state = await conn.fetchval("SELECT state FROM exercises WHERE id = $1", consultation_id)
    if state is None:
        raise UnknownExercise(consultation_id)
    if state != "running" or now >= deadline:
        raise Conflict("the consultation is closed: no more answers are accepted")
    invited = await conn.fetchval(
        "SELECT 1 FROM invitations WHERE consultation_id = $1 AND poc = $2", consultation_id, poc
    )
    if invited is None:
        raise Forbidden(f"{poc} is not invited to this consultation")
    versions = await conn.fetchval(
        "INSERT INTO responses (consultation_id, poc, submitted_at, answers, versions)"
        " VALUES ($1, $2, $3, $4, 1) ON CONFLICT (consultation_id, poc) DO UPDATE SET"
        " submitted_at = excluded.submitted_at, answers = excluded.answers,"
        " versions = responses.versions + 1 RETURNING versions",
        consultation_id,
        poc,
        to_us(now),
        json.dumps(answers),
    )
    return bool(versions == 1)


async def remind(conn: Conn, consultation_id: str, number: int, now: datetime) -> list[str]:
    open_ = await conn.fetchval(
        "SELECT 1 FROM exercises WHERE id = $1 AND state = 'running' FOR SHARE", consultation_id
    )
    if open_ is None:
        return []
    first = await conn.fetchval(  # two nodes firing the same reminder: one inserts it
        "INSERT INTO consultation_reminders (consultation_id, number, sent_at, reminded)"
        " VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING RETURNING 1",
        consultation_id,
        number,
        to_us(now),
    )
    if first is None:
        return []
    rows = await conn.fetch(
        "SELECT i.poc FROM invitations i LEFT JOIN responses r"
        " ON r.consultation_id = i.consultation_id AND r.poc = i.poc"
        " WHERE i.consultation_id = $1 AND r.poc IS NULL ORDER BY i.poc",
        consultation_id,
    )
    pocs = [str(r[0]) for r in rows]
    await conn.execute(
        "UPDATE consultation_reminders SET reminded = $1 WHERE consultation_id = $2"
        " AND number = $3",
        len(pocs),
        consultation_id,
        number,
    )
    await insert_events(
        conn,
        [
            Event(now, EventKind.REMINDED, consultation_id, None, poc, None, {"reminder": number})
            for poc in pocs
        ],
    )
    if pocs and await _channels_on(conn):
        await conn.executemany(
            "INSERT INTO outbox (kind, message_id, poc, country, channel, created_at,"
            " next_attempt_at) SELECT 'reminder', i.consultation_id, i.poc, i.country,"
            " pc.channel, $1, $1 FROM invitations i JOIN poc_channels pc ON pc.poc = i.poc"
            " WHERE i.consultation_id = $2 AND i.poc = $3",
            [(to_us(now), consultation_id, p) for p in pocs],
        )
    return pocs


# --- the outbox's outcomes ----------------------------------------------------------------
async def record_attempts(conn: Conn, attempts: Sequence[Attempt]) -> list[Event]:
    events: list[Event] = []
    escalations: list[Event] = []
    for a in attempts:
        row = await conn.fetchrow(
            "SELECT kind, message_id, poc, country, channel, attempts, state FROM outbox"
            " WHERE id = $1 FOR UPDATE",
            a.notice_id,
        )
        if row is None or row[6] != NoticeState.PENDING or row[5] != a.number - 1:
            continue
        kind, message_id, poc, country, channel = tuple(row)[:5]
        if a.delivered:
            state, next_at = NoticeState.DELIVERED, None
        elif a.retry_at is not None:
            state, next_at = NoticeState.PENDING, to_us(a.retry_at)
        else:
            state, next_at = NoticeState.FAILED, None
        await conn.execute(
            "UPDATE outbox SET attempts = $1, state = $2, next_attempt_at = $3,"
            " last_answer = $4, claimed_until = NULL WHERE id = $5",
            a.number,
            state.value,
            next_at,
            a.answer[:1000],
            a.notice_id,
        )
        detail: dict[str, object] = {
            "channel": channel,
            "notice": kind,
            "notice_id": a.notice_id,
            "attempt": a.number,
            "answer": a.answer[:1000],
        }
        if not a.delivered:
            detail["permanent"] = state is NoticeState.FAILED
        kind_ = EventKind.DELIVERED if a.delivered else EventKind.DELIVERY_FAILED
        events.append(Event(a.at, kind_, message_id, country, poc, None, detail))
        if a.gone and await _disable_channel(conn, poc, channel, a.at, a.answer):
            off = {"channel": channel, "notice_id": a.notice_id, "answer": a.answer[:1000]}
            events.append(
                Event(a.at, EventKind.CHANNEL_DISABLED, message_id, country, poc, None, off)
            )
        if state is NoticeState.FAILED:
            escalations += await _escalate(conn, message_id, country, poc, a.at, channel)
    await insert_events(conn, events)
    return escalations


async def _disable_channel(conn: Conn, poc: str, channel: str, at: datetime, answer: str) -> bool:
    """Switch the PoC's channel off (a peer answered 410); True if it was on."""
    inserted = await conn.fetchval(
        "INSERT INTO disabled_channels (poc, channel, disabled_at, answer)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1",
        poc,
        channel,
        to_us(at),
        answer[:1000],
    )
    await conn.execute("DELETE FROM poc_channels WHERE poc = $1 AND channel = $2", poc, channel)
    return inserted is not None


async def _escalate(
    conn: Conn, message_id: str, country: str, poc: str, at: datetime, channel: str
) -> list[Event]:
    row = await conn.fetchrow(
        f"SELECT {CHASE_COLUMNS} FROM chases WHERE message_id = $1 AND country = $2 FOR UPDATE",
        message_id,
        country,
    )
    if row is None:
        return []  # a consultation's notice: nothing to escalate
    after, events = rules.escalate_now(chase_of(tuple(row)), poc, at, f"{channel} delivery failed")
    if not events:
        return []
    await update_chases(conn, [after])
    await insert_events(conn, events)
    await insert_deliveries(conn, [(e.message_id, e.poc, e.country, e.at) for e in events])  # type: ignore[misc]
    await queue_chase_steps(conn, events)
    return events


async def record_bounce(
    conn: Conn, notice_id: int, at: datetime, answer: str, permanent: bool
) -> list[Event]:
    row = await conn.fetchrow(
        "SELECT kind, message_id, poc, country, channel, state FROM outbox WHERE id = $1"
        " FOR UPDATE",
        notice_id,
    )
    if row is None:
        return []
    kind, message_id, poc, country, channel, state = tuple(row)
    detail = {
        "channel": channel,
        "notice": kind,
        "notice_id": notice_id,
        "answer": answer[:1000],
        "permanent": permanent,
        "reported_by": "delivery status notification",
    }
    await insert_events(
        conn, [Event(at, EventKind.DELIVERY_FAILED, message_id, country, poc, None, detail)]
    )
    if not permanent or state == NoticeState.FAILED:
        return []
    await conn.execute(
        "UPDATE outbox SET state = 'failed', next_attempt_at = NULL, last_answer = $1,"
        " claimed_until = NULL WHERE id = $2",
        answer[:1000],
        notice_id,
    )
    return await _escalate(conn, message_id, country, poc, at, channel)

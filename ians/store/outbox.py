"""The outbox's writes, run by the writer process inside the transaction of the step that
causes them (a send, a chase step, a consultation's invitation or reminder), so that a
notice for an external channel is stored with its cause or not at all.

`poc_channels` says which external channels reach which PoC (the server writes it at
start from the registry and its settings; issuing a webhook secret adds a row); a notice
gets one outbox row per channel. `disabled_channels` holds those a peer switched off
(HTTP 410), left out of `poc_channels` until a new webhook secret is issued.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ians.domain import chase as rules
from ians.domain.chase import Event, EventKind
from ians.domain.outbox import Attempt, NoticeState, OutboxNotice
from ians.store.rows import (
    CHASE_COLUMNS,
    UPDATE_CHASE,
    chase_of,
    chase_update,
    from_us,
    insert_deliveries,
    insert_events,
    to_us,
)

NoticeRow = tuple[str, str, str, str, datetime]
"""(kind, message id, poc, country, at): a notice to queue for the PoC's channels."""

_QUEUE = (
    "INSERT INTO outbox (kind, message_id, poc, country, channel, created_at, next_attempt_at)"
    " SELECT ?, ?, ?, ?, channel, ?, ? FROM poc_channels WHERE poc = ?"
)


def _channels_on(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM poc_channels LIMIT 1").fetchone() is not None


def queue_notices(conn: sqlite3.Connection, notices: Sequence[NoticeRow]) -> None:
    """One outbox row per external channel of each notice's PoC, due at once."""
    if not notices or not _channels_on(conn):
        return
    conn.executemany(_QUEUE, [(k, m, p, c, to_us(at), to_us(at), p) for k, m, p, c, at in notices])


def queue_sent(conn: sqlite3.Connection, message_id: str, at: datetime) -> None:
    """The notices of a message just sent: one per external channel of each PoC it reached
    (its deliveries, stored in this transaction), in one statement."""
    if not _channels_on(conn):
        return
    us = to_us(at)
    conn.execute(
        "INSERT INTO outbox (kind, message_id, poc, country, channel, created_at,"
        " next_attempt_at) SELECT 'message', d.message_id, d.poc, d.country, pc.channel, ?, ?"
        " FROM deliveries d JOIN poc_channels pc ON pc.poc = d.poc WHERE d.message_id = ?"
        " ORDER BY d.country, d.poc",
        (us, us, message_id),
    )


def queue_chase_steps(conn: sqlite3.Connection, events: Sequence[Event]) -> None:
    """The notices that chase steps send: a reminder to each PoC reminded, the message to
    each PoC reached by escalation."""
    queue_notices(
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


def queue_consultation_reminders(
    conn: sqlite3.Connection, consultation_id: str, pocs: Sequence[str], at: datetime
) -> None:
    if not pocs or not _channels_on(conn):
        return
    conn.executemany(
        "INSERT INTO outbox (kind, message_id, poc, country, channel, created_at,"
        " next_attempt_at) SELECT 'reminder', i.consultation_id, i.poc, i.country, pc.channel,"
        " ?, ? FROM invitations i JOIN poc_channels pc ON pc.poc = i.poc"
        " WHERE i.consultation_id = ? AND i.poc = ?",
        [(to_us(at), to_us(at), consultation_id, p) for p in pocs],
    )


def set_channels(conn: sqlite3.Connection, items: list[list[tuple[str, str]]]) -> list[None]:
    """Replace the (poc, channel) pairs, leaving out the channels a peer switched off."""
    conn.execute("DELETE FROM poc_channels")
    for rows in items:
        conn.executemany(
            "INSERT OR IGNORE INTO poc_channels (poc, channel) SELECT ?1, ?2 WHERE NOT EXISTS"
            " (SELECT 1 FROM disabled_channels WHERE poc = ?1 AND channel = ?2)",
            rows,
        )
    return [None] * len(items)


def set_webhook_secret(
    conn: sqlite3.Connection, items: list[tuple[str, str, datetime]]
) -> list[None]:
    """Store each PoC's new webhook secret (replacing its old one) and switch its webhook
    on again: a PoC's administrators issue a new secret when their receiver is back."""
    for poc, secret, at in items:
        conn.execute(
            "INSERT INTO webhook_secrets (poc, secret, issued_at) VALUES (?, ?, ?)"
            " ON CONFLICT (poc) DO UPDATE SET secret = excluded.secret,"
            " issued_at = excluded.issued_at",
            (poc, secret, to_us(at)),
        )
        conn.execute("DELETE FROM disabled_channels WHERE poc = ? AND channel = 'webhook'", (poc,))
        conn.execute(
            "INSERT OR IGNORE INTO poc_channels (poc, channel) VALUES (?, 'webhook')", (poc,)
        )
    return [None] * len(items)


def _disable_channel(
    conn: sqlite3.Connection, poc: str, channel: str, at: datetime, answer: str
) -> bool:
    """Switch the PoC's channel off; True if it was on."""
    cursor = conn.execute(
        "INSERT OR IGNORE INTO disabled_channels (poc, channel, disabled_at, answer)"
        " VALUES (?, ?, ?, ?)",
        (poc, channel, to_us(at), answer[:1000]),
    )
    conn.execute("DELETE FROM poc_channels WHERE poc = ? AND channel = ?", (poc, channel))
    return cursor.rowcount == 1


def record_attempts(conn: sqlite3.Connection, items: list[list[Attempt]]) -> list[list[Event]]:
    """Apply each attempt's outcome to its notice with its event, in this transaction.

    A final failure of a notice of a message escalates the country to its next PoC at once
    (`rules.escalate_now`). An attempt whose notice is no longer pending, or whose number
    is not the next one (a stale or repeated outcome), changes nothing. A `gone` attempt
    also switches the PoC's channel off, with a `channel_disabled` event. Returns, per
    item, the escalations made. A thousand outcomes are one SELECT of their
    notices, one executemany UPDATE and one INSERT of their events.
    """
    ids = [a.notice_id for attempts in items for a in attempts]
    notices: dict[int, list[Any]] = {
        r[0]: list(r[1:])
        for r in conn.execute(
            "SELECT id, kind, message_id, poc, country, channel, attempts, state FROM outbox"
            " WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        )
    }
    out: list[list[Event]] = []
    updates: list[tuple[int, str, int | None, str, int]] = []
    for attempts in items:
        events: list[Event] = []
        escalations: list[Event] = []
        for a in attempts:
            row = notices.get(a.notice_id)
            if row is None or row[6] != NoticeState.PENDING or row[5] != a.number - 1:
                continue
            kind, message_id, poc, country, channel = row[:5]
            if a.delivered:
                state, next_at = NoticeState.DELIVERED, None
            elif a.retry_at is not None:
                state, next_at = NoticeState.PENDING, to_us(a.retry_at)
            else:
                state, next_at = NoticeState.FAILED, None
            row[5:7] = a.number, state.value  # a repeated outcome in this batch is stale
            updates.append((a.number, state.value, next_at, a.answer[:1000], a.notice_id))
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
            if a.gone and _disable_channel(conn, poc, channel, a.at, a.answer):
                off = {"channel": channel, "notice_id": a.notice_id, "answer": a.answer[:1000]}
                events.append(
                    Event(a.at, EventKind.CHANNEL_DISABLED, message_id, country, poc, None, off)
                )
            if state is NoticeState.FAILED:
                escalations += _escalate(conn, message_id, country, poc, a.at, channel)
        insert_events(conn, events)
        out.append(escalations)
    conn.executemany(
        "UPDATE outbox SET attempts = ?, state = ?, next_attempt_at = ?, last_answer = ?"
        " WHERE id = ?",
        updates,
    )
    return out


def _escalate(
    conn: sqlite3.Connection, message_id: str, country: str, poc: str, at: datetime, channel: str
) -> list[Event]:
    """Reach the next PoC of the country at once, if the failed PoC was the one reached last."""
    row = conn.execute(
        f"SELECT {CHASE_COLUMNS} FROM chases WHERE message_id = ? AND country = ?",
        (message_id, country),
    ).fetchone()
    if row is None:
        return []  # a consultation's notice: nothing to escalate
    after, events = rules.escalate_now(chase_of(row), poc, at, f"{channel} delivery failed")
    if not events:
        return []
    conn.execute(UPDATE_CHASE, chase_update(after))
    insert_events(conn, events)
    insert_deliveries(conn, [(e.message_id, e.poc, e.country, e.at) for e in events])  # type: ignore[misc]
    queue_chase_steps(conn, events)
    return events


def notice_of(r: Sequence[Any]) -> OutboxNotice:
    """An OutboxNotice from the columns of NOTICE_COLUMNS."""
    due_at = None if r[9] is None else from_us(r[9])
    return OutboxNotice(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], from_us(r[7]), NoticeState(r[8]), due_at
    )


NOTICE_COLUMNS = (
    "id, kind, message_id, poc, country, channel, attempts, created_at, state, next_attempt_at"
)


def after_key(after: OutboxNotice | None) -> tuple[int, int]:
    """(next_attempt_at, id) that a read of due notices starts after: the last notice the
    outbox read, or before every notice."""
    if after is None or after.due_at is None:
        return (-1, 0)
    return (to_us(after.due_at), after.id)


def record_bounces(
    conn: sqlite3.Connection, items: list[tuple[int, datetime, str, bool]]
) -> list[list[Event]]:
    """Delivery status notifications about notices the relay had accepted: each is a
    `delivery_failed` event; a permanent one marks the notice failed and escalates."""
    out: list[list[Event]] = []
    for notice_id, at, answer, permanent in items:
        row = conn.execute(
            "SELECT kind, message_id, poc, country, channel, state FROM outbox WHERE id = ?",
            (notice_id,),
        ).fetchone()
        if row is None:
            out.append([])
            continue
        kind, message_id, poc, country, channel, state = row
        detail = {
            "channel": channel,
            "notice": kind,
            "notice_id": notice_id,
            "answer": answer[:1000],
            "permanent": permanent,
            "reported_by": "delivery status notification",
        }
        insert_events(
            conn, [Event(at, EventKind.DELIVERY_FAILED, message_id, country, poc, None, detail)]
        )
        escalations: list[Event] = []
        if permanent and state != NoticeState.FAILED:
            conn.execute(
                "UPDATE outbox SET state = 'failed', next_attempt_at = NULL, last_answer = ?"
                " WHERE id = ?",
                (answer[:1000], notice_id),
            )
            escalations = _escalate(conn, message_id, country, poc, at, channel)
        out.append(escalations)
    return out


def claim_once(conn: sqlite3.Connection, items: list[str]) -> list[bool]:
    """Mark each key used; True for the first claim of a key, False for any later one."""
    out = []
    for key in items:
        cursor = conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?, 'used')", (f"claimed:{key}",)
        )
        out.append(cursor.rowcount == 1)
    return out

"""The embedded default store: SQLite through aiosqlite, in WAL mode.

One writer connection and one reader connection. Writes queue up for the writer,
which commits whatever is queued in one transaction (group commit, no waiting
window): under load many acknowledgements share one commit, and each caller is
answered only after that commit.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from ians.domain import chase as rules
from ians.domain.chase import Chase, ChaseStatus, Event, EventKind
from ians.domain.consultation import Answers, Invitation, Response
from ians.domain.exercise import Exercise
from ians.domain.messages import CONTENT_MODELS, Message, MessageType, Mode
from ians.domain.policy import AckPolicy
from ians.errors import (
    Conflict,
    Forbidden,
    IansError,
    NotDelivered,
    UnknownExercise,
    UnknownMessage,
)
from ians.reports.facts import ExerciseFacts, SentMessage
from ians.store.base import AckResult, Delivery, Fired, InboxItem, Store
from ians.store.schema import MIGRATIONS

T = TypeVar("T")
R = TypeVar("R")
Batch = Callable[[aiosqlite.Connection, list[Any]], Awaitable[list[Any]]]
"""Writes a batch of items inside the open transaction; one result (or IansError) per item."""

_CHUNK = 500  # SQLite's bound-parameter limit is far above chunks of this size


def to_us(at: datetime) -> int:
    return round(at.timestamp() * 1_000_000)


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


def _opt_us(at: datetime | None) -> int | None:
    return None if at is None else to_us(at)


def _opt_dt(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def _chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


class StoreClosed(IansError):
    code = "store_closed"


class _GroupCommit:
    """Runs queued batches for the writer connection, committing all that is queued at once."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._queue: list[tuple[Batch, Any, asyncio.Future[Any]]] = []
        self._ready = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="ians-store-writer")

    async def submit(self, batch: Batch, item: Any) -> Any:
        if self._closing:
            raise StoreClosed("the store is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((batch, item, future))
        self._ready.set()
        return await future

    async def close(self) -> None:
        self._closing = True
        self._ready.set()
        await self._task

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            queued, self._queue = self._queue, []
            if queued:
                await self._commit(queued)
            elif self._closing:
                return

    async def _commit(self, queued: list[tuple[Batch, Any, asyncio.Future[Any]]]) -> None:
        groups: dict[Batch, list[int]] = {}
        for i, (batch, _, _) in enumerate(queued):
            groups.setdefault(batch, []).append(i)
        results: list[Any] = [None] * len(queued)
        try:
            await self._conn.execute("BEGIN IMMEDIATE")
            for batch, indexes in groups.items():
                outcomes = await batch(self._conn, [queued[i][1] for i in indexes])
                for i, outcome in zip(indexes, outcomes, strict=True):
                    results[i] = outcome
            await self._conn.execute("COMMIT")
        except BaseException as exc:  # the whole transaction failed: tell every caller
            if self._conn.in_transaction:
                await self._conn.execute("ROLLBACK")
            for _, _, future in queued:
                if not future.done():
                    future.set_exception(
                        exc if isinstance(exc, Exception) else StoreClosed("the store stopped")
                    )
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, future), outcome in zip(queued, results, strict=True):
            if future.done():
                continue
            if isinstance(outcome, IansError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


class SqliteStore(Store):
    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._commits = _GroupCommit(writer)
        self._policies: dict[str, AckPolicy] = {}

    @classmethod
    async def open(cls, path: Path | str, *, synchronous: str = "FULL") -> SqliteStore:
        """Open (creating or migrating) the database at `path`.

        `synchronous=FULL` makes every commit durable against power loss, not only
        against a crash of the process. Raises IansError for a database made by a
        newer IANS.
        """
        writer = await aiosqlite.connect(path, isolation_level=None)
        try:
            await writer.execute("PRAGMA journal_mode=WAL")
            await writer.execute(f"PRAGMA synchronous={synchronous}")
            await writer.execute("PRAGMA foreign_keys=ON")
            await writer.execute("PRAGMA busy_timeout=5000")
            await _migrate(writer)
            reader = await aiosqlite.connect(path, isolation_level=None)
            await reader.execute("PRAGMA query_only=1")
            await reader.execute("PRAGMA busy_timeout=5000")
        except BaseException:
            await writer.close()
            raise
        return cls(writer, reader)

    async def close(self) -> None:
        await self._commits.close()
        await self._reader.close()
        await self._writer.close()

    async def _write(self, batch: Batch, item: Any) -> Any:
        return await self._commits.submit(batch, item)

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._reader.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    # --- tokens -----------------------------------------------------------------
    async def admin_token_hash(self) -> str | None:
        rows = await self._rows("SELECT value FROM meta WHERE key = 'admin_token_hash'")
        return str(rows[0][0]) if rows else None

    async def set_admin_token_hash(self, token_hash: str) -> None:
        await self._write(_set_meta, ("admin_token_hash", token_hash))

    async def poc_token_hashes(self) -> dict[str, str]:
        return {str(h): str(p) for p, h in await self._rows("SELECT poc, token_hash FROM tokens")}

    async def set_poc_token_hash(self, poc: str, token_hash: str, at: datetime) -> None:
        await self._write(_set_token, (poc, token_hash, to_us(at)))

    # --- messages -----------------------------------------------------------------
    async def add_message(
        self,
        message: Message,
        policy: AckPolicy,
        chases: Sequence[Chase],
        events: Sequence[Event],
        inject: str | None = None,
    ) -> list[Chase]:
        chase_ids: list[int] = await self._write(
            _add_message, (message, policy, list(chases), list(events), inject)
        )
        return [c._replace(id=i) for c, i in zip(chases, chase_ids, strict=True)]

    async def message(self, message_id: str) -> Message:
        found = await self.find_message(message_id)
        if found is None:
            raise UnknownMessage(message_id)
        return found

    async def find_message(self, message_id: str) -> Message | None:
        rows = await self._rows(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
        )
        return _message(rows[0]) if rows else None

    async def chases(self, message_id: str) -> list[Chase]:
        rows = await self._rows(
            f"SELECT {_CHASE_COLUMNS} FROM chases WHERE message_id = ? ORDER BY country",
            (message_id,),
        )
        return [_chase(r) for r in rows]

    async def deliveries(self, message_id: str) -> list[Delivery]:
        rows = await self._rows(
            "SELECT message_id, poc, country, delivered_at, acknowledged_at FROM deliveries"
            " WHERE message_id = ? ORDER BY delivered_at, country, poc",
            (message_id,),
        )
        return [_delivery(r) for r in rows]

    async def inbox(self, poc: str, limit: int) -> list[InboxItem]:
        rows = await self._rows(
            f"SELECT {_MESSAGE_COLUMNS_M}, d.message_id, d.poc, d.country, d.delivered_at,"
            f" d.acknowledged_at, {_CHASE_COLUMNS_C}"
            " FROM deliveries d JOIN messages m ON m.id = d.message_id"
            " JOIN chases c ON c.message_id = d.message_id AND c.country = d.country"
            " WHERE d.poc = ? ORDER BY d.delivered_at DESC, m.sent_at DESC LIMIT ?",
            (poc, limit),
        )
        m, d = _MESSAGE_WIDTH, _MESSAGE_WIDTH + 5
        return [InboxItem(_message(r[:m]), _delivery(r[m:d]), _chase(r[d:])) for r in rows]

    async def acknowledge(
        self, message_id: str, poc: str, now: datetime, note: str | None = None
    ) -> AckResult:
        result: AckResult = await self._write(_acknowledge, (message_id, poc, now, note))
        return result

    # --- timers -------------------------------------------------------------------
    async def pending_timers(self) -> list[tuple[datetime, int]]:
        async with self._reader.execute(
            "SELECT next_due_at, id FROM chases WHERE next_due_at IS NOT NULL"
        ) as cursor:
            return [(from_us(due), cid) for due, cid in await cursor.fetchall()]

    async def fire(self, chase_ids: Sequence[int], now: datetime) -> list[Fired]:
        if len(self._policies) > 50_000:  # a cache of parsed policies, not a record: keep it small
            self._policies.clear()
        fired: list[Fired] = await self._write(_fire, (list(chase_ids), now, self._policies))
        return fired

    # --- facts ----------------------------------------------------------------------
    async def events(self, message_id: str) -> list[Event]:
        rows = await self._rows(
            "SELECT at, kind, message_id, country, poc, due_at, detail FROM events"
            " WHERE message_id = ? ORDER BY id",
            (message_id,),
        )
        return [
            Event(
                from_us(r[0]),
                EventKind(r[1]),
                r[2],
                r[3],
                r[4],
                _opt_dt(r[5]),
                json.loads(r[6]) if r[6] else {},
            )
            for r in rows
        ]

    async def record_events(self, events: Sequence[Event]) -> None:
        await self._write(_record_events, list(events))

    # --- exercises ------------------------------------------------------------------
    async def add_exercise(self, exercise: Exercise) -> None:
        await self._write(_add_exercise, exercise)

    async def exercise(self, exercise_id: str) -> Exercise:
        rows = await self._rows(
            f"SELECT {_EXERCISE_COLUMNS} FROM exercises WHERE id = ?", (exercise_id,)
        )
        if not rows:
            raise UnknownExercise(exercise_id)
        return _exercise(rows[0])

    async def exercises(self, state: str) -> list[Exercise]:
        rows = await self._rows(
            f"SELECT {_EXERCISE_COLUMNS} FROM exercises WHERE state = ? ORDER BY rowid", (state,)
        )
        return [_exercise(r) for r in rows]

    async def end_exercise(self, exercise_id: str, state: str, ended_at: datetime) -> Exercise:
        await self._write(_end_exercise, (exercise_id, state, ended_at))
        return await self.exercise(exercise_id)

    async def exercise_facts(self, exercise_id: str) -> ExerciseFacts:
        exercise = await self.exercise(exercise_id)
        rows = await self._rows(
            f"SELECT {_MESSAGE_COLUMNS}, inject, policy FROM messages WHERE exercise_id = ?"
            " ORDER BY sent_at, rowid",
            (exercise_id,),
        )
        messages = [
            SentMessage(r[_MESSAGE_WIDTH], _message(r), AckPolicy.model_validate_json(r[-1]))
            for r in rows
        ]
        in_exercise = "SELECT id FROM messages WHERE exercise_id = ?"
        chases = await self._rows(
            f"SELECT {_CHASE_COLUMNS} FROM chases WHERE message_id IN ({in_exercise}) ORDER BY id",
            (exercise_id,),
        )
        events = await self._rows(
            "SELECT at, kind, message_id, country, poc, due_at, detail FROM events"
            f" WHERE message_id IN ({in_exercise}) ORDER BY id",
            (exercise_id,),
        )
        return ExerciseFacts(
            exercise, messages, [_chase(r) for r in chases], [_event(r) for r in events]
        )

    async def import_run(
        self,
        exercise: Exercise,
        messages: Sequence[SentMessage],
        chases: Sequence[Chase],
        events: Sequence[Event],
    ) -> None:
        await self._write(_import_run, (exercise, list(messages), list(chases), list(events)))

    # --- consultations -----------------------------------------------------------------
    async def add_consultation(
        self,
        consultation: Exercise,
        invitations: Sequence[Invitation],
        responses: Sequence[Response] = (),
    ) -> None:
        await self._write(_add_consultation, (consultation, list(invitations), list(responses)))

    async def invitations(self, consultation_id: str) -> list[Invitation]:
        rows = await self._rows(
            "SELECT poc, country, invited_at FROM invitations WHERE consultation_id = ?"
            " ORDER BY country, poc",
            (consultation_id,),
        )
        return [Invitation(r[0], r[1], from_us(r[2])) for r in rows]

    async def invited_to(self, poc: str) -> list[tuple[Exercise, Response | None]]:
        rows = await self._rows(
            f"SELECT {_EXERCISE_COLUMNS_E}, r.submitted_at, r.answers FROM invitations i"
            " JOIN exercises e ON e.id = i.consultation_id"
            " LEFT JOIN responses r ON r.consultation_id = i.consultation_id AND r.poc = i.poc"
            " WHERE i.poc = ? ORDER BY e.started_at DESC",
            (poc,),
        )
        width = len(_EXERCISE_COLUMNS.split(","))
        return [
            (
                _exercise(r[:width]),
                None
                if r[width] is None
                else Response(poc, from_us(r[width]), json.loads(r[width + 1])),
            )
            for r in rows
        ]

    async def responses(self, consultation_id: str) -> list[Response]:
        rows = await self._rows(
            "SELECT poc, submitted_at, answers FROM responses WHERE consultation_id = ?"
            " ORDER BY poc",
            (consultation_id,),
        )
        return [Response(r[0], from_us(r[1]), json.loads(r[2])) for r in rows]

    async def save_response(
        self,
        consultation_id: str,
        poc: str,
        answers: Answers,
        now: datetime,
        deadline: datetime,
    ) -> bool:
        first: bool = await self._write(
            _save_response, (consultation_id, poc, answers, now, deadline)
        )
        return first

    async def remind(self, consultation_id: str, number: int, now: datetime) -> list[str]:
        pocs: list[str] = await self._write(_remind, (consultation_id, number, now))
        return pocs

    async def reminders_sent(self, consultation_id: str) -> set[int]:
        rows = await self._rows(
            "SELECT number FROM consultation_reminders WHERE consultation_id = ?",
            (consultation_id,),
        )
        return {int(r[0]) for r in rows}


# --- row mapping -----------------------------------------------------------------------

_MESSAGE_FIELDS = (
    "id",
    "type",
    "mode",
    "sender",
    "recipients",
    "sent_at",
    "refers_to",
    "content",
    "exercise_id",
)
_MESSAGE_COLUMNS = ", ".join(_MESSAGE_FIELDS)
_MESSAGE_COLUMNS_M = ", ".join(f"m.{f}" for f in _MESSAGE_FIELDS)
_MESSAGE_WIDTH = len(_MESSAGE_FIELDS)
_CHASE_FIELDS = (
    "id",
    "message_id",
    "country",
    "pocs",
    "sent_at",
    "status",
    "steps_done",
    "reached",
    "reminders",
    "acknowledged_at",
    "acknowledged_by",
    "gave_up_at",
    "next_due_at",
)
_CHASE_COLUMNS = ", ".join(_CHASE_FIELDS)
_CHASE_COLUMNS_C = ", ".join(f"c.{f}" for f in _CHASE_FIELDS)


def _message(r: Sequence[Any]) -> Message:
    type_ = MessageType(r[1])
    return Message(
        id=r[0],
        type=type_,
        mode=Mode(r[2]),
        sender=r[3],
        to=json.loads(r[4]),
        sent_at=from_us(r[5]),
        refers_to=r[6],
        content=CONTENT_MODELS[type_].model_validate_json(r[7]),
        exercise_id=r[8],
    )


def _event(r: Sequence[Any]) -> Event:
    return Event(
        from_us(r[0]),
        EventKind(r[1]),
        r[2],
        r[3],
        r[4],
        _opt_dt(r[5]),
        json.loads(r[6]) if r[6] else {},
    )


_EXERCISE_COLUMNS = (
    "id, name, kind, clock, speed, state, started_at, wall_started_at, ended_at,"
    " seed, scenario, simulate"
)


_EXERCISE_COLUMNS_E = ", ".join(f"e.{c.strip()}" for c in _EXERCISE_COLUMNS.split(","))


def _exercise(r: Sequence[Any]) -> Exercise:
    return Exercise(
        id=r[0],
        name=r[1],
        kind=r[2],
        clock=r[3],
        speed=r[4],
        state=r[5],
        started_at=from_us(r[6]),
        wall_started_at=from_us(r[7]),
        ended_at=_opt_dt(r[8]),
        seed=r[9],
        scenario=r[10],
        simulate=tuple(json.loads(r[11])),
    )


def _exercise_row(e: Exercise) -> tuple[Any, ...]:
    return (
        e.id,
        e.name,
        e.kind,
        e.clock,
        e.speed,
        e.state,
        to_us(e.started_at),
        to_us(e.wall_started_at),
        _opt_us(e.ended_at),
        e.seed,
        e.scenario,
        json.dumps(list(e.simulate)),
    )


def _delivery(r: Sequence[Any]) -> Delivery:
    return Delivery(r[0], r[1], r[2], from_us(r[3]), _opt_dt(r[4]))


def _chase(r: Sequence[Any]) -> Chase:
    return Chase(
        id=r[0],
        message_id=r[1],
        country=r[2],
        pocs=tuple(r[3].split(",")),
        sent_at=from_us(r[4]),
        status=ChaseStatus(r[5]),
        steps_done=r[6],
        reached=r[7],
        reminders=r[8],
        acknowledged_at=_opt_dt(r[9]),
        acknowledged_by=r[10],
        gave_up_at=_opt_dt(r[11]),
        next_due_at=_opt_dt(r[12]),
    )


def _chase_row(c: Chase) -> tuple[Any, ...]:
    return (
        c.id,
        c.message_id,
        c.country,
        ",".join(c.pocs),
        to_us(c.sent_at),
        c.status.value,
        c.steps_done,
        c.reached,
        c.reminders,
        _opt_us(c.acknowledged_at),
        c.acknowledged_by,
        _opt_us(c.gave_up_at),
        _opt_us(c.next_due_at),
    )


def _chase_update(c: Chase) -> tuple[Any, ...]:
    return (
        c.status.value,
        c.steps_done,
        c.reached,
        c.reminders,
        _opt_us(c.acknowledged_at),
        c.acknowledged_by,
        _opt_us(c.gave_up_at),
        _opt_us(c.next_due_at),
        c.id,
    )


_UPDATE_CHASE = (
    "UPDATE chases SET status = ?, steps_done = ?, reached = ?, reminders = ?,"
    " acknowledged_at = ?, acknowledged_by = ?, gave_up_at = ?, next_due_at = ? WHERE id = ?"
)


def _event_row(e: Event) -> tuple[Any, ...]:
    return (
        to_us(e.at),
        e.kind.value,
        e.message_id,
        e.country,
        e.poc,
        _opt_us(e.due_at),
        json.dumps(dict(e.detail)) if e.detail else None,
    )


async def _insert_events(conn: aiosqlite.Connection, events: Sequence[Event]) -> None:
    await conn.executemany(
        "INSERT INTO events (at, kind, message_id, country, poc, due_at, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [_event_row(e) for e in events],
    )


# --- write batches (run by the group commit inside its transaction) ---------------------


async def _set_meta(conn: aiosqlite.Connection, items: list[tuple[str, str]]) -> list[None]:
    await conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", items)
    return [None] * len(items)


async def _set_token(conn: aiosqlite.Connection, items: list[tuple[str, str, int]]) -> list[None]:
    await conn.executemany(
        "INSERT INTO tokens (poc, token_hash, issued_at) VALUES (?, ?, ?) ON CONFLICT (poc)"
        " DO UPDATE SET token_hash = excluded.token_hash, issued_at = excluded.issued_at",
        items,
    )
    return [None] * len(items)


async def _record_events(conn: aiosqlite.Connection, items: list[list[Event]]) -> list[None]:
    await _insert_events(conn, [e for events in items for e in events])
    return [None] * len(items)


async def _add_message(
    conn: aiosqlite.Connection,
    items: list[tuple[Message, AckPolicy, list[Chase], list[Event], str | None]],
) -> list[list[int] | IansError]:
    out: list[list[int] | IansError] = []
    for message, policy, chases, events, inject in items:
        try:
            await _insert_message(conn, message, policy, inject)
        except sqlite3.IntegrityError:
            out.append(Conflict(f"message {message.id!r} exists"))
            continue
        ids = await _insert_chases(conn, chases)
        sent = to_us(message.sent_at)
        await conn.executemany(
            "INSERT INTO deliveries (message_id, poc, country, delivered_at) VALUES (?, ?, ?, ?)",
            [(c.message_id, c.pocs[0], c.country, sent) for c in chases],
        )
        await _insert_events(conn, events)
        out.append(ids)
    return out


async def _insert_message(
    conn: aiosqlite.Connection, message: Message, policy: AckPolicy, inject: str | None
) -> None:
    await conn.execute(
        f"INSERT INTO messages ({_MESSAGE_COLUMNS}, policy, inject) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            message.id,
            message.type.value,
            message.mode.value,
            message.sender,
            json.dumps(message.to),
            to_us(message.sent_at),
            message.refers_to,
            message.content.model_dump_json(exclude_none=True),
            message.exercise_id,
            policy.model_dump_json(),
            inject,
        ),
    )


async def _insert_chases(conn: aiosqlite.Connection, chases: Sequence[Chase]) -> list[int]:
    """Insert chases under new ids (returned in order)."""
    cursor = await conn.execute("SELECT coalesce(max(id), 0) FROM chases")
    first_id = int((await cursor.fetchone())[0]) + 1  # type: ignore[index]
    ids = list(range(first_id, first_id + len(chases)))
    await conn.executemany(
        f"INSERT INTO chases ({_CHASE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(i, *_chase_row(c)[1:]) for i, c in zip(ids, chases, strict=True)],
    )
    return ids


async def _acknowledge(
    conn: aiosqlite.Connection, items: list[tuple[str, str, datetime, str | None]]
) -> list[AckResult | IansError]:
    keys = list({(m, p) for m, p, _, _ in items})
    found: dict[tuple[str, str], tuple[datetime | None, Chase]] = {}
    for chunk in _chunks(keys):
        values = ", ".join("(?, ?)" for _ in chunk)
        cursor = await conn.execute(
            f"SELECT d.message_id, d.poc, d.acknowledged_at, {_CHASE_COLUMNS_C}"
            " FROM deliveries d JOIN chases c"
            " ON c.message_id = d.message_id AND c.country = d.country"
            f" WHERE (d.message_id, d.poc) IN (VALUES {values})",
            [x for key in chunk for x in key],
        )
        for r in await cursor.fetchall():
            found[(r[0], r[1])] = (_opt_dt(r[2]), _chase(r[3:]))
    chases: dict[int, Chase] = {c.id: c for _, c in found.values() if c.id is not None}
    acked: dict[tuple[str, str], datetime] = {}
    events: list[Event] = []
    out: list[AckResult | IansError] = []
    for message_id, poc, now, note in items:
        key = (message_id, poc)
        if key not in found:
            out.append(await _why_not_delivered(conn, message_id, poc))
            continue
        first_ack, chase = found[key]
        chase = chases[chase.id]  # type: ignore[index]
        first_ack = first_ack or acked.get(key)
        if first_ack is not None:
            out.append(AckResult(first_ack, True, chase))
            continue
        try:
            chase, new_events = rules.acknowledge(chase, poc, now, note)
        except IansError as refused:
            out.append(refused)
            continue
        chases[chase.id] = chase  # type: ignore[index]
        acked[key] = now
        events += new_events
        out.append(AckResult(now, False, chase))
    if acked:
        await conn.executemany(
            "UPDATE deliveries SET acknowledged_at = ? WHERE message_id = ? AND poc = ?",
            [(to_us(at), m, p) for (m, p), at in acked.items()],
        )
        touched = {found[k][1].id for k in acked}
        await conn.executemany(_UPDATE_CHASE, [_chase_update(chases[i]) for i in touched])  # type: ignore[index]
        await _insert_events(conn, events)
    return out


async def _why_not_delivered(conn: aiosqlite.Connection, message_id: str, poc: str) -> IansError:
    cursor = await conn.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,))
    if await cursor.fetchone() is None:
        return UnknownMessage(message_id)
    return NotDelivered(message_id, poc)


async def _fire(
    conn: aiosqlite.Connection,
    items: list[tuple[list[int], datetime, dict[str, AckPolicy]]],
) -> list[list[Fired]]:
    out: list[list[Fired]] = []
    for chase_ids, now, policies in items:
        fired: list[Fired] = []
        for chunk in _chunks(chase_ids):
            marks = ", ".join("?" for _ in chunk)
            cursor = await conn.execute(
                f"SELECT {_CHASE_COLUMNS_C}, m.policy FROM chases c"
                " JOIN messages m ON m.id = c.message_id"
                f" WHERE c.id IN ({marks}) AND c.status = 'pending'",
                list(chunk),
            )
            for r in await cursor.fetchall():
                chase = _chase(r[:-1])
                policy = policies.get(chase.message_id)
                if policy is None:
                    policy = policies[chase.message_id] = AckPolicy.model_validate_json(r[-1])
                after, events = rules.fire(chase, policy, now)
                if events:
                    fired.append(Fired(after, events))
        if fired:
            await conn.executemany(_UPDATE_CHASE, [_chase_update(f.chase) for f in fired])
            events = [e for f in fired for e in f.events]
            await conn.executemany(
                "INSERT INTO deliveries (message_id, poc, country, delivered_at)"
                " VALUES (?, ?, ?, ?)",
                [
                    (e.message_id, e.poc, e.country, to_us(e.at))
                    for e in events
                    if e.kind is EventKind.ESCALATED
                ],
            )
            await _insert_events(conn, events)
        out.append(fired)
    return out


async def _add_exercise(conn: aiosqlite.Connection, items: list[Exercise]) -> list[Any]:
    out: list[Any] = []
    for exercise in items:
        try:
            await conn.execute(
                f"INSERT INTO exercises ({_EXERCISE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                _exercise_row(exercise),
            )
            out.append(None)
        except sqlite3.IntegrityError:
            out.append(Conflict(f"exercise {exercise.id!r} exists"))
    return out


async def _end_exercise(
    conn: aiosqlite.Connection, items: list[tuple[str, str, datetime]]
) -> list[Any]:
    out: list[Any] = []
    for exercise_id, state, ended_at in items:
        cursor = await conn.execute("SELECT state FROM exercises WHERE id = ?", (exercise_id,))
        row = await cursor.fetchone()
        if row is None:
            out.append(UnknownExercise(exercise_id))
            continue
        if row[0] != "running":
            out.append(Conflict(f"exercise {exercise_id!r} is {row[0]}, not running"))
            continue
        await conn.execute(
            "UPDATE exercises SET state = ?, ended_at = ? WHERE id = ?",
            (state, to_us(ended_at), exercise_id),
        )
        if state == "stopped":
            await conn.execute(
                "UPDATE chases SET status = 'stopped', next_due_at = NULL"
                " WHERE status = 'pending' AND message_id IN"
                " (SELECT id FROM messages WHERE exercise_id = ?)",
                (exercise_id,),
            )
        out.append(None)
    return out


async def _import_run(
    conn: aiosqlite.Connection,
    items: list[tuple[Exercise, list[SentMessage], list[Chase], list[Event]]],
) -> list[Any]:
    for exercise, messages, chases, events in items:
        await conn.execute(
            f"INSERT INTO exercises ({_EXERCISE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            _exercise_row(exercise),
        )
        for sent in messages:
            await _insert_message(conn, sent.message, sent.policy, sent.inject)
        await _insert_chases(conn, chases)
        acked = {
            (e.message_id, e.poc): to_us(e.at)
            for e in reversed(events)
            if e.kind is EventKind.ACKNOWLEDGED
        }
        await conn.executemany(
            "INSERT OR IGNORE INTO deliveries"
            " (message_id, poc, country, delivered_at, acknowledged_at) VALUES (?, ?, ?, ?, ?)",
            [
                (e.message_id, e.poc, e.country, to_us(e.at), acked.get((e.message_id, e.poc)))
                for e in events
                if e.kind is EventKind.DELIVERED
            ],
        )
        await _insert_events(conn, events)
    return [None] * len(items)


async def _add_consultation(
    conn: aiosqlite.Connection,
    items: list[tuple[Exercise, list[Invitation], list[Response]]],
) -> list[Any]:
    for consultation, invitations, responses in items:
        await conn.execute(
            f"INSERT INTO exercises ({_EXERCISE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            _exercise_row(consultation),
        )
        await conn.executemany(
            "INSERT INTO invitations (consultation_id, poc, country, invited_at)"
            " VALUES (?, ?, ?, ?)",
            [(consultation.id, i.poc, i.country, to_us(i.invited_at)) for i in invitations],
        )
        await conn.executemany(
            "INSERT INTO responses (consultation_id, poc, submitted_at, answers, versions)"
            " VALUES (?, ?, ?, ?, 1)",
            [
                (consultation.id, r.poc, to_us(r.submitted_at), json.dumps(r.answers))
                for r in responses
            ],
        )
    return [None] * len(items)


async def _save_response(
    conn: aiosqlite.Connection, items: list[tuple[str, str, Answers, datetime, datetime]]
) -> list[Any]:
    out: list[Any] = []
    for consultation_id, poc, answers, now, deadline in items:
        cursor = await conn.execute("SELECT state FROM exercises WHERE id = ?", (consultation_id,))
        row = await cursor.fetchone()
        if row is None:
            out.append(UnknownExercise(consultation_id))
            continue
        if row[0] != "running" or now >= deadline:
            out.append(Conflict("the consultation is closed: no more answers are accepted"))
            continue
        cursor = await conn.execute(
            "SELECT 1 FROM invitations WHERE consultation_id = ? AND poc = ?",
            (consultation_id, poc),
        )
        if await cursor.fetchone() is None:
            out.append(Forbidden(f"{poc} is not invited to this consultation"))
            continue
        cursor = await conn.execute(
            "INSERT INTO responses (consultation_id, poc, submitted_at, answers, versions)"
            " VALUES (?, ?, ?, ?, 1) ON CONFLICT (consultation_id, poc) DO UPDATE SET"
            " submitted_at = excluded.submitted_at, answers = excluded.answers,"
            " versions = versions + 1 RETURNING versions",
            (consultation_id, poc, to_us(now), json.dumps(answers)),
        )
        versions = (await cursor.fetchone())[0]  # type: ignore[index]
        out.append(versions == 1)
    return out


async def _remind(
    conn: aiosqlite.Connection, items: list[tuple[str, int, datetime]]
) -> list[list[str]]:
    out: list[list[str]] = []
    for consultation_id, number, now in items:
        cursor = await conn.execute(
            "SELECT 1 FROM exercises WHERE id = ? AND state = 'running'", (consultation_id,)
        )
        open_ = await cursor.fetchone() is not None
        cursor = await conn.execute(
            "SELECT 1 FROM consultation_reminders WHERE consultation_id = ? AND number = ?",
            (consultation_id, number),
        )
        if not open_ or await cursor.fetchone() is not None:
            out.append([])
            continue
        cursor = await conn.execute(
            "SELECT i.poc FROM invitations i LEFT JOIN responses r"
            " ON r.consultation_id = i.consultation_id AND r.poc = i.poc"
            " WHERE i.consultation_id = ? AND r.poc IS NULL ORDER BY i.poc",
            (consultation_id,),
        )
        pocs = [str(r[0]) for r in await cursor.fetchall()]
        await conn.execute(
            "INSERT INTO consultation_reminders (consultation_id, number, sent_at, reminded)"
            " VALUES (?, ?, ?, ?)",
            (consultation_id, number, to_us(now), len(pocs)),
        )
        await _insert_events(
            conn,
            [
                Event(
                    now, EventKind.REMINDED, consultation_id, None, poc, None, {"reminder": number}
                )
                for poc in pocs
            ],
        )
        out.append(pocs)
    return out


async def _migrate(conn: aiosqlite.Connection) -> None:
    cursor = await conn.execute("PRAGMA user_version")
    version = int((await cursor.fetchone())[0])  # type: ignore[index]
    if version > len(MIGRATIONS):
        raise IansError(
            f"the database is at schema version {version}, newer than this IANS"
            f" ({len(MIGRATIONS)}): upgrade IANS"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in script.split(";"):
                if statement.strip():
                    await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version = {number}")
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise

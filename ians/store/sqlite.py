"""The embedded default store: SQLite in WAL mode.

Reads go through one aiosqlite connection. Writes queue up for the one write
connection, which lives in a writer process (ians/store/writer.py says why) and
commits whatever is queued in one transaction (group commit, no waiting window):
under load many acknowledgements share one commit, and each caller is answered only
after that commit.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from ians.domain.chase import Chase, Event, Via
from ians.domain.consultation import Answers, Invitation, Response
from ians.domain.exercise import Exercise
from ians.domain.messages import Message
from ians.domain.outbox import Attempt, OutboxNotice
from ians.domain.policy import AckPolicy
from ians.errors import (
    IansError,
    UnknownExercise,
    UnknownMessage,
)
from ians.reports.facts import EditedFindings, ExerciseFacts, SentMessage
from ians.store import batches, outbox, web
from ians.store.base import (
    AckResult,
    Delivery,
    ExerciseQuery,
    Fired,
    InboxItem,
    MessageQuery,
    Store,
    WebSession,
)
from ians.store.rows import (
    CHASE_COLUMNS,
    CHASE_COLUMNS_C,
    EXERCISE_COLUMNS,
    EXERCISE_COLUMNS_E,
    EXERCISE_LIST_COLUMNS,
    MESSAGE_COLUMNS,
    MESSAGE_COLUMNS_M,
    MESSAGE_WIDTH,
    chase_of,
    delivery_of,
    event_of,
    exercise_of,
    from_us,
    message_of,
    to_us,
)
from ians.store.schema import MIGRATIONS
from ians.store.writer import Batch, GroupCommit

PAGE_SIZE = 1024
"""Bytes per database page of a new database file. An acknowledgement changes a few rows
on random pages, and a commit writes (and fsyncs) each changed page whole to the WAL: at
1 KiB rather than SQLite's 4 KiB, a commit of 32 acks took 0.65 ms instead of 1.1 ms
(bench/README.md). A database made with another page size keeps it."""


class SqliteStore(Store):
    def __init__(self, commits: GroupCommit, reader: aiosqlite.Connection) -> None:
        self._commits = commits
        self._reader = reader

    @classmethod
    async def open(cls, path: Path | str, *, synchronous: str = "FULL") -> SqliteStore:
        """Open (creating or migrating) the database at `path`.

        `synchronous=FULL` makes every commit durable against power loss, not only
        against a crash of the process. Raises IansError for a database made by a
        newer IANS.
        """
        if synchronous not in ("FULL", "NORMAL"):
            raise IansError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        reader = await aiosqlite.connect(path, isolation_level=None)
        try:
            await reader.execute(f"PRAGMA page_size={PAGE_SIZE}")  # only a new file takes it
            await reader.execute("PRAGMA journal_mode=WAL")
            await reader.execute("PRAGMA busy_timeout=5000")
            await _migrate(reader)  # before the writer process opens it
            await reader.execute("PRAGMA query_only=1")
            commits = await GroupCommit.start(path, synchronous)
        except BaseException:
            await reader.close()
            raise
        return cls(commits, reader)

    async def close(self) -> None:
        try:
            await self._commits.close()
        finally:
            await self._reader.close()

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
        await self._write(batches.set_meta, ("admin_token_hash", token_hash))

    async def poc_token_hashes(self) -> dict[str, str]:
        return {str(h): str(p) for p, h in await self._rows("SELECT poc, token_hash FROM tokens")}

    async def set_poc_token_hash(self, poc: str, token_hash: str, at: datetime) -> None:
        await self._write(batches.set_token, (poc, token_hash, to_us(at)))

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
            batches.add_message, (message, policy, list(chases), list(events), inject)
        )
        return [c._replace(id=i) for c, i in zip(chases, chase_ids, strict=True)]

    async def add_response(
        self,
        message: Message,
        policy: AckPolicy,
        chases: Sequence[Chase],
        events: Sequence[Event],
        inject: str | None = None,
        *,
        poc: str | None = None,
        simulated: bool = False,
    ) -> tuple[list[Chase], Chase | None]:
        item = (message, policy, list(chases), list(events), inject, poc, simulated)
        ids, acknowledged = await self._write(batches.add_response, item)
        return [c._replace(id=i) for c, i in zip(chases, ids, strict=True)], acknowledged

    async def message(self, message_id: str) -> Message:
        found = await self.find_message(message_id)
        if found is None:
            raise UnknownMessage(message_id)
        return found

    async def find_message(self, message_id: str) -> Message | None:
        rows = await self._rows(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
        )
        return message_of(rows[0]) if rows else None

    async def chases(self, message_id: str) -> list[Chase]:
        rows = await self._rows(
            f"SELECT {CHASE_COLUMNS} FROM chases WHERE message_id = ? ORDER BY country",
            (message_id,),
        )
        return [chase_of(r) for r in rows]

    async def deliveries(self, message_id: str) -> list[Delivery]:
        rows = await self._rows(
            "SELECT message_id, poc, country, delivered_at, acknowledged_at FROM deliveries"
            " WHERE message_id = ? ORDER BY delivered_at, country, poc",
            (message_id,),
        )
        return [delivery_of(r) for r in rows]

    async def list_messages(self, query: MessageQuery) -> list[Message]:
        where, params = ["1 = 1"], []
        if query.visible_to is not None:
            where.append(_INVOLVES)
            params += [query.visible_to] * 2
        if query.before is not None:
            cursor = await self._rows(
                f"SELECT m.sent_at, m.id FROM messages m WHERE m.id = ? AND {' AND '.join(where)}",
                [query.before, *params],
            )
            if not cursor:
                raise UnknownMessage(query.before)
            where.append("(m.sent_at, m.id) < (?, ?)")
            params += list(cursor[0])
        for column, value in (("exercise_id", query.exercise), ("mode", query.mode)):
            if value is not None:
                where.append(f"m.{column} = ?")
                params.append(value)
        if query.country is not None:
            where.append(_INVOLVES)
            params += [query.country] * 2
        rows = await self._rows(
            f"SELECT {MESSAGE_COLUMNS_M} FROM messages m WHERE {' AND '.join(where)}"
            " ORDER BY m.sent_at DESC, m.id DESC LIMIT ?",
            [*params, query.limit],
        )
        return [message_of(r) for r in rows]

    async def inbox(self, poc: str, limit: int) -> list[InboxItem]:
        rows = await self._rows(
            f"SELECT {MESSAGE_COLUMNS_M}, d.message_id, d.poc, d.country, d.delivered_at,"
            f" d.acknowledged_at, {CHASE_COLUMNS_C}"
            " FROM deliveries d JOIN messages m ON m.id = d.message_id"
            " JOIN chases c ON c.message_id = d.message_id AND c.country = d.country"
            " WHERE d.poc = ? ORDER BY d.delivered_at DESC, m.sent_at DESC LIMIT ?",
            (poc, limit),
        )
        m, d = MESSAGE_WIDTH, MESSAGE_WIDTH + 5
        return [InboxItem(message_of(r[:m]), delivery_of(r[m:d]), chase_of(r[d:])) for r in rows]

    async def acknowledge(
        self,
        message_id: str,
        poc: str,
        now: datetime,
        note: str | None = None,
        simulated: bool = False,
        via: Via = Via.API,
    ) -> AckResult:
        result: AckResult = await self._write(
            # `via` as its value: an enum member pickles through Python code (~1 us each way)
            batches.acknowledge,
            (message_id, poc, now, note, simulated, via.value),
        )
        return result

    # --- timers -------------------------------------------------------------------
    async def pending_timers(self) -> list[tuple[datetime, int]]:
        async with self._reader.execute(
            "SELECT next_due_at, id FROM chases WHERE next_due_at IS NOT NULL"
        ) as cursor:
            return [(from_us(due), cid) for due, cid in await cursor.fetchall()]

    async def fire(self, chase_ids: Sequence[int], now: datetime) -> list[Fired]:
        fired: list[Fired] = await self._write(batches.fire, (list(chase_ids), now))
        return fired

    # --- facts ----------------------------------------------------------------------
    async def events(self, message_id: str) -> list[Event]:
        rows = await self._rows(
            "SELECT at, kind, message_id, country, poc, due_at, detail FROM events"
            " WHERE message_id = ? ORDER BY id",
            (message_id,),
        )
        return [event_of(r) for r in rows]

    async def record_events(self, events: Sequence[Event]) -> None:
        await self._write(batches.record_events, list(events))

    # --- exercises ------------------------------------------------------------------
    async def add_exercise(self, exercise: Exercise) -> None:
        await self._write(batches.add_exercise, exercise)

    async def exercise(self, exercise_id: str) -> Exercise:
        rows = await self._rows(
            f"SELECT {EXERCISE_COLUMNS} FROM exercises WHERE id = ?", (exercise_id,)
        )
        if not rows:
            raise UnknownExercise(exercise_id)
        return exercise_of(rows[0])

    async def exercises(self, state: str) -> list[Exercise]:
        rows = await self._rows(
            f"SELECT {EXERCISE_COLUMNS} FROM exercises WHERE state = ? ORDER BY rowid", (state,)
        )
        return [exercise_of(r) for r in rows]

    async def list_exercises(self, query: ExerciseQuery) -> list[Exercise]:
        where, params = ["1 = 1"], []
        if query.before is not None:
            cursor = await self._rows(
                "SELECT wall_started_at, id FROM exercises WHERE id = ?", (query.before,)
            )
            if not cursor:
                raise UnknownExercise(query.before)
            where.append("(wall_started_at, id) < (?, ?)")
            params += list(cursor[0])
        for column, value in (("state", query.state), ("kind", query.kind)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        rows = await self._rows(
            f"SELECT {EXERCISE_LIST_COLUMNS} FROM exercises WHERE {' AND '.join(where)}"
            " ORDER BY wall_started_at DESC, id DESC LIMIT ?",
            [*params, query.limit],
        )
        return [exercise_of(r) for r in rows]

    async def exercises_for_history(self, kind: str | None = None) -> list[Exercise]:
        where = "kind != 'consultation' AND clock != 'virtual'"
        params: list[str] = []
        if kind is not None:
            where += " AND kind = ?"
            params.append(kind)
        rows = await self._rows(
            f"SELECT {EXERCISE_COLUMNS} FROM exercises WHERE {where} ORDER BY started_at, id",
            params,
        )
        return [exercise_of(r) for r in rows]

    async def end_exercise(self, exercise_id: str, state: str, ended_at: datetime) -> Exercise:
        await self._write(batches.end_exercise, (exercise_id, state, ended_at))
        return await self.exercise(exercise_id)

    async def exercise_facts(self, exercise_id: str) -> ExerciseFacts:
        exercise = await self.exercise(exercise_id)
        rows = await self._rows(
            f"SELECT {MESSAGE_COLUMNS}, inject, policy FROM messages WHERE exercise_id = ?"
            " ORDER BY sent_at, rowid",
            (exercise_id,),
        )
        messages = [
            SentMessage(r[MESSAGE_WIDTH], message_of(r), AckPolicy.model_validate_json(r[-1]))
            for r in rows
        ]
        in_exercise = "SELECT id FROM messages WHERE exercise_id = ?"
        chases = await self._rows(
            f"SELECT {CHASE_COLUMNS} FROM chases WHERE message_id IN ({in_exercise}) ORDER BY id",
            (exercise_id,),
        )
        events = await self._rows(
            "SELECT at, kind, message_id, country, poc, due_at, detail FROM events"
            f" WHERE message_id IN ({in_exercise}) ORDER BY id",
            (exercise_id,),
        )
        edited = await self._rows(
            "SELECT findings, edited_at FROM exercise_findings WHERE exercise_id = ?",
            (exercise_id,),
        )
        return ExerciseFacts(
            exercise,
            messages,
            [chase_of(r) for r in chases],
            [event_of(r) for r in events],
            EditedFindings(json.loads(edited[0][0]), from_us(edited[0][1])) if edited else None,
            await self.details_confirmed(),
        )

    async def import_run(
        self,
        exercise: Exercise,
        messages: Sequence[SentMessage],
        chases: Sequence[Chase],
        events: Sequence[Event],
    ) -> None:
        await self._write(
            batches.import_run, (exercise, list(messages), list(chases), list(events))
        )

    # --- consultations -----------------------------------------------------------------
    async def add_consultation(
        self,
        consultation: Exercise,
        invitations: Sequence[Invitation],
        responses: Sequence[Response] = (),
    ) -> None:
        await self._write(
            batches.add_consultation, (consultation, list(invitations), list(responses))
        )

    async def invitations(self, consultation_id: str) -> list[Invitation]:
        rows = await self._rows(
            "SELECT poc, country, invited_at FROM invitations WHERE consultation_id = ?"
            " ORDER BY country, poc",
            (consultation_id,),
        )
        return [Invitation(r[0], r[1], from_us(r[2])) for r in rows]

    async def invited_to(self, poc: str) -> list[tuple[Exercise, Response | None]]:
        rows = await self._rows(
            f"SELECT {EXERCISE_COLUMNS_E}, r.submitted_at, r.answers FROM invitations i"
            " JOIN exercises e ON e.id = i.consultation_id"
            " LEFT JOIN responses r ON r.consultation_id = i.consultation_id AND r.poc = i.poc"
            " WHERE i.poc = ? AND e.clock != 'virtual' ORDER BY e.started_at DESC",
            (poc,),
        )
        width = len(EXERCISE_COLUMNS.split(","))
        return [
            (
                exercise_of(r[:width]),
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
            batches.save_response, (consultation_id, poc, answers, now, deadline)
        )
        return first

    async def remind(self, consultation_id: str, number: int, now: datetime) -> list[str]:
        pocs: list[str] = await self._write(batches.remind, (consultation_id, number, now))
        return pocs

    async def reminders_sent(self, consultation_id: str) -> set[int]:
        rows = await self._rows(
            "SELECT number FROM consultation_reminders WHERE consultation_id = ?",
            (consultation_id,),
        )
        return {int(r[0]) for r in rows}

    # --- the outbox --------------------------------------------------------------------
    async def set_channels(self, channels: Sequence[tuple[str, str]]) -> None:
        await self._write(outbox.set_channels, list(channels))

    async def webhook_secrets(self) -> dict[str, tuple[str, datetime]]:
        rows = await self._rows("SELECT poc, secret, issued_at FROM webhook_secrets")
        return {str(p): (str(s), from_us(at)) for p, s, at in rows}

    async def set_webhook_secret(self, poc: str, secret: str, at: datetime) -> None:
        await self._write(outbox.set_webhook_secret, (poc, secret, at))

    async def disabled_channels(self) -> dict[tuple[str, str], datetime]:
        rows = await self._rows("SELECT poc, channel, disabled_at FROM disabled_channels")
        return {(str(p), str(c)): from_us(at) for p, c, at in rows}

    async def due_notices(
        self, now: datetime, limit: int, after: OutboxNotice | None = None
    ) -> list[OutboxNotice]:
        rows = await self._rows(
            f"SELECT {outbox.NOTICE_COLUMNS} FROM outbox WHERE next_attempt_at <= ?"
            " AND (next_attempt_at, id) > (?, ?) ORDER BY next_attempt_at, id LIMIT ?",
            (to_us(now), *outbox.after_key(after), limit),
        )
        return [outbox.notice_of(r) for r in rows]

    async def next_notice_due(self) -> datetime | None:
        rows = await self._rows("SELECT min(next_attempt_at) FROM outbox")
        return None if rows[0][0] is None else from_us(rows[0][0])

    async def notice(self, notice_id: int) -> OutboxNotice | None:
        rows = await self._rows(
            f"SELECT {outbox.NOTICE_COLUMNS} FROM outbox WHERE id = ?", (notice_id,)
        )
        return outbox.notice_of(rows[0]) if rows else None

    async def notices(self, message_id: str) -> list[OutboxNotice]:
        rows = await self._rows(
            f"SELECT {outbox.NOTICE_COLUMNS} FROM outbox WHERE message_id = ? ORDER BY id",
            (message_id,),
        )
        return [outbox.notice_of(r) for r in rows]

    async def record_attempts(self, attempts: Sequence[Attempt]) -> list[Event]:
        escalations: list[Event] = await self._write(outbox.record_attempts, list(attempts))
        return escalations

    async def record_bounce(
        self, notice_id: int, at: datetime, answer: str, permanent: bool
    ) -> list[Event]:
        escalations: list[Event] = await self._write(
            outbox.record_bounces, (notice_id, at, answer, permanent)
        )
        return escalations

    async def claim_once(self, key: str) -> bool:
        first: bool = await self._write(outbox.claim_once, key)
        return first

    async def message_policy(self, message_id: str) -> AckPolicy:
        rows = await self._rows("SELECT policy FROM messages WHERE id = ?", (message_id,))
        if not rows:
            raise UnknownMessage(message_id)
        return batches.parsed_policy(rows[0][0])

    async def confirm_details(self, poc: str, at: datetime) -> None:
        await self._write(batches.confirm_details, (poc, to_us(at)))

    async def save_findings(
        self, exercise_id: str, items: Sequence[Mapping[str, object]], at: datetime
    ) -> None:
        text = json.dumps(list(map(dict, items)), ensure_ascii=False)
        await self._write(batches.save_findings, (exercise_id, text, to_us(at)))

    async def details_confirmed(self) -> dict[str, datetime]:
        rows = await self._rows(
            "SELECT poc_id, max(confirmed_at) FROM detail_confirmations GROUP BY poc_id"
        )
        return {str(poc): from_us(at) for poc, at in rows}

    async def meta_value(self, key: str) -> str | None:
        rows = await self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    async def set_meta_value(self, key: str, value: str) -> None:
        await self._write(batches.set_meta, (key, value))

    async def add_session(self, session: WebSession) -> None:
        await self._write(web.add_session, session)

    async def web_session(self, key_hash: str) -> WebSession | None:
        rows = await self._rows(
            "SELECT poc, csrf, created_at, expires_at FROM web_sessions WHERE key_hash = ?",
            (key_hash,),
        )
        if not rows:
            return None
        poc, csrf, created, expires = rows[0]
        return WebSession(key_hash, poc, csrf, from_us(created), from_us(expires))

    async def end_session(self, key_hash: str) -> None:
        await self._write(web.end_session, key_hash)


# the message was sent by the country, or reached one of its PoCs
_INVOLVES = (
    "(m.sender = ? OR EXISTS (SELECT 1 FROM deliveries d"
    " WHERE d.message_id = m.id AND d.country = ?))"
)


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

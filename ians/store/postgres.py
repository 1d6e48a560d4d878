"""The PostgreSQL store (asyncpg): one database that several `ians serve` share.

Every write is one transaction on a pooled connection, committed before the method
returns. Acknowledgements, the write that comes in floods, are grouped: those that
arrive while ACK_BATCHES transactions of them are committing go together in the next
(one WAL flush for all; a durable commit took ~8 ms on this machine's disk). Rows a
transition changes are locked `FOR UPDATE`, so nodes take turns on a chase. Due chase
steps are claimed with `FOR UPDATE SKIP LOCKED`: nodes that wake at the same time share
the due steps instead of waiting on each other, and the guard of `fire` (only steps
still due are applied) makes a stale or repeated firing a no-op.

A claim lives as long as the transaction that holds it, and a transaction no longer
than the lease: the server drops a session idle in a transaction for `lease`, and probes
a silent client on the same bound, so the claims of a node that dies (even a machine
lost) pass to the others within the lease. A notice being attempted by a channel is held
by `claimed_until` (now + lease) between its claim and its outcome.

`LISTEN/NOTIFY` tells the other nodes of an earlier timer (`timers` channel) and of what
happened (`events` channel); both channels are named after the schema, so that two
installations may share one database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg

from ians.domain.chase import Chase, Event, Via
from ians.domain.consultation import Answers, Invitation, Response
from ians.domain.exercise import Exercise
from ians.domain.messages import Message
from ians.domain.outbox import Attempt, OutboxNotice
from ians.domain.policy import AckPolicy
from ians.errors import IansError, InvalidInput, UnknownExercise, UnknownMessage
from ians.reports.facts import EditedFindings, ExerciseFacts, SentMessage
from ians.store import pg_writes as w
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
from ians.store.batches import parsed_policy
from ians.store.outbox import NOTICE_COLUMNS, after_key, notice_of
from ians.store.pg_schema import MIGRATIONS
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
    chase_row,
    delivery_of,
    event_of,
    exercise_of,
    from_us,
    message_of,
    to_us,
)

if TYPE_CHECKING:
    from ians.store.pg_writes import Conn

log = logging.getLogger(__name__)

URL_SCHEMES = ("postgresql://", "postgres://")
DEFAULT_LEASE = timedelta(seconds=10)
POOL_SIZE = 10
ACK_BATCHES = 4  # acknowledgement transactions in flight at once; the next takes all queued
NOTIFY_BYTES = 7000  # of chases in one notification (PostgreSQL takes up to 8000)
_MIGRATION_LOCK = 0x1A5514  # an advisory lock: nodes starting together migrate one at a time

Listener = Callable[[str], None]
"""Called with a NOTIFY's payload sent by another node."""


def is_postgres_url(db: str) -> bool:
    return db.startswith(URL_SCHEMES)


class PostgresStore(Store):
    shared = True

    def __init__(
        self, pool: asyncpg.Pool, url: str, settings: dict[str, str], schema: str, lease: timedelta
    ) -> None:
        self._pool = pool
        self._url = url
        self._settings = settings
        self.lease = lease
        self._lease_us = round(lease.total_seconds() * 1_000_000)
        self.node = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.timers_channel = f"ians_{schema}_timers"
        self.events_channel = f"ians_{schema}_events"
        self.tokens_channel = f"ians_{schema}_tokens"
        self._notes: dict[int, list[tuple[str, str]]] = {}  # by connection, until commit
        self._outgoing: list[tuple[str, str]] = []
        self._sender: asyncio.Task[None] | None = None
        self._acks: list[tuple[w.AckItem, asyncio.Future[AckResult]]] = []
        self._ack_batches = 0  # in flight
        self._ack_tasks: set[asyncio.Task[None]] = set()
        self._listen: asyncpg.Connection | None = None
        self._listeners: dict[str, list[Listener]] = {}

    @classmethod
    async def open(cls, url: str, *, lease: timedelta = DEFAULT_LEASE) -> PostgresStore:
        """Connect to the database at `url` and create or migrate its schema.

        Raises IansError when the database cannot be reached or was made by a newer IANS.
        """
        seconds = max(1, round(lease.total_seconds()))
        settings = {
            "idle_in_transaction_session_timeout": str(seconds * 1000),
            "tcp_keepalives_idle": str(max(1, seconds // 2)),
            "tcp_keepalives_interval": "1",
            "tcp_keepalives_count": str(max(1, seconds - seconds // 2)),
        }
        try:
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=POOL_SIZE, server_settings=settings
            )
        except (OSError, asyncpg.PostgresError, ValueError) as exc:
            raise IansError(f"cannot open the PostgreSQL database {_safe(url)}: {exc}") from None
        try:
            async with pool.acquire() as conn:
                await _migrate(conn)
                schema = str(await conn.fetchval("SELECT current_schema()"))
        except BaseException:
            await pool.close()
            raise
        return cls(pool, url, settings, schema, lease)

    async def close(self) -> None:
        while self._ack_tasks:  # answer every acknowledgement taken
            await asyncio.gather(*self._ack_tasks, return_exceptions=True)
        if self._sender is not None:
            await asyncio.gather(self._sender, return_exceptions=True)
        if self._listen is not None:
            conn, self._listen = self._listen, None
            await conn.close()
        await self._pool.close()

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Conn]:
        """A transaction; the notifications it queued (`notify`) go once it committed."""
        with _text_checked():
            async with self._pool.acquire() as conn:
                try:
                    async with conn.transaction():
                        yield conn
                except BaseException:
                    self._notes.pop(id(conn), None)
                    raise
                self._send_notes(self._notes.pop(id(conn), []))

    async def _rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with _text_checked():
            return [tuple(r) for r in await self._pool.fetch(sql, *args)]

    async def _value(self, sql: str, *args: Any) -> Any:
        with _text_checked():
            return await self._pool.fetchval(sql, *args)

    # --- notifications between nodes ---------------------------------------------------
    async def listen(self, channel: str, listener: Listener) -> None:
        """Call `listener` with each payload another node sends on `channel` (its own are
        left out: a payload starts with the sender's node id and a space)."""
        self._listeners.setdefault(channel, []).append(listener)
        if self._listen is None or self._listen.is_closed():
            self._listen = await asyncpg.connect(self._url, server_settings=self._settings)
            for name in self._listeners:
                await self._listen.add_listener(name, self._notified)
        elif len(self._listeners[channel]) == 1:
            await self._listen.add_listener(channel, self._notified)

    def listening(self) -> bool:
        return self._listen is not None and not self._listen.is_closed()

    async def relisten(self) -> None:
        """Open the listening connection again (after it was lost)."""
        if self._listen is not None and not self._listen.is_closed():
            return
        self._listen = None
        listeners, self._listeners = self._listeners, {}
        for channel, callbacks in listeners.items():
            for callback in callbacks:
                await self.listen(channel, callback)

    async def drop_listening(self) -> None:
        """Close the listening connection, as a lost network would (for tests)."""
        if self._listen is not None:
            self._listen.terminate()

    def _notified(self, _conn: object, _pid: int, channel: str, payload: object) -> None:
        assert isinstance(payload, str)
        sender, _, rest = payload.partition(" ")
        if sender == self.node:
            return
        for listener in self._listeners.get(channel, []):
            try:
                listener(rest)
            except Exception:
                log.exception("a listener of %s failed", channel)

    async def notify(self, conn: Conn, channel: str, payload: str) -> None:
        """Send `payload` on `channel` once `conn`'s transaction (of `_tx`) has committed.

        Not inside it: a transaction that notifies holds PostgreSQL's one notification
        lock through its commit, WAL flush included, so such commits could not share a
        flush (timers and acks were held to one commit per flush, ~8 ms each, here).
        The notifications go in a transaction of their own that waits for no flush; one
        lost in a crash is covered by the poll."""
        self._notes.setdefault(id(conn), []).append((channel, f"{self.node} {payload}"))

    def _send_notes(self, notes: list[tuple[str, str]]) -> None:
        if not notes:
            return
        self._outgoing += notes
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_outgoing(), name="ians-pg-notify")

    async def _send_outgoing(self) -> None:
        """Send what is queued, in one transaction each time, until nothing is left."""
        while self._outgoing:
            notes, self._outgoing = self._outgoing, []
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    await conn.execute("SET LOCAL synchronous_commit = off")
                    await conn.execute(
                        "SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS n (c, p)",
                        [c for c, _ in notes],
                        [p for _, p in notes],
                    )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("%d notifications to other nodes were lost", len(notes))

    async def announce(
        self, conn: Conn, chases: Sequence[Chase] = (), sent: str | None = None
    ) -> None:
        """Tell the other nodes, when `conn`'s transaction commits, of chases that changed
        and of a message sent (its id: they read it), for their live pages; in
        notifications under PostgreSQL's 8000-byte bound (ians/nodes.py reads them)."""
        if sent is not None:
            await self.notify(conn, self.events_channel, json.dumps({"sent": sent}))
        batch: list[str] = []
        size = 0
        for c in chases:
            row = json.dumps(chase_row(c))
            if batch and size + len(row) > NOTIFY_BYTES:
                await self.notify(conn, self.events_channel, f'{{"chases": [{",".join(batch)}]}}')
                batch, size = [], 0
            batch.append(row)
            size += len(row) + 1
        if batch:
            await self.notify(conn, self.events_channel, f'{{"chases": [{",".join(batch)}]}}')

    async def _notify_due(self, conn: Conn, chases: Sequence[Chase]) -> None:
        due = [c.next_due_at for c in chases if c.next_due_at is not None]
        if due:
            await self.notify(conn, self.timers_channel, str(to_us(min(due))))

    # --- tokens -----------------------------------------------------------------------------
    async def admin_token_hash(self) -> str | None:
        return await self.meta_value("admin_token_hash")

    async def set_admin_token_hash(self, token_hash: str) -> None:
        await self.set_meta_value("admin_token_hash", token_hash)

    async def poc_token_hashes(self) -> dict[str, str]:
        return {str(h): str(p) for p, h in await self._rows("SELECT poc, token_hash FROM tokens")}

    async def set_poc_token_hash(self, poc: str, token_hash: str, at: datetime) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO tokens (poc, token_hash, issued_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (poc) DO UPDATE SET token_hash = excluded.token_hash,"
                " issued_at = excluded.issued_at",
                poc,
                token_hash,
                to_us(at),
            )
            await self.notify(conn, self.tokens_channel, poc)  # the old token stops everywhere

    # --- messages -------------------------------------------------------------------------
    async def add_message(
        self,
        message: Message,
        policy: AckPolicy,
        chases: Sequence[Chase],
        events: Sequence[Event],
        inject: str | None = None,
    ) -> list[Chase]:
        async with self._tx() as conn:
            ids = await w.add_message(conn, message, policy, chases, events, inject)
            await self._notify_due(conn, chases)
            await self.announce(conn, sent=message.id)
        return [c._replace(id=i) for c, i in zip(chases, ids, strict=True)]

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
        async with self._tx() as conn:
            ids, acked = await w.add_response(
                conn, message, policy, chases, events, inject, poc, simulated
            )
            await self._notify_due(conn, chases)
            await self.announce(conn, [acked] if acked is not None else [], sent=message.id)
        return [c._replace(id=i) for c, i in zip(chases, ids, strict=True)], acked

    async def message(self, message_id: str) -> Message:
        found = await self.find_message(message_id)
        if found is None:
            raise UnknownMessage(message_id)
        return found

    async def find_message(self, message_id: str) -> Message | None:
        rows = await self._rows(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1", message_id)
        return message_of(rows[0]) if rows else None

    async def chases(self, message_id: str) -> list[Chase]:
        rows = await self._rows(
            f"SELECT {CHASE_COLUMNS} FROM chases WHERE message_id = $1 ORDER BY country",
            message_id,
        )
        return [chase_of(r) for r in rows]

    async def deliveries(self, message_id: str) -> list[Delivery]:
        rows = await self._rows(
            "SELECT message_id, poc, country, delivered_at, acknowledged_at FROM deliveries"
            " WHERE message_id = $1 ORDER BY delivered_at, country, poc",
            message_id,
        )
        return [delivery_of(r) for r in rows]

    async def list_messages(self, query: MessageQuery) -> list[Message]:
        where = Where()
        if query.visible_to is not None:
            where.add(_INVOLVES, query.visible_to, query.visible_to)
        if query.before is not None:
            cursor = await self._rows(
                f"SELECT m.sent_at, m.id FROM messages m WHERE {where.sql}"
                f" AND m.id = ${len(where.args) + 1}",
                *where.args,
                query.before,
            )
            if not cursor:
                raise UnknownMessage(query.before)
            where.add("(m.sent_at, m.id) < ({}, {})", *cursor[0])
        for column, value in (("exercise_id", query.exercise), ("mode", query.mode)):
            if value is not None:
                where.add(f"m.{column} = {{}}", value)
        if query.country is not None:
            where.add(_INVOLVES, query.country, query.country)
        rows = await self._rows(
            f"SELECT {MESSAGE_COLUMNS_M} FROM messages m WHERE {where.sql}"
            f" ORDER BY m.sent_at DESC, m.id DESC LIMIT ${len(where.args) + 1}",
            *where.args,
            query.limit,
        )
        return [message_of(r) for r in rows]

    async def inbox(self, poc: str, limit: int) -> list[InboxItem]:
        rows = await self._rows(
            f"SELECT {MESSAGE_COLUMNS_M}, d.message_id, d.poc, d.country, d.delivered_at,"
            f" d.acknowledged_at, {CHASE_COLUMNS_C}"
            " FROM deliveries d JOIN messages m ON m.id = d.message_id"
            " JOIN chases c ON c.message_id = d.message_id AND c.country = d.country"
            " WHERE d.poc = $1 ORDER BY d.delivered_at DESC, m.sent_at DESC LIMIT $2",
            poc,
            limit,
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
        future: asyncio.Future[AckResult] = asyncio.get_running_loop().create_future()
        self._acks.append(((message_id, poc, now, note, simulated, via), future))
        if self._ack_batches < ACK_BATCHES:  # else the next batch to end takes it along
            self._commit_acks()
        return await future

    def _commit_acks(self) -> None:
        queued, self._acks = self._acks, []
        if queued:
            self._ack_batches += 1
            task = asyncio.create_task(self._ack_batch(queued), name="ians-pg-acks")
            self._ack_tasks.add(task)
            task.add_done_callback(self._ack_tasks.discard)

    async def _ack_batch(self, queued: list[tuple[w.AckItem, asyncio.Future[AckResult]]]) -> None:
        """The acknowledgements that came while the others were committing, as one
        transaction (one WAL flush for all); if it fails, each alone."""
        try:
            items = [item for item, _ in queued]
            try:
                async with self._tx() as conn:
                    results = await w.acknowledge_many(conn, items)
                    await self.announce(conn, [
                        r.chase for r in results if isinstance(r, AckResult) and not r.repeated
                    ])  # fmt: skip
            except Exception as exc:
                if len(queued) == 1:
                    results = [exc]  # type: ignore[list-item]
                else:  # a deadlock with another node's batch, say: one by one
                    for one in queued:
                        await self._ack_batch([one])
                    return
            for (_, future), result in zip(queued, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        finally:
            self._ack_batches -= 1
            if self._acks and self._ack_batches < ACK_BATCHES:
                self._commit_acks()

    # --- timers ---------------------------------------------------------------------------
    async def pending_timers(self) -> list[tuple[datetime, int]]:
        rows = await self._rows("SELECT next_due_at, id FROM chases WHERE next_due_at IS NOT NULL")
        return [(from_us(due), cid) for due, cid in rows]

    async def fire(self, chase_ids: Sequence[int], now: datetime) -> list[Fired]:
        """As Store.fire; a chase another node is firing right now is left to it, and so
        is one of an exercise another node runs (this node's timer was armed before that
        node took the exercise up: its steps, and the PoCs they reach, are that node's)."""
        async with self._tx() as conn:
            rows = await conn.fetch(
                f"{w.FIRE_COLUMNS} WHERE c.id = ANY($1::bigint[]) AND c.status = 'pending'"
                f" AND {_not_run_elsewhere(now='$2', node='$3')}"
                " ORDER BY c.id FOR UPDATE OF c SKIP LOCKED",
                list(chase_ids),
                to_us(now),
                self.node,
            )
            fired = await w.fire(conn, rows, now)
            await self._notify_due(conn, [f.chase for f in fired])
            await self.announce(conn, [f.chase for f in fired])
        return fired

    async def fire_due(self, now: datetime, limit: int) -> list[Fired]:
        """Claim up to `limit` chases with a step due at `now` that no other node holds,
        earliest first, and apply their due steps (one transaction)."""
        async with self._tx() as conn:
            rows = await conn.fetch(
                f"{w.FIRE_COLUMNS} WHERE c.next_due_at <= $1 AND c.status = 'pending'"
                f" AND {_not_run_elsewhere(now='$1', node='$3')} ORDER BY c.next_due_at LIMIT $2"
                " FOR UPDATE OF c SKIP LOCKED",
                to_us(now),
                limit,
                self.node,
            )
            fired = await w.fire(conn, rows, now)
            await self._notify_due(conn, [f.chase for f in fired])
            await self.announce(conn, [f.chase for f in fired])
        return fired

    async def next_chase_due(self) -> datetime | None:
        """When the earliest step of any pending chase is due."""
        us = await self._value("SELECT min(next_due_at) FROM chases")
        return None if us is None else from_us(us)

    # --- facts ------------------------------------------------------------------------------
    async def events(self, message_id: str) -> list[Event]:
        rows = await self._rows(
            "SELECT at, kind, message_id, country, poc, due_at, detail FROM events"
            " WHERE message_id = $1 ORDER BY id",
            message_id,
        )
        return [event_of(r) for r in rows]

    async def record_events(self, events: Sequence[Event]) -> None:
        async with self._tx() as conn:
            await w.insert_events(conn, events)

    # --- exercises --------------------------------------------------------------------------
    async def add_exercise(self, exercise: Exercise) -> None:
        async with self._tx() as conn:
            await w.insert_exercise(conn, exercise)
            await self._run_here(conn, exercise)

    async def _run_here(self, conn: Conn, exercise: Exercise) -> None:
        """This node runs the exercise it starts (a virtual one is complete when stored)."""
        if exercise.clock != "virtual":
            await conn.execute(
                "INSERT INTO runners (exercise_id, node, until) VALUES ($1, $2, $3)",
                exercise.id,
                self.node,
                to_us(exercise.wall_started_at) + self._lease_us,
            )

    async def claim_runs(self, now: datetime) -> tuple[list[str], list[str]]:
        """Renew this node's runs for the lease; take up every run whose node let its lease
        run out (or that has none), and drop the runs of ended exercises.

        Returns (the exercises taken up now, the exercises of this node that ended).
        """
        us = to_us(now)
        until = us + self._lease_us
        async with self._tx() as conn:
            await conn.execute("UPDATE runners SET until = $2 WHERE node = $1", self.node, until)
            ended = await conn.fetch(  # this node's, or a dead node's
                "DELETE FROM runners r USING exercises e WHERE e.id = r.exercise_id"
                " AND e.state != 'running' AND (r.node = $1 OR r.until < $2)"
                " RETURNING r.exercise_id, r.node",
                self.node,
                us,
            )
            taken = await conn.fetch(
                "UPDATE runners SET node = $1, until = $2"
                " WHERE exercise_id IN (SELECT r.exercise_id FROM runners r"
                " JOIN exercises e ON e.id = r.exercise_id WHERE e.state = 'running'"
                " AND r.until < $3 FOR UPDATE OF r SKIP LOCKED)"
                " RETURNING exercise_id",
                self.node,
                until,
                us,
            )
            orphans = await conn.fetch(
                "INSERT INTO runners (exercise_id, node, until)"
                " SELECT id, $1, $2 FROM exercises e"
                " WHERE state = 'running' AND clock != 'virtual'"
                " AND NOT EXISTS (SELECT 1 FROM runners r WHERE r.exercise_id = e.id)"
                " ON CONFLICT DO NOTHING RETURNING exercise_id",
                self.node,
                until,
            )
        mine = [str(r[0]) for r in ended if r[1] == self.node]
        return [str(r[0]) for r in [*taken, *orphans]], mine

    async def runs_here(self) -> set[str]:
        """The exercises this node holds the lease of."""
        rows = await self._rows("SELECT exercise_id FROM runners WHERE node = $1", self.node)
        return {str(r[0]) for r in rows}

    async def exercise(self, exercise_id: str) -> Exercise:
        rows = await self._rows(
            f"SELECT {EXERCISE_COLUMNS} FROM exercises WHERE id = $1", exercise_id
        )
        if not rows:
            raise UnknownExercise(exercise_id)
        return exercise_of(rows[0])

    async def exercises(self, state: str) -> list[Exercise]:
        rows = await self._rows(
            f"SELECT {EXERCISE_COLUMNS} FROM exercises WHERE state = $1 ORDER BY seq", state
        )
        return [exercise_of(r) for r in rows]

    async def list_exercises(self, query: ExerciseQuery) -> list[Exercise]:
        where = Where()
        if query.before is not None:
            cursor = await self._rows(
                "SELECT wall_started_at, id FROM exercises WHERE id = $1", query.before
            )
            if not cursor:
                raise UnknownExercise(query.before)
            where.add("(wall_started_at, id) < ({}, {})", *cursor[0])
        for column, value in (("state", query.state), ("kind", query.kind)):
            if value is not None:
                where.add(f"{column} = {{}}", value)
        rows = await self._rows(
            f"SELECT {EXERCISE_LIST_COLUMNS} FROM exercises WHERE {where.sql}"
            f" ORDER BY wall_started_at DESC, id DESC LIMIT ${len(where.args) + 1}",
            *where.args,
            query.limit,
        )
        return [exercise_of(r) for r in rows]

    async def end_exercise(self, exercise_id: str, state: str, ended_at: datetime) -> Exercise:
        async with self._tx() as conn:
            await w.end_exercise(conn, exercise_id, state, ended_at)
        return await self.exercise(exercise_id)

    async def exercise_facts(self, exercise_id: str) -> ExerciseFacts:
        exercise = await self.exercise(exercise_id)
        rows = await self._rows(
            f"SELECT {MESSAGE_COLUMNS}, inject, policy FROM messages WHERE exercise_id = $1"
            " ORDER BY sent_at, seq",
            exercise_id,
        )
        messages = [
            SentMessage(r[MESSAGE_WIDTH], message_of(r), AckPolicy.model_validate_json(r[-1]))
            for r in rows
        ]
        in_exercise = "SELECT id FROM messages WHERE exercise_id = $1"
        chases = await self._rows(
            f"SELECT {CHASE_COLUMNS} FROM chases WHERE message_id IN ({in_exercise}) ORDER BY id",
            exercise_id,
        )
        events = await self._rows(
            "SELECT at, kind, message_id, country, poc, due_at, detail FROM events"
            f" WHERE message_id IN ({in_exercise}) ORDER BY id",
            exercise_id,
        )
        edited = await self._rows(
            "SELECT findings, edited_at FROM exercise_findings WHERE exercise_id = $1",
            exercise_id,
        )
        return ExerciseFacts(
            exercise,
            messages,
            [chase_of(r) for r in chases],
            [event_of(r) for r in events],
            EditedFindings(json.loads(edited[0][0]), from_us(edited[0][1])) if edited else None,
            await self.details_confirmed(),
        )

    async def exercises_for_history(self, kind: str | None = None) -> list[Exercise]:
        where = "kind != 'consultation' AND clock != 'virtual'"
        params: list[str] = []
        if kind is not None:
            where += " AND kind = $1"
            params.append(kind)
        rows = await self._rows(
            f"SELECT {EXERCISE_COLUMNS} FROM exercises WHERE {where} ORDER BY started_at, id",
            *params,
        )
        return [exercise_of(r) for r in rows]

    async def import_run(
        self,
        exercise: Exercise,
        messages: Sequence[SentMessage],
        chases: Sequence[Chase],
        events: Sequence[Event],
    ) -> None:
        async with self._tx() as conn:
            await w.import_run(conn, exercise, messages, chases, events)

    # --- consultations ------------------------------------------------------------------------
    async def add_consultation(
        self,
        consultation: Exercise,
        invitations: Sequence[Invitation],
        responses: Sequence[Response] = (),
    ) -> None:
        async with self._tx() as conn:
            await w.add_consultation(conn, consultation, invitations, responses)
            await self._run_here(conn, consultation)

    async def invitations(self, consultation_id: str) -> list[Invitation]:
        rows = await self._rows(
            "SELECT poc, country, invited_at FROM invitations WHERE consultation_id = $1"
            " ORDER BY country, poc",
            consultation_id,
        )
        return [Invitation(r[0], r[1], from_us(r[2])) for r in rows]

    async def invited_to(self, poc: str) -> list[tuple[Exercise, Response | None]]:
        rows = await self._rows(
            f"SELECT {EXERCISE_COLUMNS_E}, r.submitted_at, r.answers FROM invitations i"
            " JOIN exercises e ON e.id = i.consultation_id"
            " LEFT JOIN responses r ON r.consultation_id = i.consultation_id AND r.poc = i.poc"
            " WHERE i.poc = $1 AND e.clock != 'virtual' ORDER BY e.started_at DESC",
            poc,
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
            "SELECT poc, submitted_at, answers FROM responses WHERE consultation_id = $1"
            " ORDER BY poc",
            consultation_id,
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
        async with self._tx() as conn:
            return await w.save_response(conn, consultation_id, poc, answers, now, deadline)

    async def remind(self, consultation_id: str, number: int, now: datetime) -> list[str]:
        async with self._tx() as conn:
            return await w.remind(conn, consultation_id, number, now)

    async def reminders_sent(self, consultation_id: str) -> set[int]:
        rows = await self._rows(
            "SELECT number FROM consultation_reminders WHERE consultation_id = $1",
            consultation_id,
        )
        return {int(r[0]) for r in rows}

    # --- the outbox ---------------------------------------------------------------------------
    async def set_channels(self, channels: Sequence[tuple[str, str]]) -> None:
        async with self._tx() as conn:
            await conn.execute("DELETE FROM poc_channels")
            await conn.executemany(
                "INSERT INTO poc_channels (poc, channel) SELECT $1, $2 WHERE NOT EXISTS"
                " (SELECT 1 FROM disabled_channels WHERE poc = $1 AND channel = $2)"
                " ON CONFLICT DO NOTHING",
                list(channels),
            )

    async def webhook_secrets(self) -> dict[str, tuple[str, datetime]]:
        rows = await self._rows("SELECT poc, secret, issued_at FROM webhook_secrets")
        return {str(p): (str(s), from_us(at)) for p, s, at in rows}

    async def set_webhook_secret(self, poc: str, secret: str, at: datetime) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO webhook_secrets (poc, secret, issued_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (poc) DO UPDATE SET secret = excluded.secret,"
                " issued_at = excluded.issued_at",
                poc,
                secret,
                to_us(at),
            )
            await conn.execute(
                "DELETE FROM disabled_channels WHERE poc = $1 AND channel = 'webhook'", poc
            )
            await conn.execute(
                "INSERT INTO poc_channels (poc, channel) VALUES ($1, 'webhook')"
                " ON CONFLICT DO NOTHING",
                poc,
            )

    async def disabled_channels(self) -> dict[tuple[str, str], datetime]:
        rows = await self._rows("SELECT poc, channel, disabled_at FROM disabled_channels")
        return {(str(p), str(c)): from_us(at) for p, c, at in rows}

    async def due_notices(
        self, now: datetime, limit: int, after: OutboxNotice | None = None
    ) -> list[OutboxNotice]:
        """As Store.due_notices, and each is claimed for this node for the lease: no other
        node attempts it until its outcome is recorded or the lease has run out."""
        us = to_us(now)
        async with self._tx() as conn:
            rows = await conn.fetch(
                "UPDATE outbox SET claimed_until = $2 WHERE id IN (SELECT id FROM outbox"
                " WHERE next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)"
                " AND (next_attempt_at, id) > ($4, $5)"
                " ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)"
                f" RETURNING {NOTICE_COLUMNS}",
                us,
                us + self._lease_us,
                limit,
                *after_key(after),
            )
        rows = sorted(rows, key=lambda r: (r["next_attempt_at"], r["id"]))
        return [notice_of(tuple(r)) for r in rows]

    async def next_notice_due(self) -> datetime | None:
        us = await self._value(
            "SELECT min(greatest(next_attempt_at, coalesce(claimed_until, 0))) FROM outbox"
            " WHERE next_attempt_at IS NOT NULL"
        )
        return None if us is None else from_us(us)

    async def notice(self, notice_id: int) -> OutboxNotice | None:
        rows = await self._rows(f"SELECT {NOTICE_COLUMNS} FROM outbox WHERE id = $1", notice_id)
        return notice_of(rows[0]) if rows else None

    async def notices(self, message_id: str) -> list[OutboxNotice]:
        rows = await self._rows(
            f"SELECT {NOTICE_COLUMNS} FROM outbox WHERE message_id = $1 ORDER BY id", message_id
        )
        return [notice_of(r) for r in rows]

    async def record_attempts(self, attempts: Sequence[Attempt]) -> list[Event]:
        async with self._tx() as conn:
            return await w.record_attempts(conn, attempts)

    async def record_bounce(
        self, notice_id: int, at: datetime, answer: str, permanent: bool
    ) -> list[Event]:
        async with self._tx() as conn:
            return await w.record_bounce(conn, notice_id, at, answer, permanent)

    async def claim_once(self, key: str) -> bool:
        inserted = await self._value(
            "INSERT INTO meta (key, value) VALUES ($1, 'used') ON CONFLICT DO NOTHING RETURNING 1",
            f"claimed:{key}",
        )
        return inserted is not None

    async def message_policy(self, message_id: str) -> AckPolicy:
        stored = await self._value("SELECT policy FROM messages WHERE id = $1", message_id)
        if stored is None:
            raise UnknownMessage(message_id)
        return parsed_policy(stored)

    # --- the web pages' sessions ---------------------------------------------------------
    async def add_session(self, session: WebSession) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "DELETE FROM web_sessions WHERE expires_at <= $1", to_us(session.created_at)
            )
            await conn.execute(
                "INSERT INTO web_sessions (key_hash, poc, csrf, created_at, expires_at)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key_hash) DO UPDATE SET"
                " poc = excluded.poc, csrf = excluded.csrf, created_at = excluded.created_at,"
                " expires_at = excluded.expires_at",
                session.key_hash,
                session.poc,
                session.csrf,
                to_us(session.created_at),
                to_us(session.expires_at),
            )

    async def web_session(self, key_hash: str) -> WebSession | None:
        rows = await self._rows(
            "SELECT poc, csrf, created_at, expires_at FROM web_sessions WHERE key_hash = $1",
            key_hash,
        )
        if not rows:
            return None
        poc, csrf, created, expires = rows[0]
        return WebSession(key_hash, poc, csrf, from_us(created), from_us(expires))

    async def end_session(self, key_hash: str) -> None:
        async with self._tx() as conn:
            await conn.execute("DELETE FROM web_sessions WHERE key_hash = $1", key_hash)

    async def confirm_details(self, poc: str, at: datetime) -> None:
        async with self._tx() as conn:  # the same PoC twice in one microsecond is once
            await conn.execute(
                "INSERT INTO detail_confirmations (poc_id, confirmed_at) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING",
                poc,
                to_us(at),
            )

    async def save_findings(
        self, exercise_id: str, items: Sequence[Mapping[str, object]], at: datetime
    ) -> None:
        text = json.dumps(list(map(dict, items)), ensure_ascii=False)
        async with self._tx() as conn:
            if await conn.fetchval("SELECT 1 FROM exercises WHERE id = $1", exercise_id) is None:
                raise UnknownExercise(exercise_id)
            await conn.execute(
                "INSERT INTO exercise_findings (exercise_id, findings, edited_at)"
                " VALUES ($1, $2, $3) ON CONFLICT (exercise_id) DO UPDATE SET"
                " findings = excluded.findings, edited_at = excluded.edited_at",
                exercise_id,
                text,
                to_us(at),
            )

    async def details_confirmed(self) -> dict[str, datetime]:
        rows = await self._rows(
            "SELECT poc_id, max(confirmed_at) FROM detail_confirmations GROUP BY poc_id"
        )
        return {str(poc): from_us(at) for poc, at in rows}

    async def meta_value(self, key: str) -> str | None:
        value = await self._value("SELECT value FROM meta WHERE key = $1", key)
        return None if value is None else str(value)

    async def meta_value_or(self, key: str, value: str) -> str:
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING", key, value
            )
            return str(await conn.fetchval("SELECT value FROM meta WHERE key = $1", key))

    async def set_meta_value(self, key: str, value: str) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                key,
                value,
            )


@contextmanager
def _text_checked() -> Iterator[None]:
    """PostgreSQL's text cannot hold U+0000, which SQLite's can: refused as bad input."""
    try:
        yield
    except asyncpg.CharacterNotInRepertoireError:
        raise InvalidInput(
            "text may not contain the NUL character (U+0000): the database cannot store it"
        ) from None


class Where:
    """A WHERE clause built from conditions with `{}` where each argument goes."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.args: list[Any] = []

    def add(self, condition: str, *args: Any) -> None:
        start = len(self.args) + 1
        self.parts.append(condition.format(*(f"${i}" for i in range(start, start + len(args)))))
        self.args += args

    @property
    def sql(self) -> str:
        return " AND ".join(self.parts) or "TRUE"


# an exercise's chases are stepped by the node that runs it (its simulated PoCs answer
# there), unless that node's lease ran out
def _not_run_elsewhere(now: str, node: str) -> str:
    """The chase's message is of no exercise, or of one no other node runs at `now`."""
    return (
        "(m.exercise_id IS NULL OR NOT EXISTS (SELECT 1 FROM runners r"
        f" WHERE r.exercise_id = m.exercise_id AND r.node != {node} AND r.until > {now}))"
    )


# the message was sent by the country, or reached one of its PoCs
_INVOLVES = (
    "(m.sender = {} OR EXISTS (SELECT 1 FROM deliveries d"
    " WHERE d.message_id = m.id AND d.country = {}))"
)


async def _migrate(conn: Conn) -> None:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        version = await conn.fetchval("SELECT max(version) FROM schema_version") or 0
        if version > len(MIGRATIONS):
            raise IansError(
                f"the database is at schema version {version}, newer than this IANS"
                f" ({len(MIGRATIONS)}): upgrade IANS"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await conn.execute(script)
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", number)


def _safe(url: str) -> str:
    """The URL without its password."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{userinfo}{at}{host}"

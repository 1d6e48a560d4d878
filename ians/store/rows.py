"""How the SQLite store lays out its rows: columns, conversions to and from the domain,
and the inserts that several writes share. Times are integer microseconds since the
Unix epoch, UTC.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from ians.domain.chase import Chase, ChaseStatus, Event, EventKind
from ians.domain.exercise import Exercise
from ians.domain.messages import CONTENT_MODELS, Message, MessageType, Mode
from ians.domain.policy import AckPolicy
from ians.store.base import Delivery

T = TypeVar("T")


CHUNK = 500  # SQLite's bound-parameter limit is far above chunks of this size


def to_us(at: datetime) -> int:
    return round(at.timestamp() * 1_000_000)


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


def opt_us(at: datetime | None) -> int | None:
    return None if at is None else to_us(at)


Micros = Callable[[datetime | None], int | None]


def shared_micros() -> Micros:
    """`opt_us` that converts each distinct time once: the rows of one batch share times
    (10,000 chases of one message have the same four)."""
    seen: dict[datetime | None, int | None] = {None: None}

    def micros(at: datetime | None) -> int | None:
        if at not in seen:
            seen[at] = to_us(at)  # type: ignore[arg-type]
        return seen[at]

    return micros


def opt_dt(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


MESSAGE_FIELDS = (
    "id",
    "type",
    "mode",
    "sender",
    "recipients",
    "sent_at",
    "refers_to",
    "content",
    "exercise_id",
    "simulated",
)


MESSAGE_COLUMNS = ", ".join(MESSAGE_FIELDS)


MESSAGE_COLUMNS_M = ", ".join(f"m.{f}" for f in MESSAGE_FIELDS)


MESSAGE_WIDTH = len(MESSAGE_FIELDS)


CHASE_FIELDS = (
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


CHASE_COLUMNS = ", ".join(CHASE_FIELDS)


CHASE_COLUMNS_C = ", ".join(f"c.{f}" for f in CHASE_FIELDS)


def message_of(r: Sequence[Any]) -> Message:
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
        simulated=bool(r[9]),
    )


def event_of(r: Sequence[Any]) -> Event:
    return Event(
        from_us(r[0]),
        EventKind(r[1]),
        r[2],
        r[3],
        r[4],
        opt_dt(r[5]),
        json.loads(r[6]) if r[6] else {},
    )


EXERCISE_COLUMNS = (
    "id, name, kind, clock, speed, state, started_at, wall_started_at, ended_at,"
    " seed, scenario, simulate"
)


# a list leaves out the scenario text (up to a MiB each)
EXERCISE_LIST_COLUMNS = EXERCISE_COLUMNS.replace("scenario", "'' AS scenario")


EXERCISE_COLUMNS_E = ", ".join(f"e.{c.strip()}" for c in EXERCISE_COLUMNS.split(","))


def exercise_of(r: Sequence[Any]) -> Exercise:
    return Exercise(
        id=r[0],
        name=r[1],
        kind=r[2],
        clock=r[3],
        speed=r[4],
        state=r[5],
        started_at=from_us(r[6]),
        wall_started_at=from_us(r[7]),
        ended_at=opt_dt(r[8]),
        seed=r[9],
        scenario=r[10],
        simulate=tuple(json.loads(r[11])),
    )


def exercise_row(e: Exercise) -> tuple[Any, ...]:
    return (
        e.id,
        e.name,
        e.kind,
        e.clock,
        e.speed,
        e.state,
        to_us(e.started_at),
        to_us(e.wall_started_at),
        opt_us(e.ended_at),
        e.seed,
        e.scenario,
        json.dumps(list(e.simulate)),
    )


def delivery_of(r: Sequence[Any]) -> Delivery:
    return Delivery(r[0], r[1], r[2], from_us(r[3]), opt_dt(r[4]))


_CHASE_STATUS = {s.value: s for s in ChaseStatus}  # a lookup, not Enum.__call__ (~1 us)


def chase_of(r: Sequence[Any]) -> Chase:
    return Chase(  # positional: this runs for every chase read and every ack
        r[1],  # message_id
        r[2],  # country
        tuple(r[3].split(",")),  # pocs
        from_us(r[4]),  # sent_at
        _CHASE_STATUS[r[5]],
        r[6],  # steps_done
        r[7],  # reached
        r[8],  # reminders
        None if r[9] is None else from_us(r[9]),  # acknowledged_at
        r[10],  # acknowledged_by
        None if r[11] is None else from_us(r[11]),  # gave_up_at
        None if r[12] is None else from_us(r[12]),  # next_due_at
        r[0],  # id
    )


def chase_row(c: Chase, us: Micros = opt_us) -> tuple[Any, ...]:
    return (
        c.id,
        c.message_id,
        c.country,
        ",".join(c.pocs),
        us(c.sent_at),
        c.status.value,
        c.steps_done,
        c.reached,
        c.reminders,
        us(c.acknowledged_at),
        c.acknowledged_by,
        us(c.gave_up_at),
        us(c.next_due_at),
    )


def chase_update(c: Chase) -> tuple[Any, ...]:
    return (
        c.status.value,
        c.steps_done,
        c.reached,
        c.reminders,
        opt_us(c.acknowledged_at),
        c.acknowledged_by,
        opt_us(c.gave_up_at),
        opt_us(c.next_due_at),
        c.id,
    )


UPDATE_CHASE = (
    "UPDATE chases SET status = ?, steps_done = ?, reached = ?, reminders = ?,"
    " acknowledged_at = ?, acknowledged_by = ?, gave_up_at = ?, next_due_at = ? WHERE id = ?"
)


def event_row(e: Event, us: Micros = opt_us) -> tuple[Any, ...]:
    return (
        us(e.at),
        e.kind.value,
        e.message_id,
        e.country,
        e.poc,
        us(e.due_at),
        json.dumps(dict(e.detail)) if e.detail else None,
    )


def insert_exercise(conn: sqlite3.Connection, exercise: Exercise) -> None:
    """Raises sqlite3.IntegrityError if the id exists."""
    conn.execute(
        f"INSERT INTO exercises ({EXERCISE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        exercise_row(exercise),
    )


def insert_events(conn: sqlite3.Connection, events: Sequence[Event]) -> None:
    us = shared_micros()
    conn.executemany(
        "INSERT INTO events (at, kind, message_id, country, poc, due_at, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [event_row(e, us) for e in events],
    )


def inbox_delivered(notice: str, message_id: str, country: str, poc: str, at: datetime) -> Event:
    """The `delivered` event of an inbox entry; written with the entry, in its transaction."""
    return Event(
        at,
        EventKind.DELIVERED,
        message_id,
        country,
        poc,
        detail={"channel": "inbox", "notice": notice},
    )


def insert_deliveries(
    conn: sqlite3.Connection, reached: Sequence[tuple[str, str, str, datetime]]
) -> None:
    """Put messages in the inboxes of PoCs `(message_id, poc, country, at)`, each with its
    `delivered` event, in the caller's transaction: the entry and its record are one fact,
    so a crash keeps both or neither."""
    us = shared_micros()
    conn.executemany(
        "INSERT INTO deliveries (message_id, poc, country, delivered_at) VALUES (?, ?, ?, ?)",
        [(m, p, c, us(at)) for m, p, c, at in reached],
    )
    insert_events(conn, [inbox_delivered("message", m, c, p, at) for m, p, c, at in reached])


def inject_stored(conn: sqlite3.Connection, message: Message, inject: str | None) -> bool:
    """Whether the exercise of `message` has a message of this inject already (a node
    that lost an exercise without knowing it yet sends its injects again)."""
    if inject is None or message.exercise_id is None:
        return False
    cursor = conn.execute(
        "SELECT 1 FROM messages WHERE exercise_id = ? AND inject = ? LIMIT 1",
        (message.exercise_id, inject),
    )
    return cursor.fetchone() is not None


def insert_message(
    conn: sqlite3.Connection, message: Message, policy: AckPolicy, inject: str | None
) -> None:
    conn.execute(
        f"INSERT INTO messages ({MESSAGE_COLUMNS}, policy, inject)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
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
            int(message.simulated),
            policy.model_dump_json(),
            inject,
        ),
    )


def insert_chases(conn: sqlite3.Connection, chases: Sequence[Chase]) -> list[int]:
    """Insert chases under new ids (returned in order)."""
    cursor = conn.execute("SELECT coalesce(max(id), 0) FROM chases")
    first_id = int(cursor.fetchone()[0]) + 1
    ids = list(range(first_id, first_id + len(chases)))
    us = shared_micros()
    conn.executemany(
        f"INSERT INTO chases ({CHASE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [(i, *chase_row(c, us)[1:]) for i, c in zip(ids, chases, strict=True)],
    )
    return ids

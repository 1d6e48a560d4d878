"""Both stores implement the whole Store interface, and PostgreSQL's schema is versioned."""

from __future__ import annotations

import asyncio
import inspect
from datetime import timedelta

import asyncpg
import pytest

from ians.clock import ManualClock
from ians.domain import messages
from ians.domain.contacts import Registry
from ians.domain.messages import MessageType, Mode
from ians.errors import IansError, InjectSent, NotDelivered
from ians.store import AckResult
from ians.store.base import MessageQuery, Store
from ians.store.pg_schema import MIGRATIONS
from ians.store.postgres import PostgresStore
from ians.store.sqlite import SqliteStore
from ians.tracking import Tracker
from tests.conftest import make_tracker


def test_each_backend_implements_every_method_of_the_interface() -> None:
    for backend in (SqliteStore, PostgresStore):
        assert not inspect.isabstract(backend), backend.__abstractmethods__
        assert issubclass(backend, Store)


async def test_the_postgres_schema_is_at_the_latest_version_once(pg_url: str) -> None:
    for _ in range(2):  # a second start migrates nothing
        store = await PostgresStore.open(pg_url)
        await store.close()
    conn = await asyncpg.connect(pg_url)
    try:
        versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_version")]
    finally:
        await conn.close()
    assert sorted(versions) == list(range(1, len(MIGRATIONS) + 1))


async def test_a_postgres_schema_newer_than_this_ians_is_refused(pg_url: str) -> None:
    store = await PostgresStore.open(pg_url)
    await store.close()
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", len(MIGRATIONS) + 1)
    finally:
        await conn.close()
    with pytest.raises(IansError, match="newer than this IANS"):
        await PostgresStore.open(pg_url)


async def test_an_unreachable_postgres_is_one_clear_error() -> None:
    with pytest.raises(IansError, match=r"cannot open the PostgreSQL database .*:\*\*\*@"):
        await PostgresStore.open("postgresql://ians:secret@127.0.0.1:1/ians")


async def test_of_two_nodes_starting_together_the_first_generated_value_is_kept(
    pg_url: str,
) -> None:
    a, b = await PostgresStore.open(pg_url), await PostgresStore.open(pg_url)
    try:
        assert await a.meta_value_or("link_key", "from-a") == "from-a"
        assert await b.meta_value_or("link_key", "from-b") == "from-a"
    finally:
        await a.close()
        await b.close()


async def test_acknowledgements_at_once_each_get_their_own_answer(
    store: SqliteStore, tracker: Tracker, clock: ManualClock
) -> None:
    """Many at once share transactions (a group commit on each backend): still, a repeat
    gets the first time, a PoC never reached its refusal, and the rest are recorded."""
    messages = [(await tracker.send(_draft()))[0] for _ in range(20)]
    calls = [(m.id, poc) for m in messages for poc in ("hun-1", "rou-1", "hun-1", "srb-1")]
    results = await asyncio.gather(
        *(store.acknowledge(m, poc, clock.now()) for m, poc in calls), return_exceptions=True
    )
    for (_, poc), result in zip(calls, results, strict=True):
        if poc == "srb-1":
            assert isinstance(result, NotDelivered)
        else:
            assert isinstance(result, AckResult) and result.acknowledged_at == clock.now()
    repeated = [r.repeated for r in results if isinstance(r, AckResult)]
    assert repeated.count(False) == 40 and repeated.count(True) == 20
    for m in messages:
        assert {c.status.value for c in await store.chases(m.id)} == {"acknowledged"}


async def test_an_exercise_sends_each_inject_once(store: SqliteStore, tracker: Tracker) -> None:
    """A node that lost an exercise without knowing it yet may send an inject again: the
    store refuses the second and keeps nothing of it."""
    await tracker.send(_draft(), exercise_id="ex-1", inject="ew1")
    with pytest.raises(InjectSent):
        await tracker.send(_draft(), exercise_id="ex-1", inject="ew1")
    await tracker.send(_draft(), exercise_id="ex-1", inject="ra1")
    await tracker.send(_draft(), exercise_id="ex-2", inject="ew1")  # another exercise's
    await tracker.send(_draft())  # a message of no exercise: no inject to compare
    listed = await store.list_messages(MessageQuery(limit=10, exercise="ex-1"))
    assert len(listed) == 2


async def test_two_nodes_sending_one_inject_at_once_store_it_once(
    pg_url: str, registry: Registry, clock: ManualClock
) -> None:
    stores = [await PostgresStore.open(pg_url), await PostgresStore.open(pg_url)]
    try:
        trackers = [await make_tracker(s, registry, clock) for s in stores]  # type: ignore[arg-type]
        for n in range(5):  # five injects, each sent by both nodes at the same moment
            results = await asyncio.gather(
                *(t.send(_draft(), exercise_id="ex-1", inject=f"i{n}") for t in trackers),
                return_exceptions=True,
            )
            assert sorted(type(r).__name__ for r in results) == ["InjectSent", "tuple"]
        listed = await stores[0].list_messages(MessageQuery(limit=20, exercise="ex-1"))
        assert len(listed) == 5
    finally:
        for s in stores:
            await s.close()


async def test_due_notices_come_earliest_first_and_from_past_a_given_one(
    store: SqliteStore, tracker: Tracker, clock: ManualClock
) -> None:
    """The outbox reads its next burst past the last notice of the one it is attempting."""
    await store.set_channels([("hun-1", "email"), ("rou-1", "email")])
    for _ in range(3):
        await tracker.send(_draft())
        clock.advance(timedelta(seconds=1))
    first = await store.due_notices(clock.now(), 2)
    rest = await store.due_notices(clock.now(), 100, after=first[-1])
    read = first + rest
    assert len(read) == 6 and len({n.id for n in read}) == 6
    assert [(n.due_at, n.id) for n in read] == sorted((n.due_at, n.id) for n in read)
    assert all(n.due_at is not None and n.due_at <= clock.now() for n in read)
    assert await store.due_notices(clock.now(), 100, after=read[-1]) == []


def _draft() -> messages.TestDraft:
    return messages.TestDraft(
        type=MessageType.TEST,
        mode=Mode.TEST,
        to=["HUN", "ROU"],
        content=messages.TestContent(text="t"),
    )

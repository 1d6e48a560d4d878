"""The SQLite store on real files: group commit, durability, schema versions."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from ians.clock import ManualClock
from ians.domain.chase import ChaseStatus
from ians.domain.contacts import Registry
from ians.domain.messages import MessageDraft
from ians.errors import IansError
from ians.store.schema import MIGRATIONS
from ians.store.sqlite import SqliteStore
from tests.conftest import early_warning, make_tracker

draft = TypeAdapter(MessageDraft).validate_python


async def test_concurrent_acks_share_commits_and_all_survive_a_reopen(
    db_path: Path, registry: Registry, clock: ManualClock
) -> None:
    store = await SqliteStore.open(db_path)
    tracker = await make_tracker(store, registry, clock)
    messages = [(await tracker.send(draft(early_warning())))[0] for _ in range(50)]
    clock.advance(timedelta(minutes=3))
    calls = [tracker.acknowledge(m.id, poc) for m in messages for poc in ("hun-1", "rou-1")]
    calls += [tracker.acknowledge(messages[0].id, "hun-1")] * 5  # repeats inside one batch
    results = await asyncio.gather(*calls)
    assert {r.acknowledged_at for r in results} == {clock.now()}
    assert sum(not r.repeated for r in results) == 100
    await tracker.dispatcher.drain()
    await store.close()

    with sqlite3.connect(db_path) as db:
        (acked,) = db.execute(
            "SELECT count(*) FROM deliveries WHERE acknowledged_at IS NOT NULL"
        ).fetchone()
        (settled,) = db.execute(
            "SELECT count(*) FROM chases WHERE status = 'acknowledged' AND next_due_at IS NULL"
        ).fetchone()
        (events,) = db.execute("SELECT count(*) FROM events WHERE kind = 'acknowledged'").fetchone()
    assert (acked, settled, events) == (100, 100, 100)


async def test_one_bad_item_in_a_batch_does_not_fail_the_others(
    store: SqliteStore, registry: Registry, clock: ManualClock
) -> None:
    tracker = await make_tracker(store, registry, clock)
    message, _ = await tracker.send(draft(early_warning()))
    results = await asyncio.gather(
        tracker.acknowledge(message.id, "hun-1"),
        tracker.acknowledge(message.id, "srb-1"),
        tracker.acknowledge("ew-missing", "hun-1"),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results] == ["AckResult", "NotDelivered", "UnknownMessage"]
    chases = {c.country: c for c in await store.chases(message.id)}
    assert chases["HUN"].status is ChaseStatus.ACKNOWLEDGED
    await tracker.dispatcher.drain()


async def test_firing_unknown_or_settled_chases_changes_nothing(
    store: SqliteStore, registry: Registry, clock: ManualClock
) -> None:
    tracker = await make_tracker(store, registry, clock)
    message, chases = await tracker.send(draft(early_warning()))
    await tracker.acknowledge(message.id, "hun-1")
    clock.advance(timedelta(hours=1))
    fired = await store.fire([c.id for c in chases if c.id] + [999], clock.now())
    assert [f.chase.country for f in fired] == ["ROU"]
    assert await store.fire([c.id for c in chases if c.id], clock.now()) == []
    await tracker.dispatcher.drain()


async def test_the_schema_is_created_once_and_versioned(db_path: Path) -> None:
    for _ in range(2):
        store = await SqliteStore.open(db_path)
        await store.close()
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_a_database_from_a_newer_ians_is_refused_untouched(db_path: Path) -> None:
    with sqlite3.connect(db_path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(IansError, match="newer than this IANS"):
        await SqliteStore.open(db_path)
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)


async def test_a_closed_store_refuses_writes(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    await store.close()
    with pytest.raises(IansError):
        await store.set_admin_token_hash("x")

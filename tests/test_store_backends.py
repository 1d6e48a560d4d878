"""Both stores implement the whole Store interface, and PostgreSQL's schema is versioned."""

from __future__ import annotations

import inspect

import asyncpg
import pytest

from ians.errors import IansError
from ians.store.base import Store
from ians.store.pg_schema import MIGRATIONS
from ians.store.postgres import PostgresStore
from ians.store.sqlite import SqliteStore


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

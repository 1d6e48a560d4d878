"""The PostgreSQL that tests use: a database of this test session, a schema per test.

The server is the one at 127.0.0.1:5432 (trust auth), or IANS_TEST_POSTGRES; its tests
are skipped when it cannot be reached (.ci/run starts it). Each test session makes a
database named after its pid, so that sessions running at once never meet, and drops it
at its end; each test gets a fresh schema in it (URL parameter `search_path`).
"""

from __future__ import annotations

import asyncio
import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import asyncpg

SERVER = os.environ.get("IANS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
_schemas = itertools.count(1)


def _at(database: str) -> str:
    return SERVER.rsplit("/", 1)[0] + "/" + database


def _admin(sql: str, database: str = SERVER) -> None:
    """Run `sql` on a database, in a thread: a test's loop may be running."""

    async def run() -> None:
        conn = await asyncpg.connect(database, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


def create_database() -> str | None:
    """A new database for this session (its URL), or None when PostgreSQL is not reachable."""
    name = f"ians_test_{os.getpid()}"
    try:
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        _admin(f"CREATE DATABASE {name}")
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    return _at(name)


def drop_database(url: str) -> None:
    _admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


def new_schema(database: str) -> str:
    """A fresh, empty schema in the session's database: its URL."""
    name = f"t{next(_schemas)}"
    _admin(f"CREATE SCHEMA {name}", database)
    return f"{database}?search_path={name}"


async def everything(url: str) -> list[asyncpg.Record]:
    """Every row of the tokens and meta tables of the schema at `url` (to look for secrets)."""
    conn = await asyncpg.connect(url)
    try:
        return [*await conn.fetch("SELECT * FROM tokens"), *await conn.fetch("SELECT * FROM meta")]
    finally:
        await conn.close()

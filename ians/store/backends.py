"""Which store a `--db` value names: a `postgresql://` URL, or else a SQLite file."""

from __future__ import annotations

from datetime import timedelta

from ians.store.base import Store
from ians.store.postgres import DEFAULT_LEASE, PostgresStore, is_postgres_url
from ians.store.sqlite import SqliteStore


async def open_store(
    db: str, *, synchronous: str = "FULL", lease: timedelta = DEFAULT_LEASE
) -> Store:
    """Open the store `db` names, creating or migrating its schema.

    `synchronous` applies to SQLite, `lease` to PostgreSQL (ians/store/postgres.py).
    Raises IansError when the database cannot be opened or is newer than this IANS.
    """
    if is_postgres_url(db):
        return await PostgresStore.open(db, lease=lease)
    return await SqliteStore.open(db, synchronous=synchronous)

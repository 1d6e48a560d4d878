"""The web pages' writes (their sessions), run by the writer
process like every other batch."""

from __future__ import annotations

import sqlite3

from ians.store.base import WebSession
from ians.store.rows import to_us


def add_session(conn: sqlite3.Connection, items: list[WebSession]) -> list[None]:
    """Store new sessions; those expired by the newest one's start are dropped."""
    conn.execute(
        "DELETE FROM web_sessions WHERE expires_at <= ?",
        (max(to_us(s.created_at) for s in items),),
    )
    conn.executemany(
        "INSERT OR REPLACE INTO web_sessions (key_hash, poc, csrf, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [(s.key_hash, s.poc, s.csrf, to_us(s.created_at), to_us(s.expires_at)) for s in items],
    )
    return [None] * len(items)


def end_session(conn: sqlite3.Connection, items: list[str]) -> list[None]:
    conn.executemany("DELETE FROM web_sessions WHERE key_hash = ?", [(k,) for k in items])
    return [None] * len(items)

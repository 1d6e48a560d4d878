"""The store's web sessions, on each backend: kept, found, ended; expired ones dropped."""

from __future__ import annotations

from datetime import timedelta

from ians.store.base import WebSession
from ians.store.sqlite import SqliteStore
from tests.conftest import T0


async def test_a_session_is_kept_found_and_ended(store: SqliteStore) -> None:
    admin = WebSession("k1", None, "c1", T0, T0 + timedelta(hours=12))
    poc = WebSession("k2", "hun-1", "c2", T0, T0 + timedelta(hours=12))
    await store.add_session(admin)
    await store.add_session(poc)
    assert await store.web_session("k1") == admin
    assert await store.web_session("k2") == poc
    assert await store.web_session("k3") is None
    await store.end_session("k1")
    await store.end_session("k1")  # again: nothing happens
    assert await store.web_session("k1") is None
    assert await store.web_session("k2") == poc


async def test_sessions_expired_by_a_new_ones_start_are_dropped(store: SqliteStore) -> None:
    await store.add_session(WebSession("old", "hun-1", "c", T0, T0 + timedelta(hours=1)))
    await store.add_session(WebSession("live", "hun-1", "c", T0, T0 + timedelta(hours=3)))
    later = T0 + timedelta(hours=2)
    await store.add_session(WebSession("new", "rou-1", "c", later, later + timedelta(hours=1)))
    assert await store.web_session("old") is None
    assert await store.web_session("live") is not None

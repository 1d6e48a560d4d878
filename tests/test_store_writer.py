"""The store's writer process: errors across the boundary, a dead or interrupted writer,
draining on close, and the WAL checkpoints it runs aside from the commits."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import socket
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ians.domain.outbox import Attempt
from ians.errors import FileError, NotDelivered, Problem, UnknownMessage
from ians.store import batches, writer_process
from ians.store.sqlite import PAGE_SIZE, SqliteStore
from ians.store.writer import SEND_AT, StoreClosed, frame
from ians.store.writer_process import Checkpointer, connect
from ians.web.keys import tracker_key
from tests.conftest import Api, early_warning

SQLITE_ONLY = True  # the writer process is SQLite's (tests/conftest.py)

AT = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def test_errors_keep_their_type_message_and_details_across_the_boundary() -> None:
    errors = [
        UnknownMessage("ew-1"),
        NotDelivered("ew-1", "hun-1"),
        FileError([Problem("contacts/hu.yaml", 40, "pocs[1].email", "not an email")]),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert (str(copy), copy.message, copy.details, copy.status) == (
            str(error),
            error.message,
            error.details,
            error.status,
        )
    assert copy.problems == errors[-1].problems  # type: ignore[attr-defined]


async def test_a_dead_writer_fails_writes_with_503_and_keeps_what_it_committed(
    db_path: Path,
) -> None:
    store = await SqliteStore.open(db_path)
    await store.set_poc_token_hash("hun-1", "hash-1", AT)
    os.kill(store._commits.pid, signal.SIGKILL)
    with pytest.raises(StoreClosed, match="writer process stopped") as raised:
        for _ in range(50):  # the first writes may go out before the death is noticed
            await store.set_poc_token_hash("hun-2", "hash-2", AT)
    assert raised.value.status == 503
    await store.close()  # no hang

    store = await SqliteStore.open(db_path)
    try:
        assert await store.poc_token_hashes() == {"hash-1": "hun-1"}
    finally:
        await store.close()


async def test_ctrl_c_and_sigterm_are_the_servers_the_writer_goes_on(store: SqliteStore) -> None:
    os.kill(store._commits.pid, signal.SIGINT)
    os.kill(store._commits.pid, signal.SIGTERM)
    await asyncio.sleep(0)
    await store.set_poc_token_hash("hun-1", "hash-1", AT)
    assert await store.poc_token_hashes() == {"hash-1": "hun-1"}


async def test_a_write_that_cannot_be_sent_fails_alone(store: SqliteStore) -> None:
    with pytest.raises((pickle.PicklingError, AttributeError)):
        await store._commits.submit(batches.set_meta, ("key", lambda: "not picklable"))
    await store.set_admin_token_hash("fine")
    assert await store.admin_token_hash() == "fine"


async def test_close_commits_every_write_already_queued(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    writes = [
        asyncio.create_task(store.set_poc_token_hash(f"poc-{i}", f"hash-{i}", AT))
        for i in range(300)
    ]
    await asyncio.sleep(0)  # queued, most not yet sent
    await store.close()
    assert all(w.done() and w.exception() is None for w in writes)
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT count(*) FROM tokens").fetchone() == (300,)
    with pytest.raises(StoreClosed):
        await store.set_admin_token_hash("too late")


def _fill(conn: sqlite3.Connection, rows: int) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS t (x TEXT)")
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO t VALUES (?)", [("x" * 400,)] * rows)
    conn.execute("COMMIT")


def test_checkpoints_run_in_their_own_thread_not_in_the_commits(tmp_path: Path) -> None:
    path = str(tmp_path / "wal.db")
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").close()
    writer = connect(path, "FULL")
    _fill(writer, 2_000)  # ~200 pages: SQLite alone would checkpoint only past 1,000
    size_before = Path(path).stat().st_size
    checkpointer = Checkpointer(path, "FULL")
    try:
        for _ in range(100):  # bounded: 5 s at most
            if checkpointer.checkpoints and Path(path).stat().st_size > size_before + 500_000:
                break
            time.sleep(0.05)
        assert Path(path).stat().st_size > size_before + 500_000  # the rows reached the file
        assert checkpointer.wal_frames >= 100
    finally:
        checkpointer.stop()
        writer.close()


def test_under_sustained_writes_the_wal_stays_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_process, "WAL_RESTART_BYTES", 300 * 4096)  # 300 pages here
    monkeypatch.setattr(writer_process, "CHECKPOINT_EVERY", 0.005)
    path = str(tmp_path / "wal.db")
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").close()
    writer = connect(path, "NORMAL")
    checkpointer = Checkpointer(path, "NORMAL")
    largest = 0
    try:
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints < 40 and time.monotonic() < deadline:
            _fill(writer, 20)  # with no pause: a passive checkpoint never catches up
            checkpointer.after_commit(writer)
            largest = max(largest, Path(path + "-wal").stat().st_size)
    finally:
        checkpointer.stop()
        writer.close()
    assert checkpointer.checkpoints >= 40
    assert largest < 20_000_000  # without the restarts: about 100 MB here


async def test_with_its_writer_gone_the_api_answers_503_and_still_reads(api: Api) -> None:
    sent = await api.json("POST", "/api/messages", json=early_warning(), status=201)
    await api.token("hun-1")
    os.kill(api.app[tracker_key].store._commits.pid, signal.SIGKILL)
    for _ in range(50):  # the first writes may go out before the death is noticed
        response = await api.call("POST", f"/api/messages/{sent['id']}/ack", as_="hun-1")
        if response.status != 200:
            break
    body = await response.json()
    assert response.status == 503, body
    assert body["error"]["code"] == "store_closed"
    message = await api.json("GET", f"/api/messages/{sent['id']}")
    assert message["id"] == sent["id"]


def _fail_batch(conn: sqlite3.Connection, items: list[str]) -> list[None]:
    raise sqlite3.OperationalError("this batch always fails")


def test_requests_waiting_together_share_one_transaction_and_a_bad_one_fails_alone(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "w.db")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    left, right = socket.socketpair()
    with left, right:
        for request in (
            [(batches.set_meta, [("a", "1")])],
            [(_fail_batch, ["x"])],
            [(batches.set_meta, [("b", "2"), ("c", "3")])],
        ):
            left.sendall(frame(request))
        inbox = writer_process.Inbox(right)
        requests = inbox.take()  # all three were waiting: taken at once
        assert requests is not None and len(requests) == 3
        conn = connect(path, "FULL")
        try:
            replies = writer_process.commit_all(conn, requests)
        finally:
            conn.close()
        left.close()
        assert inbox.take() is None  # the end of input
    assert [kind for kind, _ in replies] == ["ok", "error", "ok"]
    assert replies[2] == ("ok", [[None, None]])
    with sqlite3.connect(path) as db:
        assert dict(db.execute("SELECT key, value FROM meta")) == {"a": "1", "b": "2", "c": "3"}


def test_an_outbox_burst_s_outcomes_cross_to_the_writer_whole() -> None:
    """Attempts are framed as their fields (ians/store/writer.py): each comes back equal."""
    at = datetime(2026, 12, 3, tzinfo=UTC)
    attempts = [
        Attempt(1, 1, at, True, "204 No Content"),
        Attempt(2, 3, at, False, "503: busy", False, at + timedelta(minutes=1)),
        Attempt(3, 1, at, False, "410 Gone", True, None, True),
    ]
    assert pickle.loads(bytes(frame(attempts)[8:])) == attempts


def test_a_request_split_across_reads_is_taken_whole(tmp_path: Path) -> None:
    data = frame([(batches.set_meta, [("a", "1")])])
    left, right = socket.socketpair()
    with left, right:
        left.sendall(data[:5])
        inbox = writer_process.Inbox(right)
        threading.Timer(0.05, left.sendall, (data[5:],)).start()
        requests = inbox.take()
    assert requests == [[(batches.set_meta, [("a", "1")])]]


async def test_a_new_database_has_small_pages_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:
        db.execute("CREATE TABLE t (x)")  # made with SQLite's default page size
    for path, expected in ((tmp_path / "new.db", PAGE_SIZE), (old, 4096)):
        store = await SqliteStore.open(path)
        await store.close()
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA page_size").fetchone() == (expected,)


def test_merged_requests_get_their_own_results_back(tmp_path: Path) -> None:
    path = str(tmp_path / "m.db")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("CREATE TABLE tokens (poc TEXT PRIMARY KEY, token_hash TEXT, issued_at INT)")
    conn = connect(path, "NORMAL")
    try:
        replies = writer_process.commit_all(
            conn,
            [
                [(batches.set_meta, [("a", "1")]), (batches.set_token, [("hun-1", "h", 1)])],
                [(batches.set_meta, [("b", "2"), ("c", "3")])],
            ],
        )
    finally:
        conn.close()
    assert replies == [("ok", [[None], [None]]), ("ok", [[None, None]])]


@pytest.mark.skipif(not hasattr(os, "sched_getscheduler"), reason="Linux scheduling policies")
def test_the_writer_does_not_preempt_the_server_it_is_woken_by(store: SqliteStore) -> None:
    assert os.sched_getscheduler(store._commits.pid) == os.SCHED_BATCH


async def test_a_burst_goes_to_the_writer_in_parts_without_waiting_for_the_turn_to_end(
    store: SqliteStore,
) -> None:
    commits = store._commits
    before = commits.transactions
    burst = [
        commits.submit(batches.set_token, (f"poc-{i}", f"hash-{i}", 1))
        for i in range(2 * SEND_AT + 5)
    ]
    # the same turn of the loop: each SEND_AT of the burst went as a request of its own,
    # so the writer could start on them
    assert commits.transactions == before + 2
    await asyncio.gather(*burst)
    assert commits.transactions == before + 3  # the last 5 at the end of the turn
    assert len(await store.poc_token_hashes()) == 2 * SEND_AT + 5


async def test_a_lone_write_goes_at_the_end_of_its_turn_with_any_others(
    store: SqliteStore,
) -> None:
    commits = store._commits
    before = commits.transactions
    writes = [commits.submit(batches.set_meta, ("a", "1"))]
    writes.append(commits.submit(batches.set_meta, ("b", "2")))  # the writer was idle
    assert commits.transactions == before
    await asyncio.sleep(0)
    assert commits.transactions == before + 1  # both in one request, one transaction
    await asyncio.gather(*writes)


async def test_the_chases_next_steps_have_no_index_new_or_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = await SqliteStore.open(path)
    await store.close()
    with sqlite3.connect(path) as db:  # as version 11 left it
        db.execute("CREATE INDEX chases_due ON chases (next_due_at) WHERE next_due_at IS NOT NULL")
        db.execute("PRAGMA user_version = 11")
    store = await SqliteStore.open(path)
    await store.close()
    with sqlite3.connect(path) as db:
        assert (
            db.execute("SELECT name FROM sqlite_master WHERE name = 'chases_due'").fetchall() == []
        )
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT next_due_at, id FROM chases WHERE next_due_at IS NOT NULL"
        ).fetchall()
    assert "SCAN chases" in plan[0][3]  # the one read of them, at the start: a scan

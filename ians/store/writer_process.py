"""The store's writer process: one SQLite connection that runs the requests the server's
GroupCommit sends it and answers each after its commit. Whenever it is idle it takes
every request waiting in its socket and runs them as one transaction: one commit (one
fsync) for all the writes that arrived during the previous one. If that transaction
fails, each request is run again alone, so that one bad request fails only its callers.

WAL checkpoints (copying committed pages from the WAL into the database file) run in a
thread of their own, every CHECKPOINT_EVERY seconds, instead of inside the commit that
crosses SQLite's threshold: that commit, and every acknowledgement waiting on it, used
to stall for the whole copy (measured: rounds at 0.55 of the ack ceiling next to rounds
at 0.75; with checkpoints aside, every round at 0.71 or more). Under sustained writes a
passive checkpoint never catches the last commit, so the WAL would only grow; once it
holds WAL_RESTART_BYTES the writer itself finishes the checkpoint and starts the
WAL over, between two transactions, when little is left to copy.

Started by `GroupCommit.start`, never by hand:
    python -m ians.store.writer_process FD DATABASE SYNCHRONOUS
FD is its end of a socket pair. It stops at the end of its input, that is when the
server closes the store or dies (even by kill -9); a transaction that was running then
commits or rolls back whole, as SQLite guarantees.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import socket
import sqlite3
import sys
import threading
from typing import Any

from ians.errors import IansError
from ians.store.writer import HEADER_SIZE, Batch, Reply, Request, frame, unframe_size

CHECKPOINT_EVERY = 0.1  # seconds; a checkpoint with nothing to copy costs next to nothing
WAL_RESTART_BYTES = 40 << 20  # 40 MiB: 40,960 of the 1 KiB pages of a database made by IANS


def main(argv: list[str]) -> int:
    for stop in (signal.SIGINT, signal.SIGTERM):  # the server's to handle: it closes the store,
        signal.signal(stop, signal.SIG_IGN)  # and this process ends with its input
    fd, path, synchronous = int(argv[0]), argv[1], argv[2]
    _no_wakeup_preemption()
    with socket.socket(fileno=fd) as channel:
        try:
            conn = connect(path, synchronous)
        except Exception as exc:
            _send_one(channel, ("error", exc))
            return 1
        checkpointer = Checkpointer(path, synchronous)
        try:
            if not _send_one(channel, ("ready", None)):
                return 0
            inbox = Inbox(channel)
            while (requests := inbox.take()) is not None:
                if not _send(channel, commit_all(conn, requests)):
                    return 0
                checkpointer.after_commit(conn)
        finally:
            checkpointer.stop()
            conn.close()
    return 0


def _no_wakeup_preemption() -> None:
    """SCHED_BATCH (Linux): a request that wakes this process does not preempt the server
    that sent it. A socket write wakes the reader on the writer's own core, and there this
    process ran its whole transaction while the event loop waited: 10% of the server's
    sends to it took 1.8 ms or more under load, 0.3 ms with this (bench/README.md)."""
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_BATCH"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


STATEMENTS_CACHED = 1024
"""Prepared statements the write connection keeps. A batch's SQL has as many placeholders
as it has items, so each batch size is a statement of its own; re-preparing the ack
SELECT cost 0.2-0.4 ms a batch (32-256 acks), more than running it. sqlite3 keeps 128."""


def connect(path: str, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, cached_statements=STATEMENTS_CACHED)
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer's work
    conn.execute(f"PRAGMA journal_size_limit={WAL_RESTART_BYTES}")
    return conn


class Checkpointer:
    """Checkpoints the WAL from its own connection and thread (PASSIVE: never blocks
    the writer, and the writer starts the WAL over once all of it has been copied)."""

    def __init__(self, path: str, synchronous: str) -> None:
        self.wal_frames = 0  # as the last checkpoint found it
        self.checkpoints = 0
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute(f"PRAGMA synchronous={synchronous}")
        (page_size,) = self._conn.execute("PRAGMA page_size").fetchone()
        self.restart_frames = WAL_RESTART_BYTES // page_size
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ians-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
        self._conn.close()

    def after_commit(self, writer: sqlite3.Connection) -> None:
        """Once the WAL holds WAL_RESTART_BYTES of pages, finish the checkpoint on the
        writer's connection and start the WAL over (waits for readers of the old WAL up
        to the busy timeout; tried again after the next commit if they stay)."""
        if self.wal_frames >= self.restart_frames:
            _, frames, _ = writer.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            self.wal_frames = max(frames, 0)

    def _run(self) -> None:
        while not self._stopping.wait(CHECKPOINT_EVERY):
            try:
                _, frames, _ = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                self.wal_frames = max(frames, 0)
                self.checkpoints += 1
            except sqlite3.Error as exc:  # tried again next time; the WAL keeps every commit
                print(f"ians writer process: WAL checkpoint failed: {exc}", file=sys.stderr)


def commit_all(conn: sqlite3.Connection, requests: list[Request]) -> list[Reply]:
    """Run the requests as one transaction, the items of each batch of all of them in
    one call; if it fails, each request alone. (Requests that wait together were sent
    concurrently, so any order of them is one the callers could have seen.)"""
    if len(requests) > 1:
        merged: dict[Batch, list[Any]] = {}
        for request in requests:
            for batch, items in request:
                merged.setdefault(batch, []).extend(items)
        kind, results = commit(conn, list(merged.items()))
        if kind == "ok":
            outcomes = {batch: iter(r) for batch, r in zip(merged, results, strict=True)}
            return [
                ("ok", [[next(outcomes[batch]) for _ in items] for batch, items in request])
                for request in requests
            ]
    return [commit(conn, request) for request in requests]


def commit(conn: sqlite3.Connection, request: Request) -> Reply:
    """Run every batch of the request in one transaction: all of it commits, or none."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        results = [batch(conn, items) for batch, items in request]
        conn.execute("COMMIT")
    except Exception as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return "error", exc
    return "ok", results


class Inbox:
    """The requests arriving on the socket, framed by writer.frame."""

    def __init__(self, channel: socket.socket) -> None:
        self._channel = channel
        self._buffer = bytearray()
        self._ended = False

    def take(self) -> list[Request] | None:
        """Every request already here, waiting for the first one; None at the end of input."""
        while not self._complete():
            if self._ended or not self._recv(wait=True):
                return None
        while self._recv(wait=False):  # what else has arrived, without waiting for more
            pass
        requests: list[Request] = []
        while self._complete():
            size = unframe_size(self._buffer[:HEADER_SIZE])
            end = HEADER_SIZE + size
            requests.append(pickle.loads(self._buffer[HEADER_SIZE:end]))
            del self._buffer[:end]
        return requests

    def _complete(self) -> bool:
        if len(self._buffer) < HEADER_SIZE:
            return False
        return len(self._buffer) >= HEADER_SIZE + unframe_size(self._buffer[:HEADER_SIZE])

    def _recv(self, *, wait: bool) -> bool:
        """Read what the socket holds (blocking for some if `wait`); False if nothing came."""
        try:
            chunk = self._channel.recv(1 << 20, 0 if wait else socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        if not chunk:
            self._ended = True
            return False
        self._buffer += chunk
        return True


def _send(channel: socket.socket, replies: list[Reply]) -> bool:
    try:
        data = frame(replies)
    except Exception:  # an unpicklable error: send what it said
        data = frame([_picklable(reply) for reply in replies])
    try:
        channel.sendall(data)
    except OSError:  # the server has gone
        return False
    return True


def _send_one(channel: socket.socket, reply: Reply) -> bool:
    try:
        channel.sendall(frame(_picklable(reply)))
    except OSError:
        return False
    return True


def _picklable(reply: Reply) -> Reply:
    try:
        frame(reply)
    except Exception as exc:
        return "error", IansError(f"{type(exc).__name__} in the store: {reply[1]!r}")
    return reply


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

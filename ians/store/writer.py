"""Group commit in a writer process: the store's one write connection lives in a child
process, which commits whatever is waiting in one transaction.

Why a process: SQLite's share of a write (B-tree pages, WAL frames, fsync) costs more
CPU than the rest of an acknowledgement. In a thread of the server it competes with the
event loop for the GIL: every statement hands the GIL back and forth, the loop stalls
and commits wait on it (bench/README.md has the measurements). In a child process it
runs on another core; the loop only pickles the items and reads the results.

There is no waiting window, and no limit of transactions in flight: the writes queued
during one turn of the event loop go to the child at the end of that turn as one
request (or as soon as SEND_AT of them are queued), and the child, once idle, runs
every request waiting in its socket as one transaction. So at rest a write commits at
once, and under load the writes that arrived during one commit share the next one (one
fsync). Each caller is answered only after the transaction that holds its write has
committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copyreg
import io
import logging
import os
import pickle
import socket
import sqlite3
import struct
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import ians
from ians.domain.chase import Chase, Event
from ians.domain.outbox import Attempt
from ians.errors import IansError
from ians.store.base import AckResult, Fired

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0  # seconds for the writer process to open the database

SEND_AT = 32
"""Queued writes that go to the writer process at once, not at the end of the loop's
turn: a turn that reads a burst of acknowledgements runs all their handlers before any
commit could start, so the writer idled, then the loop waited on it (bench/README.md:
32 was the best of 8 to 48; bigger parts cost the writer less CPU an ack)."""

Batch = Callable[[sqlite3.Connection, list[Any]], list[Any]]
"""Writes a batch of items inside the open transaction; one result (or IansError) per
item. A module-level function (ians/store/batches.py): it is pickled by name."""

Request = list[tuple[Batch, list[Any]]]
"""One transaction: each batch with its items."""

Reply = tuple[str, Any]
"""("ready", None) once the child is up; then, per request, ("ok", [results per batch])
or ("error", the exception that rolled its transaction back)."""

Queued = tuple[Batch, Any, "asyncio.Future[Any]"]
"""A write waiting for its commit: its batch, its item, its caller's future."""

_HEADER = struct.Struct("!Q")


def _read_only(items: dict[str, object]) -> MappingProxyType[str, object]:
    return MappingProxyType(items)


_DISPATCH = {
    **copyreg.dispatch_table,
    MappingProxyType: lambda m: (_read_only, (dict(m),)),  # as an Event's empty detail
    # the results of acks and timers, as their fields: a dataclass with slots otherwise
    # pickles through Python-level __getstate__/__setstate__ (~3 us an ack, both ends)
    AckResult: lambda r: (AckResult, (r.acknowledged_at, r.repeated, r.chase)),
    Fired: lambda f: (Fired, (f.chase, f.events)),
    # named tuples as their fields, without copyreg's __reduce_ex__ (~0.4 us each)
    Chase: lambda c: (Chase, tuple(c)),
    Event: lambda e: (Event, tuple(e)),
    Attempt: lambda a: (Attempt, tuple(a)),  # the outbox's outcomes, a thousand a write
}


class StoreClosed(IansError):
    status = 503
    code = "store_closed"


def frame(value: object) -> bytes:
    """`value` pickled, behind its length."""
    buffer = io.BytesIO()
    buffer.write(_HEADER.pack(0))
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(value)
    data = buffer.getbuffer()
    _HEADER.pack_into(data, 0, len(data) - _HEADER.size)
    return bytes(data)


def unframe_size(header: bytes | bytearray) -> int:
    return int(_HEADER.unpack(header)[0])


HEADER_SIZE = _HEADER.size


class GroupCommit:
    """Queues writes, sends them to the writer process as requests, answers each."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self._process = process
        self._reader = reader
        self._writer = writer
        self._queue: list[Queued] = []
        self._in_flight: deque[list[Queued]] = deque()  # requests sent, in order
        self._answered = asyncio.Event()  # set whenever nothing is in flight
        self._answered.set()
        self._flush_due = False
        self._closing = False
        self._broken: StoreClosed | None = None
        self.transactions = 0  # requests sent to the writer process: for benchmarks and logs
        self.writes = 0
        self._replies = asyncio.create_task(self._read_replies(), name="ians-store-replies")

    @classmethod
    async def start(cls, path: Path | str, synchronous: str) -> GroupCommit:
        """Start the writer process on the database at `path` (already migrated).

        Raises IansError if the process cannot open it.
        """
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                *_child_command(theirs.fileno(), path, synchronous),
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                cwd=_package_root(),  # `-m` imports this same ians
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        try:
            kind, payload = await asyncio.wait_for(_receive(reader), START_TIMEOUT)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            kind, payload = "error", IansError("the store's writer process did not start")
        if kind != "ready":
            writer.close()
            await _reap(process)
            raise payload if isinstance(payload, Exception) else IansError(str(payload))
        return cls(process, reader, writer)

    @property
    def pid(self) -> int:
        """The writer process's id."""
        return int(self._process.pid)

    def submit(self, batch: Batch, item: Any) -> asyncio.Future[Any]:
        """Queue a write; the future is its result once committed (or its error).

        Raises StoreClosed once the store is closing or its writer has gone.
        """
        if self._broken is not None:
            raise self._broken
        if self._closing:
            raise StoreClosed("the store is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((batch, item, future))
        if len(self._queue) >= SEND_AT:  # enough for the writer to start on
            self._flush()
        elif not self._flush_due:  # else at the turn's end, even to an idle writer: sent at
            # once, a turn's first write was a transaction alone (~250 us of writer CPU)
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self._flush)
        return future

    async def close(self) -> None:
        """Commit what is queued, then stop the writer process."""
        self._closing = True
        self._flush()
        await self._answered.wait()  # every request sent has been answered
        self._writer.close()  # the child reads the end of its input and exits
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
        await self._replies
        await _reap(self._process)

    def _flush(self) -> None:
        """Send what was queued during this turn of the loop as one request."""
        self._flush_due = False
        queued, self._queue = self._queue, []
        if not queued:
            return
        if self._broken is not None:
            self._fail(queued)
            return
        try:
            data = frame(_grouped(queued))
        except Exception as exc:  # an item that cannot be pickled: a bug, told to its caller
            if len(queued) > 1:  # alone, so that the other writes still go
                for one in queued:
                    self._queue = [one]
                    self._flush()
                return
            log.exception("a write could not be sent to the writer process")
            queued[0][2].set_exception(exc)
            return
        self._in_flight.append(queued)
        self._answered.clear()
        self.transactions += 1
        self.writes += len(queued)
        with contextlib.suppress(ConnectionError):  # the child is gone: the reply reader
            self._writer.write(data)  # tells every caller

    async def _read_replies(self) -> None:
        while True:
            try:
                replies: list[Reply] = await _receive(self._reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                with contextlib.suppress(TimeoutError):  # for its exit code
                    await asyncio.wait_for(self._process.wait(), 1.0)
                self._stop_answering()
                return
            for kind, payload in replies:
                self._answer(self._in_flight.popleft(), kind, payload)
            if not self._in_flight:
                self._answered.set()

    def _answer(self, queued: list[Queued], kind: str, payload: Any) -> None:
        if kind == "error":
            error = payload if isinstance(payload, Exception) else IansError(str(payload))
            for _, _, future in queued:
                if not future.done():
                    future.set_exception(error)
            return
        pairs: Iterable[tuple[asyncio.Future[Any], Any]]
        if len(payload) == 1:  # one kind of write (as a burst of acks): in order
            pairs = zip((future for _, _, future in queued), payload[0], strict=True)
        else:
            outcomes = {batch: iter(results) for batch, results in _by_batch(queued, payload)}
            pairs = ((future, next(outcomes[batch])) for batch, _, future in queued)
        for future, outcome in pairs:
            if future.done():
                continue
            if isinstance(outcome, IansError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _stop_answering(self) -> None:
        """The child has gone (or was told to): fail what it will never answer."""
        code = self._process.returncode
        if self._in_flight or not self._closing:
            log.error("the store's writer process stopped (exit code %s)", code)
        self._broken = StoreClosed(f"the store's writer process stopped (exit code {code})")
        while self._in_flight:
            self._fail(self._in_flight.popleft())
        self._fail(self._queue)
        self._queue = []
        self._answered.set()

    def _fail(self, queued: list[Queued]) -> None:
        error = self._broken or StoreClosed("the store is closed")
        for _, _, future in queued:
            if not future.done():
                future.set_exception(error)


def _grouped(queued: list[Queued]) -> Request:
    groups: dict[Batch, list[Any]] = {}
    for batch, item, _ in queued:
        groups.setdefault(batch, []).append(item)
    return list(groups.items())


def _by_batch(queued: list[Queued], results: list[list[Any]]) -> list[tuple[Batch, list[Any]]]:
    order = list(dict.fromkeys(batch for batch, _, _ in queued))  # as the request grouped them
    return list(zip(order, results, strict=True))


async def _receive(reader: asyncio.StreamReader) -> Any:
    """The next frame: the ready reply, then a list of replies (one per request)."""
    size = unframe_size(await reader.readexactly(HEADER_SIZE))
    return pickle.loads(await reader.readexactly(size))


async def _reap(process: asyncio.subprocess.Process) -> None:
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        process.kill()
        await process.wait()


def _child_command(fd: int, path: Path | str, synchronous: str) -> list[str]:
    module = "ians.store.writer_process"
    return [sys.executable, "-m", module, str(fd), os.path.abspath(path), synchronous]


def _package_root() -> str:
    return str(Path(ians.__file__).resolve().parent.parent)

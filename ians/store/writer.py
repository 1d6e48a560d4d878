"""Group commit in a writer process: the store's one write connection lives in a child
process, which commits whatever is queued in one transaction.

Why a process: SQLite's share of a write (B-tree pages, WAL frames, fsync) costs more
CPU than the rest of an acknowledgement. In a thread of the server it competes with the
event loop for the GIL: every statement hands the GIL back and forth, the loop stalls
and commits wait on it (bench/README.md has the measurements). In a child process it
runs on another core; the loop only pickles the items and reads the results.

There is no waiting window: what is queued while earlier transactions are in flight
goes into the next one, so under load many writes share one commit (one fsync), and at
rest a write commits at once. Up to DEPTH transactions are in flight: the child runs
them one after another, each reading the state inside its own transaction, so the next
one is already there when one commits. Each caller is answered only after the
transaction that holds its write has committed.
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
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import ians
from ians.errors import IansError

log = logging.getLogger(__name__)

DEPTH = 3
"""Transactions in flight at once (measured: 1 → 0.61–0.67 of the ack ceiling, 3 → 0.64–0.72,
8 → no better; before checkpoints moved out of the commits)."""

START_TIMEOUT = 30.0  # seconds for the writer process to open the database

Batch = Callable[[sqlite3.Connection, list[Any]], list[Any]]
"""Writes a batch of items inside the open transaction; one result (or IansError) per
item. A module-level function (ians/store/batches.py): it is pickled by name."""

Request = list[tuple[Batch, list[Any]]]
"""One transaction: each batch with its items."""

Reply = tuple[str, Any]
"""("ready", None) once the child is up, then per transaction ("ok", [results per batch])
or ("error", the exception that rolled it back)."""

Queued = tuple[Batch, Any, "asyncio.Future[Any]"]
"""A write waiting for its commit: its batch, its item, its caller's future."""

_HEADER = struct.Struct("!Q")


def _read_only(items: dict[str, object]) -> MappingProxyType[str, object]:
    return MappingProxyType(items)


_DISPATCH = {
    **copyreg.dispatch_table,
    MappingProxyType: lambda m: (_read_only, (dict(m),)),  # as an Event's empty detail
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


def unframe_size(header: bytes) -> int:
    return int(_HEADER.unpack(header)[0])


HEADER_SIZE = _HEADER.size


class GroupCommit:
    """Queues writes, sends them to the writer process as transactions, answers each."""

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
        self._in_flight: deque[list[Queued]] = deque()
        self._slots = asyncio.Semaphore(DEPTH)
        self._ready = asyncio.Event()
        self._closing = False
        self._broken: StoreClosed | None = None
        self.transactions = 0  # sent to the writer process: for benchmarks and logs
        self.writes = 0
        self._sender = asyncio.create_task(self._send_queued(), name="ians-store-writer")
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

    async def submit(self, batch: Batch, item: Any) -> Any:
        if self._broken is not None:
            raise self._broken
        if self._closing:
            raise StoreClosed("the store is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((batch, item, future))
        self._ready.set()
        return await future

    async def close(self) -> None:
        """Commit what is queued, then stop the writer process."""
        self._closing = True
        self._ready.set()
        await self._sender
        for _ in range(DEPTH):  # every transaction in flight has been answered
            await self._slots.acquire()
        self._writer.close()  # the child reads the end of its input and exits
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
        await self._replies
        await _reap(self._process)

    async def _send_queued(self) -> None:
        while True:
            if not self._closing:
                await self._ready.wait()
            await self._slots.acquire()  # writes queue up while DEPTH transactions run
            self._ready.clear()
            queued, self._queue = self._queue, []
            if not queued or self._broken is not None:
                self._slots.release()
                self._fail(queued)
                if self._closing or self._broken is not None:
                    return
                continue
            groups: dict[Batch, list[Any]] = {}
            for batch, item, _ in queued:
                groups.setdefault(batch, []).append(item)
            try:
                data = frame(list(groups.items()))
            except Exception as exc:  # an item that cannot be pickled: a bug, told to its callers
                log.exception("a write could not be sent to the writer process")
                self._slots.release()
                for _, _, future in queued:
                    future.set_exception(exc)
                continue
            self._in_flight.append(queued)
            self.transactions += 1
            self.writes += len(queued)
            try:
                self._writer.write(data)
                await self._writer.drain()
            except ConnectionError:
                pass  # the child is gone: the reply reader tells every caller

    async def _read_replies(self) -> None:
        while True:
            try:
                kind, payload = await _receive(self._reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                with contextlib.suppress(TimeoutError):  # for its exit code
                    await asyncio.wait_for(self._process.wait(), 1.0)
                self._stop_answering()
                return
            queued = self._in_flight.popleft()
            self._slots.release()
            if kind == "error":
                error = payload if isinstance(payload, Exception) else IansError(str(payload))
                for _, _, future in queued:
                    if not future.done():
                        future.set_exception(error)
                continue
            outcomes = {batch: iter(results) for batch, results in _by_batch(queued, payload)}
            for batch, _, future in queued:
                outcome = next(outcomes[batch])
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
            self._slots.release()
        self._fail(self._queue)
        self._queue = []
        self._ready.set()

    def _fail(self, queued: list[Queued]) -> None:
        error = self._broken or StoreClosed("the store is closed")
        for _, _, future in queued:
            if not future.done():
                future.set_exception(error)


def _by_batch(queued: list[Queued], results: list[list[Any]]) -> list[tuple[Batch, list[Any]]]:
    order = list(dict.fromkeys(batch for batch, _, _ in queued))  # as the request grouped them
    return list(zip(order, results, strict=True))


async def _receive(reader: asyncio.StreamReader) -> Reply:
    size = unframe_size(await reader.readexactly(HEADER_SIZE))
    reply: Reply = pickle.loads(await reader.readexactly(size))
    return reply


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

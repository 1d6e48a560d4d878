"""Group commit: one writer connection that commits whatever is queued in one transaction.

There is no waiting window: the writer takes everything queued while the previous
transaction ran, so under load many writes share one commit (one fsync), and at
rest a write commits at once. Each caller is answered only after its commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiosqlite

from ians.errors import IansError

T = TypeVar("T")


R = TypeVar("R")


Batch = Callable[[aiosqlite.Connection, list[Any]], Awaitable[list[Any]]]
"""Writes a batch of items inside the open transaction; one result (or IansError) per item."""


class StoreClosed(IansError):
    code = "store_closed"


class GroupCommit:
    """Runs queued batches for the writer connection, committing all that is queued at once."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._queue: list[tuple[Batch, Any, asyncio.Future[Any]]] = []
        self._ready = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="ians-store-writer")

    async def submit(self, batch: Batch, item: Any) -> Any:
        if self._closing:
            raise StoreClosed("the store is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((batch, item, future))
        self._ready.set()
        return await future

    async def close(self) -> None:
        self._closing = True
        self._ready.set()
        await self._task

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            queued, self._queue = self._queue, []
            if queued:
                await self._commit(queued)
            elif self._closing:
                return

    async def _commit(self, queued: list[tuple[Batch, Any, asyncio.Future[Any]]]) -> None:
        groups: dict[Batch, list[int]] = {}
        for i, (batch, _, _) in enumerate(queued):
            groups.setdefault(batch, []).append(i)
        results: list[Any] = [None] * len(queued)
        try:
            await self._conn.execute("BEGIN IMMEDIATE")
            for batch, indexes in groups.items():
                outcomes = await batch(self._conn, [queued[i][1] for i in indexes])
                for i, outcome in zip(indexes, outcomes, strict=True):
                    results[i] = outcome
            await self._conn.execute("COMMIT")
        except BaseException as exc:  # the whole transaction failed: tell every caller
            if self._conn.in_transaction:
                await self._conn.execute("ROLLBACK")
            for _, _, future in queued:
                if not future.done():
                    future.set_exception(
                        exc if isinstance(exc, Exception) else StoreClosed("the store stopped")
                    )
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, future), outcome in zip(queued, results, strict=True):
            if future.done():
                continue
            if isinstance(outcome, IansError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

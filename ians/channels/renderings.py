"""What a channel renders once per message for all its notices of a burst.

A warning to a thousand PoCs is a thousand notices of one message: the first notice to ask
renders it, the others await the same task. The latest renderings are kept; a failed one
is rendered again when next asked for.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from ians.domain.outbox import OutboxNotice

T = TypeVar("T")

KEPT = 64  # messages kept rendered: a burst is of a few


class Renderings(Generic[T]):
    """`render(message_id, reminder)` once per (message, reminder or not), shared."""

    def __init__(self, render: Callable[[str, bool], Awaitable[T]], kept: int = KEPT) -> None:
        self._render = render
        self._kept = kept
        self._tasks: OrderedDict[tuple[str, bool], asyncio.Task[T]] = OrderedDict()

    async def of(self, notice: OutboxNotice) -> T:
        key = (notice.message_id, notice.kind == "reminder")
        task = self._tasks.get(key)
        if task is None or (task.done() and task.exception() is not None):
            task = asyncio.ensure_future(self._render(*key))
            self._tasks[key] = task
            if len(self._tasks) > self._kept:
                self._tasks.popitem(last=False)
        else:
            self._tasks.move_to_end(key)
            if task.done():  # as for all but the first notices of a burst: no await
                return task.result()
        return await asyncio.shield(task)

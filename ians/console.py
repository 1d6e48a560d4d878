"""The console's lines of chase steps: one INFO line per step at the pace people work,
a count instead of a flood.

`ians serve` logs every reminder, escalation, give-up and acknowledgement on one line.
In a drill that is a few lines a minute. A burst (thousands of acknowledgements a
second, as in bench/ack_throughput.py) would print thousands of lines a second that
nobody reads, and each line costs the server more than a tenth of the acknowledgement
itself (record, format, a write to the console). So up to `per_second` lines are
printed in any second; beyond that, the steps of that second are counted, and one line
at its end says how many of each kind were not listed. Every step is in its message's
events (`GET /api/messages/{id}/events`) whatever the console shows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable

LINES_PER_SECOND = 20
WINDOW = 1.0  # seconds


class StepLog:
    """A logger's INFO lines, at most `per_second` a second; the rest counted by kind.

    `monotonic` is the pace of the console (seconds), not the chase's clock: a burst
    is a burst of lines, whatever time the chases are in.
    """

    def __init__(
        self,
        logger: logging.Logger,
        per_second: int = LINES_PER_SECOND,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._per_second = per_second
        self._monotonic = monotonic
        self._window_end = float("-inf")
        self._lines = 0  # printed in this window
        self._held: Counter[str] = Counter()  # not printed in this window, by kind
        self._summary: asyncio.TimerHandle | None = None

    def info(self, kind: str, text: str, *args: object) -> None:
        """Log `text % args` at INFO, or count it under `kind` when over the pace."""
        if self._summary is not None:  # over the pace, until the window's end: count
            self._held[kind] += 1
            return
        if not self._logger.isEnabledFor(logging.INFO):
            return
        now = self._monotonic()
        if now >= self._window_end:
            self.flush()
            self._window_end = now + WINDOW
            self._lines = 0
        if self._lines < self._per_second:
            self._lines += 1
            self._logger.info(text, *args)
            return
        self._held[kind] += 1
        if self._summary is None:
            self._summary = _later(self._window_end - now, self.flush)

    def flush(self) -> None:
        """Log the count of the steps held back so far, if any (at the window's end)."""
        if self._summary is not None:
            self._summary.cancel()
            self._summary = None
        if not self._held:
            return
        counts = ", ".join(f"{n:,} {kind}" for kind, n in self._held.most_common())
        self._held.clear()
        self._logger.info(
            "chase steps not listed one by one (over %d lines in %g s): %s;"
            " each is in its message's events",
            self._per_second,
            WINDOW,
            counts,
        )


def _later(delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle | None:
    """`callback` after `delay` seconds on the running loop; None outside one (then the
    next line, or `flush`, logs the count)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop.call_later(max(delay, 0.0), callback)

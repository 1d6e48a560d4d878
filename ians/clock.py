"""Clocks: every "now" in IANS comes from one of these.

The tracking code asks its clock for the time and for how long to wait until an
instant, so the same code runs on wall-clock time and, in tests, on a manual clock
that only moves when told. An exercise run N times faster keeps the server's clock
and maps its times to scenario time (`Exercise.scenario_time`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time on this clock, an aware UTC datetime."""

    def seconds_until(self, at: datetime) -> float:
        """Real seconds from now until this clock shows `at` (negative when past)."""


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def seconds_until(self, at: datetime) -> float:
        return (at - self.now()).total_seconds()


class ManualClock:
    """A clock that moves only when told: for tests and virtual time."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def seconds_until(self, at: datetime) -> float:
        return (at - self._now).total_seconds()

    def advance(self, by: timedelta) -> datetime:
        self._now += by
        return self._now

    def set(self, at: datetime) -> None:
        self._now = at

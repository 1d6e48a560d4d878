"""Clocks: every "now" in IANS comes from one of these.

The tracking code asks its clock for the time and for how long to wait until an
instant, so the same code runs on wall-clock time, on scaled time (an exercise
N times faster) and, in tests, on a manual clock that only moves when told.
"""

from __future__ import annotations

import time
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


class ScaledClock:
    """Scenario time that runs `speed` times faster than the wall clock from `start`."""

    def __init__(self, start: datetime, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start
        self.speed = speed
        self._wall_start = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._wall_start) * self.speed)

    def seconds_until(self, at: datetime) -> float:
        return (at - self.now()).total_seconds() / self.speed


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

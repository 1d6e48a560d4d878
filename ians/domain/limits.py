"""The limits on what a user may give IANS, each with the words that name it.

Every limit is generous for real use (the bundled scenarios are far below each) and
keeps a hostile or mistaken input from holding the server: files are read within a
size, depth, alias and time budget, scenarios have a bounded number of injects, and
times and speeds stay where date arithmetic cannot overflow. README lists them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MAX_FILE_BYTES = 1024 * 1024
"""A contacts or scenario file, or a scenario given to the API as text."""
MAX_DEPTH = 32
"""Mappings and lists nested in each other (a scenario needs about 7)."""
MAX_ALIASES = 500
"""YAML aliases (`*name`), merge keys (`<<: *name`) included."""
MAX_VALUES = 50_000
"""Values in a document once every alias is expanded (billion laughs stop here)."""
PARSE_SECONDS = 10.0
"""Reading and checking one scenario, off the event loop."""
MAX_INJECTS = 500
"""Injects in one drill."""
MAX_DURATION = timedelta(days=3650)
"""Any duration: an inject's `at`, a policy's steps, a consultation's deadline."""
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Times (exercise starts, content times, deadlines) lie in [EARLIEST, LATEST)."""
MIN_SPEED, MAX_SPEED = 0.01, 100_000.0
"""How much faster than real time a real-clock exercise may run."""


def time_problem(value: datetime) -> str | None:
    """Why `value` (an aware time) is outside the range IANS accepts; None if it is inside."""
    if EARLIEST <= value < LATEST:
        return None
    return (
        f"{value.isoformat()} is outside the times IANS accepts:"
        f" from {EARLIEST.year} up to {LATEST.year} (UTC)"
    )


def speed_problem(speed: float) -> str | None:
    """Why `speed` is not an allowed exercise speed; None if it is allowed."""
    if MIN_SPEED <= speed <= MAX_SPEED:
        return None
    return f"{speed:g} is not an allowed speed: use {MIN_SPEED:g} to {MAX_SPEED:g}"

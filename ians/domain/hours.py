"""Office hours of a point of contact, in its country's local (wall-clock) time."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NUMBERS = {n.lower(): i for i, n in enumerate(_DAYS)} | {
    n: i for i, n in enumerate(_FULL_NAMES)
}
_WINDOW = re.compile(
    r"(?:(?P<first>[a-z]+)(?:\s*-\s*(?P<last>[a-z]+))?\s+)?"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})",
    re.IGNORECASE,
)
_DAY_MINUTES = 24 * 60
_EXAMPLE = "use '24/7' or windows such as 'Mon-Fri 08:00-16:00, Sat 09:00-12:00'"
_SCAN_STEP = timedelta(hours=6)  # no zone changes its offset twice within 6 hours


@dataclass(frozen=True)
class Window:
    """Open from `start` to `end` (minutes after local midnight, end exclusive, up to 1440)
    on every day from `first_day` to `last_day` (0 = Monday; the range may wrap past Sunday)."""

    first_day: int
    last_day: int
    start: int
    end: int

    @property
    def days(self) -> tuple[int, ...]:
        """The weekdays this window applies to, from `first_day` on."""
        return tuple(
            (self.first_day + i) % 7 for i in range((self.last_day - self.first_day) % 7 + 1)
        )

    def __str__(self) -> str:
        first, last = _DAYS[self.first_day], _DAYS[self.last_day]
        days = first if first == last else f"{first}-{last}"
        return f"{days} {_clock(self.start)}-{_clock(self.end)}"


@dataclass(frozen=True)
class OfficeHours:
    """When a point of contact works, as weekly windows of local time; see `parse`."""

    windows: tuple[Window, ...]
    _by_day: tuple[tuple[tuple[int, int], ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_day = tuple(
            tuple(sorted((w.start, w.end) for w in self.windows if day in w.days))
            for day in range(7)
        )
        object.__setattr__(self, "_by_day", by_day)  # frozen: a cache set once

    @classmethod
    def parse(cls, text: str) -> OfficeHours:
        """Read `24/7` or comma-separated windows such as `Mon-Thu 08:00-16:30, Fri 08:00-14:00`.

        A window without days applies every day; day ranges may wrap (`Sat-Sun`, `Fri-Mon`);
        `24:00` may end a window. Hours covering the whole week are the same as `24/7`.
        Raises ValueError saying what is wrong with the text.
        """
        if not isinstance(text, str):
            raise ValueError(f"office hours must be text: {_EXAMPLE}")
        if "".join(text.split()) == "24/7":
            return ALWAYS
        parts = [p.strip() for p in text.split(",")]
        if not any(parts):
            raise ValueError(f"office hours are empty: {_EXAMPLE}")
        hours = cls(tuple(_parse_window(part) for part in parts))
        return ALWAYS if hours.always else hours

    @property
    def always(self) -> bool:
        """True if open at every moment of the week (`24/7`)."""
        return all(_covers_day(intervals) for intervals in self._by_day)

    def is_open(self, at: datetime, tz: ZoneInfo) -> bool:
        """True if the aware instant `at` falls within a window, read as local time in `tz`.

        Raises ValueError if `at` is naive.
        """
        local = _aware(at).astimezone(tz)
        second = local.hour * 3600 + local.minute * 60 + local.second
        return any(start * 60 <= second < end * 60 for start, end in self._by_day[local.weekday()])

    def next_opening(self, at: datetime, tz: ZoneInfo) -> datetime:
        """`at` itself if open then, else the first later instant (aware, UTC) when it is open.

        Windows are wall-clock times in `tz` on both sides of a DST change; a start that does
        not exist (in a spring-forward gap) opens at the first valid instant after it, and
        an ambiguous one (fall back) at its first occurrence still ahead. Raises ValueError
        if `at` is naive.
        """
        if self is ALWAYS or self.is_open(at, tz):
            return at
        after = at.astimezone(UTC)
        first_day = after.astimezone(tz).date()
        opening = None
        for offset in range(15):  # two weeks: a window lost in a DST gap recurs a week on
            day = first_day + timedelta(days=offset)
            starts = sorted(
                i for s, _ in self._by_day[day.weekday()] for i in _instants(day, s, tz)
            )
            opening = next((i for i in starts if i > after and self.is_open(i, tz)), None)
            if opening is not None:
                break  # later days' wall times are later instants
        if opening is None:
            raise ValueError(f"{self} never opens in {tz.key}")  # only if every start is skipped
        # a fall-back change can reopen a window without any window starting then
        reopening = [t for t in _offset_changes(tz, after, opening) if self.is_open(t, tz)]
        return reopening[0] if reopening else opening

    def __str__(self) -> str:
        return "24/7" if self.always else ", ".join(str(w) for w in self.windows)


def _parse_window(part: str) -> Window:
    match = _WINDOW.fullmatch(part)
    if match is None:
        raise ValueError(f"{part!r} is not an office-hours window: {_EXAMPLE}")
    first = _day(match["first"]) if match["first"] else 0
    last = _day(match["last"]) if match["last"] else (first if match["first"] else 6)
    start, end = _minutes(match["start"]), _minutes(match["end"])
    if start >= end:
        raise ValueError(
            f"{part!r} ends before it starts: split hours across midnight,"
            " e.g. 'Fri 22:00-24:00, Sat 00:00-06:00'"
        )
    return Window(first, last, start, end)


def _day(name: str) -> int:
    try:
        return _DAY_NUMBERS[name.lower()]
    except KeyError:
        raise ValueError(
            f"{name!r} is not a day: use Mon, Tue, Wed, Thu, Fri, Sat or Sun"
        ) from None


def _minutes(clock: str) -> int:
    hours, minutes = (int(n) for n in clock.split(":"))
    if minutes > 59 or hours * 60 + minutes > _DAY_MINUTES:
        raise ValueError(f"{clock!r} is not a time of day: use HH:MM from 00:00 to 24:00")
    return hours * 60 + minutes


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _covers_day(intervals: tuple[tuple[int, int], ...]) -> bool:
    reached = 0
    for start, end in intervals:  # sorted by start
        if start > reached:
            return False
        reached = max(reached, end)
    return reached >= _DAY_MINUTES


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at.isoformat()} has no time zone: office hours need an aware time")
    return at


def _instants(day: date, minute: int, tz: ZoneInfo) -> set[datetime]:
    """The UTC instants at which the local wall time `day` + `minute` happens in `tz`:
    one, two during a fall-back repeat, or the end of the gap if it is skipped."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    found: set[datetime] = set()
    for fold in (0, 1):
        instant = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if instant.astimezone(tz).replace(tzinfo=None) == wall:
            found.add(instant)
    if not found:
        early, late = sorted(wall.replace(tzinfo=tz, fold=f).astimezone(UTC) for f in (0, 1))
        found.add(_change_within(tz, early, late))
    return found


def _offset_changes(tz: ZoneInfo, after: datetime, before: datetime) -> list[datetime]:
    """The UTC instants in (after, before] at which `tz` changes its UTC offset."""
    changes: list[datetime] = []
    t = after
    while t < before:
        step = min(t + _SCAN_STEP, before)
        if t.astimezone(tz).utcoffset() != step.astimezone(tz).utcoffset():
            changes.append(_change_within(tz, t, step))
        t = step
    return changes


def _change_within(tz: ZoneInfo, early: datetime, late: datetime) -> datetime:
    """The first instant in (early, late] with the UTC offset `tz` has at `late`."""
    target = late.astimezone(tz).utcoffset()
    low, high = int(early.timestamp()), int(late.timestamp())  # zones change on whole seconds
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


ALWAYS = OfficeHours((Window(0, 6, 0, _DAY_MINUTES),))
"""Open at all times: `24/7`."""


def _to_hours(value: Any) -> OfficeHours:
    if isinstance(value, OfficeHours):
        return value
    return OfficeHours.parse(value)


Hours = Annotated[
    OfficeHours,
    PlainValidator(_to_hours),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["24/7", "Mon-Fri 08:00-16:00"]}),
]
"""`OfficeHours` for pydantic: read from text such as `Mon-Fri 08:00-16:00`, written as text."""

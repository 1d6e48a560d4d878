from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel

from ians.domain.hours import ALWAYS, Hours, OfficeHours

BELGRADE = ZoneInfo("Europe/Belgrade")
NEW_YORK = ZoneInfo("America/New_York")


def belgrade(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    """A wall-clock time in Belgrade (2026-11-27 is a Friday)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=BELGRADE)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("24/7", "24/7"),
        (" 24 / 7 ", "24/7"),
        ("Mon-Fri 08:00-16:00", "Mon-Fri 08:00-16:00"),
        ("mon-thu 8:00-16:30 , FRI 08:00 - 14:00", "Mon-Thu 08:00-16:30, Fri 08:00-14:00"),
        ("Sat 09:00-12:00", "Sat 09:00-12:00"),
        ("Saturday-Sunday 10:00-24:00", "Sat-Sun 10:00-24:00"),
        ("Fri-Mon 10:00-11:00", "Fri-Mon 10:00-11:00"),
        ("08:00-16:00", "Mon-Sun 08:00-16:00"),
        ("Mon-Sun 00:00-24:00", "24/7"),
        ("Mon-Fri 00:00-24:00, Sat-Sun 00:00-12:00, Sat-Sun 12:00-24:00", "24/7"),
    ],
)
def test_parse_gives_canonical_text(text: str, canonical: str) -> None:
    hours = OfficeHours.parse(text)
    assert str(hours) == canonical
    assert OfficeHours.parse(canonical) == hours


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "office hours are empty"),
        ("Mon-Fry 08:00-16:00", "'Fry' is not a day"),
        ("Mon 8-16", "'Mon 8-16' is not an office-hours window"),
        ("Mon-Fri 08:00-16:00,", "'' is not an office-hours window"),
        ("Mon 08:60-09:00", "'08:60' is not a time of day"),
        ("Mon 08:00-24:30", "'24:30' is not a time of day"),
        ("Fri 22:00-06:00", "ends before it starts"),
        ("Mon 10:00-10:00", "ends before it starts"),
    ],
)
def test_parse_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        OfficeHours.parse(text)
    assert message in str(caught.value)


def test_24_7_is_always() -> None:
    assert OfficeHours.parse("24/7") is ALWAYS
    assert ALWAYS.always
    assert not OfficeHours.parse("Mon-Sun 00:00-23:59").always


@pytest.mark.parametrize(
    ("hours", "at", "is_open"),
    [
        ("Mon-Fri 08:00-16:00", belgrade(2026, 11, 27, 7, 59, 59), False),
        ("Mon-Fri 08:00-16:00", belgrade(2026, 11, 27, 8, 0), True),
        ("Mon-Fri 08:00-16:00", belgrade(2026, 11, 27, 15, 59, 59), True),
        ("Mon-Fri 08:00-16:00", belgrade(2026, 11, 27, 16, 0), False),
        ("Mon-Fri 08:00-16:00", belgrade(2026, 11, 28, 10, 0), False),  # Saturday
        ("Mon-Fri 08:00-16:00", utc(2026, 11, 27, 7, 30), True),  # 08:30 in Belgrade
        ("Mon-Fri 08:00-16:00", utc(2026, 7, 3, 6, 30), True),  # 08:30 CEST
        ("Mon-Fri 08:00-16:00", utc(2026, 7, 3, 14, 30), False),  # 16:30 CEST
        ("Mon-Thu 08:00-16:30, Fri 08:00-14:00", belgrade(2026, 11, 26, 16, 15), True),
        ("Mon-Thu 08:00-16:30, Fri 08:00-14:00", belgrade(2026, 11, 27, 14, 15), False),
        ("Sat-Sun 00:00-24:00", belgrade(2026, 11, 29, 23, 59, 59), True),
        ("Sat-Sun 00:00-24:00", belgrade(2026, 11, 30, 0, 0), False),
        ("Fri-Mon 22:00-24:00", belgrade(2026, 11, 29, 23, 0), True),  # Sunday
        ("Fri-Mon 22:00-24:00", belgrade(2026, 12, 1, 23, 0), False),  # Tuesday
        ("24/7", belgrade(2026, 11, 29, 3, 0), True),
    ],
)
def test_is_open(hours: str, at: datetime, is_open: bool) -> None:
    assert OfficeHours.parse(hours).is_open(at, BELGRADE) is is_open


@pytest.mark.parametrize(
    ("hours", "at", "opening"),
    [
        # Friday evening to Monday morning, in winter, and over each EU DST change
        ("Mon-Fri 08:00-16:00", belgrade(2026, 11, 27, 17, 0), belgrade(2026, 11, 30, 8, 0)),
        ("Mon-Fri 08:00-16:00", belgrade(2026, 3, 27, 17, 0), utc(2026, 3, 30, 6, 0)),
        ("Mon-Fri 08:00-16:00", belgrade(2026, 10, 23, 17, 0), utc(2026, 10, 26, 7, 0)),
        # a window on the day of the change opens at its local time
        ("Sun 08:00-12:00", belgrade(2026, 3, 28, 12, 0), utc(2026, 3, 29, 6, 0)),
        ("Sun 08:00-12:00", belgrade(2026, 10, 24, 12, 0), utc(2026, 10, 25, 7, 0)),
        # 02:30 does not exist on 2026-03-29: the first valid instant after it, 03:00 CEST
        ("Sun 02:30-04:00", belgrade(2026, 3, 28, 12, 0), utc(2026, 3, 29, 1, 0)),
        # a window wholly inside the gap is skipped that week
        ("Sun 02:00-02:45", belgrade(2026, 3, 28, 12, 0), utc(2026, 4, 5, 0, 0)),
        # 02:30 happens twice on 2026-10-25: the next occurrence
        ("Sun 02:30-05:00", utc(2026, 10, 25, 0, 10), utc(2026, 10, 25, 0, 30)),
        ("Sun 02:30-05:00", utc(2026, 10, 25, 1, 10), utc(2026, 10, 25, 1, 30)),
        # clocks going back from 03:00 CEST to 02:00 CET re-enter the window
        ("Sun 01:00-02:30", utc(2026, 10, 25, 0, 45), utc(2026, 10, 25, 1, 0)),
        # later the same day, and the same weekday a week on
        ("Mon-Fri 08:00-16:00", belgrade(2026, 11, 26, 6, 0), belgrade(2026, 11, 26, 8, 0)),
        ("Fri 08:00-09:00", belgrade(2026, 11, 27, 9, 0), belgrade(2026, 12, 4, 8, 0)),
    ],
)
def test_next_opening(hours: str, at: datetime, opening: datetime) -> None:
    found = OfficeHours.parse(hours).next_opening(at, BELGRADE)
    assert found == opening
    assert found.tzinfo is UTC
    assert OfficeHours.parse(hours).is_open(found, BELGRADE)


def test_next_opening_in_another_zone() -> None:
    friday_evening = datetime(2026, 3, 6, 18, 0, tzinfo=NEW_YORK)  # EST; EDT from Sunday
    opening = OfficeHours.parse("Mon-Fri 09:00-17:00").next_opening(friday_evening, NEW_YORK)
    assert opening == utc(2026, 3, 9, 13, 0)


@pytest.mark.parametrize("hours", ["24/7", "Mon-Fri 08:00-16:00"])
def test_next_opening_while_open_is_the_same_instant(hours: str) -> None:
    at = belgrade(2026, 11, 27, 9, 0)
    assert OfficeHours.parse(hours).next_opening(at, BELGRADE) is at


def test_naive_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        ALWAYS.is_open(datetime(2026, 11, 27, 9, 0), BELGRADE)


class Poc(BaseModel):
    hours: Hours = ALWAYS


def test_pydantic_reads_and_writes_text() -> None:
    poc = Poc.model_validate({"hours": "mon-fri 8:00-16:00"})
    assert poc.hours == OfficeHours.parse("Mon-Fri 08:00-16:00")
    assert poc.model_dump() == {"hours": "Mon-Fri 08:00-16:00"}
    assert Poc().model_dump_json() == '{"hours":"24/7"}'
    assert Poc(hours=OfficeHours.parse("Sat 09:00-12:00")).hours.windows[0].days == (5,)
    assert Poc.model_json_schema()["properties"]["hours"]["type"] == "string"


def test_pydantic_error_is_the_parse_error() -> None:
    with pytest.raises(ValueError, match="'Fry' is not a day"):
        Poc.model_validate({"hours": "Fry 08:00-16:00"})

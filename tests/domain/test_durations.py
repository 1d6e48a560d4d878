from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import BaseModel, ValidationError

from ians.domain.durations import Duration, format_duration, parse_duration

S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("45s", 45 * S),
        ("15m", 15 * 60 * S),
        ("1h30m", 90 * 60 * S),
        ("2d", timedelta(days=2)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("90m", timedelta(minutes=90)),
        ("1.5h", timedelta(minutes=90)),
        ("0m", timedelta(0)),
        ("0", timedelta(0)),
        ("30", 30 * S),
        (" 1H 30M ", 90 * 60 * S),
        ("PT15M", timedelta(minutes=15)),
        ("pt15m", timedelta(minutes=15)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("PT1.5S", timedelta(seconds=1.5)),
        ("PT1,5S", timedelta(seconds=1.5)),
        ("P2D", timedelta(days=2)),
        ("P2W", timedelta(weeks=2)),
        (0, timedelta(0)),
        (90, 90 * S),
        (1.5, timedelta(seconds=1.5)),
        (timedelta(minutes=3), timedelta(minutes=3)),
    ],
)
def test_parse_accepts(value: str | int | float | timedelta, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("15x", "'15x' is not a duration (use 45s, 15m, 1h30m, 2d or ISO 8601 such as PT15M)"),
        ("", "'' is not a duration"),
        ("m", "'m' is not a duration"),
        ("30m1h", "'30m1h' is not a duration"),
        ("500ms", "'500ms' is not a duration"),
        ("PT", "'PT' is not a duration"),
        ("P1DT", "'P1DT' is not a duration"),
        ("P1M", "years and months have no fixed length"),
        ("P1Y", "years and months have no fixed length"),
        ("-5m", "cannot be negative"),
        (-1, "cannot be negative"),
        (timedelta(seconds=-1), "cannot be negative"),
        (True, "not True"),
        (float("nan"), "is not a duration"),
        (10**20, "longer than the limit of 3650d"),
        ("3651d", "longer than the limit of 3650d"),
        ("P522W", "longer than the limit of 3650d"),
        (timedelta(days=4000), "longer than the limit of 3650d"),
    ],
)
def test_parse_rejects(value: str | int | float | timedelta, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(days=2), "2d"),
        (timedelta(days=1, seconds=1), "1d1s"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(microseconds=1), "0.000001s"),
        (timedelta(minutes=-15), "-15m"),
    ],
)
def test_format_is_shortest(td: timedelta, text: str) -> None:
    assert format_duration(td) == text


@pytest.mark.parametrize(
    "td",
    [timedelta(0), timedelta(days=3, hours=4, minutes=5, seconds=6, microseconds=7)],
)
def test_format_round_trips(td: timedelta) -> None:
    assert parse_duration(format_duration(td)) == td


class Policy(BaseModel):
    within: Duration
    every: Duration | None = None


def test_pydantic_reads_text_numbers_and_timedeltas() -> None:
    assert Policy.model_validate({"within": "1h30m"}).within == timedelta(minutes=90)
    assert Policy.model_validate({"within": 60}).within == timedelta(minutes=1)
    assert Policy(within=timedelta(seconds=5)).within == timedelta(seconds=5)
    assert Policy.model_validate_json('{"within": "PT15M", "every": null}').every is None


def test_pydantic_writes_compact_text() -> None:
    policy = Policy(within=timedelta(minutes=90), every=timedelta(days=1))
    assert policy.model_dump() == {"within": "1h30m", "every": "1d"}
    assert policy.model_dump_json() == '{"within":"1h30m","every":"1d"}'


def test_pydantic_error_names_the_value() -> None:
    with pytest.raises(ValidationError) as caught:
        Policy.model_validate({"within": "soon"})
    assert "'soon' is not a duration" in caught.value.errors()[0]["msg"]


def test_json_schema_is_a_string() -> None:
    schema = Policy.model_json_schema()["properties"]["within"]
    assert schema["type"] == "string"
    assert "1h30m" in schema["examples"]

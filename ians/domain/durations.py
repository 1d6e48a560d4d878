"""Durations as people write them in files and the API: `45s`, `1h30m`, `2d` or ISO 8601."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from ians.domain.limits import MAX_DURATION

_NUMBER = r"\d+(?:\.\d+)?"
_COMPACT = re.compile(
    rf"(?:(?P<d>{_NUMBER})d)?(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m)?(?:(?P<s>{_NUMBER})s)?"
)
_ISO = re.compile(
    rf"p(?:(?P<w>{_NUMBER})w)?(?:(?P<d>{_NUMBER})d)?"
    rf"(?:t(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m)?(?:(?P<s>{_NUMBER})s)?)?"
)
_PLAIN = re.compile(_NUMBER)
_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_HINT = "use 45s, 15m, 1h30m, 2d or ISO 8601 such as PT15M"


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """Read a non-negative duration.

    Accepts a `timedelta`, a number of seconds, the compact form (`45s`, `15m`, `1h30m`,
    `2d`, `1d2h3m4s`, each unit at most once and in that order) or an ISO 8601 duration
    without years and months (`PT15M`, `P1DT2H`, `PT1.5S`, `P2W`); text is case-insensitive
    and may contain spaces. Raises ValueError, naming the value, for anything else,
    including booleans, negative and non-finite values.
    """
    if isinstance(value, bool):
        raise ValueError(f"a duration must be text such as '15m' or seconds, not {value!r}")
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError(f"a duration cannot be negative: {format_duration(value)!r}")
        if value > MAX_DURATION:
            return _from_seconds(value.total_seconds(), repr(format_duration(value)))  # raises
        return value
    if isinstance(value, int | float):
        return _from_seconds(float(value), repr(value))
    if not isinstance(value, str):
        kind = "null" if value is None else f"a {type(value).__name__}"
        raise ValueError(f"a duration must be text such as '15m' or seconds, not {kind}")
    text = "".join(str(value).split()).lower()
    if text.startswith("-"):
        raise ValueError(f"a duration cannot be negative: {str(value)!r}")
    if _PLAIN.fullmatch(text):
        return _from_seconds(float(text), repr(str(value)))
    match = _COMPACT.fullmatch(text)
    if match is None and text.startswith("p"):
        match = _ISO.fullmatch(text.replace(",", "."))
        if match is None and re.search(r"[ym]", text.partition("t")[0]):
            raise ValueError(
                f"{str(value)!r} is not a duration: years and months have no fixed length,"
                " use days or weeks (P30D, P4W)"
            )
        if text.endswith("t"):
            match = None  # "PT" with no time part is not ISO 8601
    if match is None or not any(match.groupdict().values()):
        raise ValueError(f"{str(value)!r} is not a duration ({_HINT})")
    seconds = sum(_UNITS[unit] * float(n) for unit, n in match.groupdict().items() if n)
    return _from_seconds(seconds, repr(str(value)))


def format_duration(td: timedelta) -> str:
    """The shortest compact form of `td`: `1h30m`, `45s`, `2d`, `1.5s`, `0s` (`-` if negative).

    `parse_duration(format_duration(td)) == td` for every non-negative `td`.
    """
    if td < timedelta(0):
        return "-" + format_duration(-td)
    seconds, micro = divmod(td // timedelta(microseconds=1), 1_000_000)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    text = "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n)
    if micro:
        text += f"{seconds}.{micro:06d}".rstrip("0") + "s"
    elif seconds or not text:
        text += f"{seconds}s"
    return text


def _from_seconds(seconds: float, shown: str) -> timedelta:
    if not math.isfinite(seconds):
        raise ValueError(f"{shown} is not a duration ({_HINT})")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {shown}")
    if seconds > MAX_DURATION.total_seconds():
        limit = format_duration(MAX_DURATION)
        raise ValueError(f"{shown} is longer than the limit of {limit} for a duration")
    return timedelta(seconds=seconds)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["15m", "1h30m", "PT15M"]}),
]
"""A non-negative `timedelta` that pydantic reads with `parse_duration` and writes as `1h30m`."""

"""The report's maths (SPEC §10): nearest-rank percentiles and rates. Pure, no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import TypedDict


class SecondsSummary(TypedDict):
    """Median, 90th percentile and maximum of durations in seconds; None when there are none."""

    median: float | None
    p90: float | None
    max: float | None


def nearest_rank(values: Sequence[float], p: float) -> float | None:
    """The value at position ceil(p·n) (1-based) of `values` in ascending order; None if empty.

    `p` is read as the decimal it is written as, so `nearest_rank(range 1..10, 0.7)` is 7
    (plain float maths would give ceil(7.000000000000001) = 8). Raises ValueError unless
    0 < p <= 1.
    """
    if not 0 < p <= 1:
        raise ValueError(f"a percentile is in (0, 1], not {p!r}")
    if not values:
        return None
    rank = math.ceil(Fraction(str(p)) * len(values))
    return sorted(values)[max(rank, 1) - 1]


def rate(part: int, whole: int) -> float:
    """`part / whole` rounded to 3 decimals; 0.0 when `whole` is 0."""
    return round(part / whole, 3) if whole else 0.0


def summary_seconds(values: Sequence[float]) -> SecondsSummary:
    """Nearest-rank median and p90 and the maximum of `values` (all None when empty)."""
    return {
        "median": nearest_rank(values, 0.5),
        "p90": nearest_rank(values, 0.9),
        "max": max(values) if values else None,
    }

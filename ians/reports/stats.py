"""The report's maths (SPEC §10): nearest-rank percentiles and rates. Pure, no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class KaplanMeier:
    """The Kaplan–Meier estimate of the share acknowledged by each time, 1 − S(t).

    `steps`: (time, share) at each time with at least one acknowledgement, ascending; the
    share holds until the next step. `censored`: (time, share then) of each row followed
    until `time` without an acknowledgement.
    """

    steps: list[tuple[float, float]]
    censored: list[tuple[float, float]]

    def share_at(self, t: float) -> float:
        """The estimated share acknowledged by time `t` (0 before the first step)."""
        share = 0.0
        for at, s in self.steps:
            if at > t:
                break
            share = s
        return share

    def median(self) -> float | None:
        """The first time the estimate reaches one half; None if it never does."""
        return next((at for at, s in self.steps if s >= 0.5), None)


def kaplan_meier(observations: Sequence[tuple[float, bool]]) -> KaplanMeier:
    """The estimate over `observations`, each (time, acknowledged): an acknowledgement
    time, or the time a row was followed for without one (censored).

    At each acknowledgement time t the survival S falls by the factor 1 − d/n, d the rows
    acknowledged at t and n those still at risk (time ≥ t: a row censored at t counts as
    at risk then, the usual convention). No observations: no steps.
    """
    at_risk = len(observations)
    acked: dict[float, int] = {}
    cut: dict[float, int] = {}
    for t, acknowledged in observations:
        (acked if acknowledged else cut)[t] = (acked if acknowledged else cut).get(t, 0) + 1
    survival = 1.0
    steps: list[tuple[float, float]] = []
    censored: list[tuple[float, float]] = []
    for t in sorted(acked.keys() | cut.keys()):
        d = acked.get(t, 0)
        if d:
            survival *= 1 - d / at_risk
            steps.append((t, 1 - survival))
        censored += [(t, 1 - survival)] * cut.get(t, 0)
        at_risk -= d + cut.get(t, 0)
    return KaplanMeier(steps, censored)

"""The report's indicators: yes/no questions asked of every recipient row, counted.

Each indicator is a count of rows that meet its definition, out of the rows it applies
to (`of`). Pure: hand-made rows in, counts out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RowChecks:
    """What one recipient row (message × country) did, as the indicators ask it."""

    reached: bool
    acknowledged: bool
    within_target: bool
    first_poc: bool  # acknowledged by the first PoC of the escalation order, none escalated
    assistance_request: bool
    answered_in_time: bool  # an assistance response within respond_within


@dataclass(frozen=True, slots=True)
class Definition:
    id: str
    label: str
    definition: str
    applies: Callable[[RowChecks], bool]
    met: Callable[[RowChecks], bool]


def _every(row: RowChecks) -> bool:
    return True


DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        "reached",
        "Reached",
        "The message arrived where a point of contact of the country reads it: its e-mail"
        " or webhook accepted it and no bounce followed, an automatic reply came back, or"
        " the country acknowledged it. For a PoC with neither e-mail nor webhook, the"
        " message in its IANS inbox counts. Out of every recipient row (message × country).",
        _every,
        lambda r: r.reached,
    ),
    Definition(
        "acknowledged",
        "Acknowledged",
        "A point of contact of the country acknowledged the message (by the API, the web"
        " page, the e-mail link, a reply, a webhook program, or an assistance response),"
        " at any time, late ones included. Out of every recipient row.",
        _every,
        lambda r: r.acknowledged,
    ),
    Definition(
        "within_target",
        "Acknowledged within target",
        "The country's first acknowledgement came at most the target time (`ack_within`"
        " of the message type) after sending, in scenario time. Out of every recipient row.",
        _every,
        lambda r: r.within_target,
    ),
    Definition(
        "first_poc",
        "Acknowledged by the first PoC, without escalation",
        "The acknowledgement came from the point of contact first in the country's"
        " escalation order, and no further PoC had to be notified. Out of every recipient"
        " row.",
        _every,
        lambda r: r.first_poc,
    ),
    Definition(
        "assistance_answered",
        "Assistance request answered in time",
        "The country sent its assistance response (accept, partial or decline) at most"
        " `respond_within` after the request was sent, in scenario time. Out of the"
        " assistance-request rows only.",
        lambda r: r.assistance_request,
        lambda r: r.answered_in_time,
    ),
)


@dataclass(frozen=True, slots=True)
class Count:
    id: str
    label: str
    definition: str
    value: int
    of: int

    @property
    def rate(self) -> float | None:
        """value / of, rounded to 3 decimals; None when the indicator applies to no row."""
        return round(self.value / self.of, 3) if self.of else None


def indicators(rows: Sequence[RowChecks]) -> list[Count]:
    """Every indicator of DEFINITIONS over `rows`, in that order."""
    out = []
    for d in DEFINITIONS:
        applies = [r for r in rows if d.applies(r)]
        out.append(Count(d.id, d.label, d.definition, sum(map(d.met, applies)), len(applies)))
    return out

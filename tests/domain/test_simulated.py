"""Simulated PoCs: keyed draws, office hours across weekends and DST changes."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest

from ians.domain.contacts import Country, PointOfContact, SimulationModel
from ians.domain.simulated import ack_time, draw_delay, response_delay


def country(hours: str, median: str = "10m", spread: float = 0.0, miss: float = 0.0) -> Country:
    poc = PointOfContact.model_validate(
        {
            "id": "hun-1",
            "roles": ["notification", "assistance"],
            "hours": hours,
            "simulation": {"median": median, "spread": spread, "miss": miss},
            "country": "HUN",
        }
    )
    return Country.model_validate(
        {
            "code": "HUN",
            "name": "Hungary",
            "timezone": "Europe/Budapest",
            "points_of_contact": [poc],
        }
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reached", "acked"),
    [
        # inside office hours: straight away plus the delay
        (utc(2026, 11, 25, 9, 0), utc(2026, 11, 25, 9, 10)),
        # Friday 17:00 local: Monday 08:00 local (07:00 UTC in winter)
        (utc(2026, 11, 27, 16, 0), utc(2026, 11, 30, 7, 10)),
        # over the autumn change (25 Oct): Friday 23 Oct 18:00 CEST → Monday 26 Oct 08:00 CET
        (utc(2026, 10, 23, 16, 0), utc(2026, 10, 26, 7, 10)),
        # over the spring change (29 Mar): Saturday → Monday 30 Mar 08:00 CEST = 06:00 UTC
        (utc(2026, 3, 28, 12, 0), utc(2026, 3, 30, 6, 10)),
        # early on a weekday morning: 08:00 the same day
        (utc(2026, 11, 25, 5, 0), utc(2026, 11, 25, 7, 10)),
    ],
)
def test_an_office_hours_poc_answers_after_its_office_opens(
    reached: datetime, acked: datetime
) -> None:
    hun = country("Mon-Fri 08:00-16:00")
    assert ack_time(hun.points_of_contact[0], hun, reached, "seed", "ew1") == acked


def test_a_24_7_poc_answers_at_once_plus_its_delay() -> None:
    hun = country("24/7", median="3m")
    at = utc(2026, 11, 28, 3, 0)  # a Saturday night
    assert ack_time(hun.points_of_contact[0], hun, at, "s", "k") == at + timedelta(minutes=3)


def test_draws_are_keyed_and_follow_the_model() -> None:
    model = SimulationModel(median=timedelta(minutes=10), spread=0.8, miss=0.1)
    first = [draw_delay(model, "7", f"ew1|poc-{i}") for i in range(4000)]
    assert first == [draw_delay(model, "7", f"ew1|poc-{i}") for i in range(4000)]
    assert first != [draw_delay(model, "8", f"ew1|poc-{i}") for i in range(4000)]
    answered = [d.total_seconds() for d in first if d is not None]
    assert 0.08 < 1 - len(answered) / len(first) < 0.12  # the miss rate
    assert 540 < statistics.median(answered) < 660  # the log-normal's median, 600 s


def test_a_certain_miss_never_answers_and_a_response_never_misses() -> None:
    hun = country("24/7", miss=1.0)
    poc = hun.points_of_contact[0]
    assert ack_time(poc, hun, utc(2026, 11, 25, 9, 0), "s", "ra1") is None
    assert response_delay(poc, "s", "ra1") == timedelta(minutes=10)

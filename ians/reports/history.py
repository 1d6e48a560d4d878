"""Exercises compared over time: per exercise and per country, the indicators and the
median acknowledgement time, oldest first (`GET /api/reports/history`, `ians report
--history`).

Each exercise's figures are those of its own report, so the two always agree.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from ians.domain.contacts import Registry
from ians.reports.build import build_report
from ians.reports.indicators import DEFINITIONS
from ians.reports.model import Indicator, IndicatorCount, Report, Seconds, Time
from ians.store import Store


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Measure(_Part):
    """One indicator in one exercise: `value` rows of `of`, `rate` their share."""

    id: str
    value: int
    of: int
    rate: float | None


class IndicatorDefinition(_Part):
    id: str
    label: str
    definition: str


class ExerciseTrend(_Part):
    """One exercise, all its recipient countries together."""

    exercise_id: str
    name: str
    kind: str
    state: str
    started_at: Time
    recipients: int
    indicators: list[Measure]
    median_ack_seconds: Seconds | None


class CountryTrend(_Part):
    """One country in one exercise."""

    exercise_id: str
    started_at: Time
    country: str
    recipients: int
    indicators: list[Measure]
    median_ack_seconds: Seconds | None


class History(_Part):
    country: str | None  # the filter, if any
    kind: str | None
    definitions: list[IndicatorDefinition]
    exercises: list[ExerciseTrend]  # oldest first
    by_country: list[CountryTrend]  # oldest exercise first, then by country


def _measures(indicators: Sequence[Indicator | IndicatorCount]) -> list[Measure]:
    return [Measure(id=i.id, value=i.value, of=i.of, rate=i.rate) for i in indicators]


def trends(
    report: Report, country: str | None = None
) -> tuple[ExerciseTrend | None, list[CountryTrend]]:
    """One exercise's line and its countries' lines; with `country`, only that country's
    (the exercise line then gives its figures), and no line if it did not take part."""
    e = report.exercise
    countries = [c for c in report.by_country if country is None or c.country == country]
    if country is not None and not countries:
        return None, []
    rows = [
        CountryTrend(
            exercise_id=e.id,
            started_at=e.started_at,
            country=c.country,
            recipients=c.recipients,
            indicators=_measures(c.indicators),
            median_ack_seconds=c.ack_seconds.median,
        )
        for c in countries
    ]
    whole = countries[0] if country is not None else report.summary
    line = ExerciseTrend(
        exercise_id=e.id,
        name=e.name,
        kind=e.kind,
        state=e.state,
        started_at=e.started_at,
        recipients=whole.recipients,
        indicators=_measures(whole.indicators),
        median_ack_seconds=whole.ack_seconds.median,
    )
    return line, rows


def history_of(
    reports: Iterable[Report], country: str | None = None, kind: str | None = None
) -> History:
    """The history of `reports` (oldest first): see `trends`."""
    exercises: list[ExerciseTrend] = []
    rows: list[CountryTrend] = []
    for report in reports:
        line, lines = trends(report, country)
        if line is not None:
            exercises.append(line)
            rows += lines
    return History(
        country=country,
        kind=kind,
        definitions=[
            IndicatorDefinition(id=d.id, label=d.label, definition=d.definition)
            for d in DEFINITIONS
        ],
        exercises=exercises,
        by_country=rows,
    )


async def report_history(
    store: Store, registry: Registry | None, country: str | None = None, kind: str | None = None
) -> History:
    """The history of every exercise that happened (no consultation, no rehearsal),
    of `kind` if given, oldest first."""

    async def reports() -> AsyncIterator[Report]:
        for exercise in await store.exercises_for_history(kind):
            yield build_report(await store.exercise_facts(exercise.id), registry)

    # one report at a time: a hundred large exercises need not be in memory at once
    exercises: list[ExerciseTrend] = []
    rows: list[CountryTrend] = []
    async for report in reports():
        line, lines = trends(report, country)
        if line is not None:
            exercises.append(line)
            rows += lines
    return history_of([], country, kind).model_copy(
        update={"exercises": exercises, "by_country": rows}
    )

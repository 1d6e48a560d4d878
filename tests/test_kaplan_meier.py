"""The Kaplan–Meier estimate beside the ECDF, on hand-made sets."""

from __future__ import annotations

import pytest

from ians.reports.build import build_report
from ians.reports.charts import ack_curves
from ians.reports.stats import kaplan_meier
from tests.test_reports import drill_facts


def test_none_censored_is_the_ecdf() -> None:
    km = kaplan_meier([(30, True), (10, True), (20, True), (40, True)])
    assert km.steps == [(10, 0.25), (20, 0.5), (30, 0.75), (40, 1.0)]
    assert km.censored == []
    assert km.median() == 20  # reaches one half at the second of four, as nearest rank


def test_ties_fall_together() -> None:
    km = kaplan_meier([(10, True), (10, True), (20, True), (30, False)])
    # at 10: 2 of 4 at risk acknowledge -> S = 1/2; at 20: 1 of 2 -> S = 1/4
    assert km.steps == [(10, 0.5), (20, 0.75)]
    assert km.censored == [(30, 0.75)]


def test_censoring_shrinks_the_risk_set_without_a_step() -> None:
    # one row followed for 15 only (sent late), then the rest
    km = kaplan_meier([(10, True), (15, False), (20, True), (40, True), (50, False)])
    # 10: 1/5 -> S = 4/5; 15: censored, 3 left; 20: 1/3 -> S = 8/15; 40: 1/2 -> S = 4/15
    assert [t for t, _ in km.steps] == [10, 20, 40]
    assert [round(s, 4) for _, s in km.steps] == [0.2, round(1 - 8 / 15, 4), round(1 - 4 / 15, 4)]
    assert km.censored == [(15, pytest.approx(0.2)), (50, pytest.approx(1 - 4 / 15))]
    assert km.share_at(19.9) == pytest.approx(0.2)
    assert km.share_at(5) == 0.0
    assert km.median() == 40


def test_a_row_censored_at_an_acknowledgement_time_is_still_at_risk_then() -> None:
    km = kaplan_meier([(10, True), (10, False)])
    assert km.steps == [(10, 0.5)]  # 1 of 2 at risk, not 1 of 1


def test_all_censored_has_no_step_and_no_median() -> None:
    km = kaplan_meier([(60, False), (60, False), (30, False)])
    assert km.steps == []
    assert km.censored == [(30, 0.0), (60, 0.0), (60, 0.0)]
    assert km.median() is None
    assert kaplan_meier([]).steps == []


def test_the_report_censors_never_acknowledged_rows_at_the_exercise_end() -> None:
    report = build_report(drill_facts())
    values, km = ack_curves(report)
    assert values == [300, 300, 600, 900, 1500, 4800]  # the ECDF leaves ROU's miss out
    # ROU's early warning, sent at 09:00, never acknowledged; the exercise ended at 11:00
    assert [t for t, _ in km.censored] == [7200]
    assert km.steps[-1] == (4800, pytest.approx(6 / 7))  # not 100%: the miss stays counted


def test_the_summary_for_people_gives_the_kaplan_meier_median() -> None:
    from ians.reports.render import render

    facts = drill_facts()
    md = render(build_report(facts), facts, "md").decode()
    # 300, 300, 600, 900, …: the 4th of 7 rows (4/7 ≥ ½) at 900 s, no censoring before
    assert "| Median, Kaplan–Meier over all rows | 15m |" in md

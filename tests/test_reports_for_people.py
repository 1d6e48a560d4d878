"""The reports as people read them (md, html and its charts): the exercise's state, country
names, rounded durations, the timeline's lanes and answers, the per-country chart of a
connectivity test, and the consultation results' charts, times and non-respondents.
Charts are checked through the data they are drawn from and the text of their SVG."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ians.contacts import load_registry
from ians.domain.consultation import tally
from ians.reports.build import build_report
from ians.reports.charts import country_times, timeline_lanes, timeline_responses
from ians.reports.facts import ExerciseFacts
from ians.reports.page import Names, span, when
from ians.reports.render import render
from ians.reports.results import render_results
from ians.scenarios.model import ScaleQuestion
from tests.test_reports import T0, drill_facts, edge_facts, m

NAMES = Names(
    {"HUN": "Hungary", "MDA": "Moldova", "ROU": "Romania", "SRB": "Serbia", "CAA": "Aland"},
    {"rou-1": ("ROU", "General Inspectorate for Emergency Situations")},
)


def texts(svg_or_page: str) -> list[str]:
    """The text of every SVG <text> element, in order."""
    return [html.unescape(t) for t in re.findall(r"<text\b[^>]*>([^<]*)</text>", svg_or_page)]


def figure(page: str, key: str) -> str:
    """The inline SVG of chart `key` in an html page."""
    start = page.index(f'<figure aria-labelledby="{key}-caption">')
    return page[start : page.index("</figure>", start)]


def stopped(facts: ExerciseFacts, at_minute: float) -> ExerciseFacts:
    return replace(facts, exercise=replace(facts.exercise, state="stopped", ended_at=m(at_minute)))


# --- the exercise's state ----------------------------------------------------------------


@pytest.mark.parametrize("state", ["running", "completed", "stopped"])
def test_json_names_the_exercise_state(state: str) -> None:
    facts = replace(drill_facts(), exercise=replace(drill_facts().exercise, state=state))
    report = json.loads(render(build_report(facts), facts, "json"))
    assert report["exercise"]["state"] == state


def test_a_stopped_exercise_says_so_in_md_html_and_the_timeline() -> None:
    facts = stopped(drill_facts(), 90)
    report = build_report(facts)
    md = render(report, facts, "md").decode()
    banner = "Stopped at 2026-11-27 10:30:00 UTC, before it completed"
    assert md.splitlines()[2].startswith(f"> **{banner}")
    assert "- **State:** stopped" in md
    page = render(report, facts, "html").decode()
    assert f'<p class="banner" role="status">{banner}' in page
    timeline = texts(figure(page, "timeline"))
    assert "Timeline: stopped at 2026-11-27 10:30:00 UTC, before it completed" in timeline
    assert "stopped" in timeline  # the legend of the line drawn at the stop


def test_a_completed_exercise_has_no_banner_and_a_running_one_says_so_far() -> None:
    facts = drill_facts()
    page = render(build_report(facts), facts, "html").decode()
    assert 'class="banner"' not in page and "stopped" not in texts(figure(page, "timeline"))
    running = replace(facts, exercise=replace(facts.exercise, state="running", ended_at=None))
    md = render(build_report(running), running, "md").decode()
    assert "> **Still running: the figures cover what has happened so far.**" in md


# --- names and durations -----------------------------------------------------------------


def test_countries_are_named_beside_their_code_in_md_html_and_charts() -> None:
    facts = drill_facts()
    report = build_report(facts)
    md = render(report, facts, "md", NAMES).decode()
    assert "| MDA Moldova | 2 | 2 | 1 | 25m | 1h20m | 1h20m |" in md
    assert "| ew1 | early_warning | ROU Romania | 2026-11-27 09:00:00 UTC | 2 | 0 |" in md
    assert "| ra1 | HUN Hungary | 2026-11-27 10:10:00 UTC | 30m |" in md
    page = render(report, facts, "html", NAMES).decode()
    assert '<th scope="row">MDA Moldova</th>' in page
    for key in ("by-country", "timeline"):
        assert {"HUN Hungary", "MDA Moldova", "ROU Romania"} <= set(texts(figure(page, key)))
    # json and csv keep the codes alone
    assert json.loads(render(report, facts, "json", NAMES))["by_country"][1]["country"] == "MDA"


def test_names_come_from_the_registry() -> None:
    registry = load_registry([Path(__file__).parent.parent / "contacts"])
    names = Names.of(registry)
    assert names.country("HUN") == "HUN Hungary"
    assert names.country("QQQ") == "QQQ"  # not in the registry: the code as it is
    assert names.pocs["hun-1"] == ("HUN", registry.poc("hun-1").organization)
    assert Names.of(None).country("HUN") == "HUN"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (595.504, "9m56s"),
        (595.4, "9m55s"),
        (59.6, "1m"),
        (3599.5, "1h"),
        (4337.172, "1h12m17s"),
        (1.54, "1.5s"),
        (0.741, "0.7s"),
        (0, "0s"),
        (None, "—"),
    ],
)
def test_durations_for_people_are_rounded(seconds: float | None, shown: str) -> None:
    assert span(seconds) == shown


def test_md_rounds_durations_and_json_keeps_the_seconds() -> None:
    facts = edge_facts([595.504, 42.25])
    report = build_report(facts)
    md = render(report, facts, "md").decode()
    assert "| Slowest acknowledgement | 9m56s |" in md and "9m55.504s" not in md
    assert "| CBB | 1 | 1 | 1 | 42s | 42s | 42s |" in md
    assert json.loads(render(report, facts, "json"))["summary"]["ack_seconds"]["max"] == 595.504


@pytest.mark.parametrize(
    ("at", "shown"),
    [
        ("2026-11-27T16:00:00.123456Z", "2026-11-27 16:00:00 UTC"),
        ("2026-11-27T17:00:00.9+01:00", "2026-11-27 16:00:00 UTC"),
        (T0.replace(microsecond=999_999), "2026-11-27 09:00:00 UTC"),
        (None, "—"),
    ],
)
def test_times_for_people_have_no_fractions(at: Any, shown: str) -> None:
    assert when(at) == shown


# --- the timeline ------------------------------------------------------------------------


def test_each_timeline_lane_is_labelled_with_its_inject() -> None:
    facts = drill_facts()
    lanes = timeline_lanes(facts, NAMES)
    # per country in code order, its messages in the order sent; a PoC's message by its type
    assert [t for _, t in lanes.lane_labels] == [
        *("ew1", "ra1") * 3,
        "assistance response",
    ]
    assert [y for y, _ in lanes.lane_labels] == pytest.approx([0, 1, 2.6, 3.6, 5.2, 6.2, 7.8])
    assert [t for _, t in lanes.country_labels] == [
        "HUN Hungary",
        "MDA Moldova",
        "ROU Romania",
        "SRB Serbia",
    ]
    assert [y for y, _ in lanes.country_labels] == pytest.approx([0.5, 3.1, 5.7, 7.8])
    assert lanes.y[("ra-1", "MDA")] == pytest.approx(3.6)
    labels = texts(figure(render(build_report(facts), facts, "html", NAMES).decode(), "timeline"))
    assert labels.count("ew1") == 3 and labels.count("ra1") == 3
    assert "assistance response" in labels


def test_the_timeline_shows_assistance_responses_on_the_lane_of_the_request() -> None:
    facts = drill_facts()
    report = build_report(facts)
    lanes = timeline_lanes(facts, NAMES)
    assert timeline_responses(report, lanes) == [(m(70), lanes.y[("ra-1", "HUN")])]
    legend = texts(figure(render(report, facts, "html").decode(), "timeline"))
    assert "assistance response" in legend  # the mark's legend (and the lane of resp-1)
    one = edge_facts([42])  # no assistance asked: no such mark in the legend
    assert "assistance response" not in texts(render(build_report(one), one, "html").decode())


def test_a_timeline_of_one_message_names_it_in_its_title() -> None:
    facts = edge_facts([42, 60])
    lanes = timeline_lanes(facts, NAMES)
    assert lanes.lane_labels == [] and lanes.title == "Timeline of inject ew1"
    assert [t for _, t in lanes.country_labels] == ["CAA Aland", "CBB"]


def test_a_timeline_of_very_many_lanes_packs_each_country_into_one_row() -> None:
    facts = edge_facts([60.0] * 76)  # 76 countries …
    second = [c._replace(message_id="ew-f") for c in facts.chases]  # … times 2 messages
    ew2 = facts.messages[0].message.model_copy(update={"id": "ew-f"})
    facts = replace(
        facts,
        messages=[*facts.messages, replace(facts.messages[0], inject="ew2", message=ew2)],
        chases=[*facts.chases, *second],
    )
    lanes = timeline_lanes(facts, NAMES)
    assert len(lanes.y) == 152 and lanes.lane_labels == []
    assert lanes.title.startswith("Timeline (each country's messages in the order sent")
    assert [p for p, _ in lanes.country_labels] == list(range(76))  # a row per country
    assert lanes.y[("ew-e", "CAA")] < lanes.y[("ew-f", "CAA")] < 0.5


# --- the per-country chart ---------------------------------------------------------------


def test_one_recipient_per_country_shows_each_countrys_time() -> None:
    facts = edge_facts([42, None, 2400])  # target 30m: within, never, late
    report = build_report(facts)
    assert [(b.label, b.seconds, b.outcome) for b in country_times(report, NAMES)] == [
        ("CAA Aland", 42, "within target"),
        ("CBB", None, "never acknowledged"),
        ("CCC", 2400, "late"),
    ]
    page = render(report, facts, "html", NAMES).decode()
    assert 'aria-labelledby="by-country-caption"' not in page
    chart = texts(figure(page, "by-country-time"))
    assert "Acknowledgement time per country" in chart
    assert " never acknowledged" in chart  # said in words where no bar can be seen
    assert {"CAA Aland", "CBB", "CCC", "target 30m"} <= set(chart)


def test_several_recipients_per_country_keep_the_counts_chart() -> None:
    facts = drill_facts()
    page = render(build_report(facts), facts, "html").decode()
    assert "Results per country" in texts(figure(page, "by-country"))
    assert 'aria-labelledby="by-country-time-caption"' not in page


# --- consultation results ----------------------------------------------------------------

LONG = (
    "Is your point of contact reachable at all times (24/7), as Article 17 of the Convention"
    " asks, including public holidays and the weekend, and by which of its channels?"
)


def results(non_respondents: list[str]) -> dict[str, Any]:
    return {
        "consultation": {
            "id": "cn-1",
            "name": "Consultation 2026",
            "opened_at": "2026-11-27T09:00:00.123456Z",
            "deadline": "2026-12-11T09:00:00.5Z",
            "closed": False,
            "clock": "real",
        },
        "invited": 3,
        "responded": 2,
        "response_rate": 0.667,
        "by_country": [
            {"country": "HUN", "invited": 2, "responded": 2, "response_rate": 1.0},
            {"country": "ROU", "invited": 1, "responded": 0, "response_rate": 0.0},
        ],
        "questions": [
            {"id": "q2", "type": "single", "text": LONG, "answers": 2, "tally": {"yes": 2}},
            {
                "id": "q4",
                "type": "scale",
                "text": "How useful?",
                "answers": 2,
                "tally": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1},
                "mean": 4.0,
                "labels": {"1": "not useful", "5": "very useful"},
            },
        ],
        "non_respondents": non_respondents,
    }


def test_consultation_header_times_have_no_fractions() -> None:
    md = render_results(results([]), "md").decode()
    assert "- **Opened:** 2026-11-27 09:00:00 UTC" in md
    assert "- **Deadline:** 2026-12-11 09:00:00 UTC" in md
    assert ".123456" not in md and ".5Z" not in md


def test_a_long_question_is_wrapped_in_its_chart_title_not_cut() -> None:
    page = render_results(results([]), "html").decode()
    chart = figure(page, "tally-q2")
    lines = [t for t in texts(chart) if len(t) > 3 and (t.startswith("q2:") or t in LONG)]
    assert " ".join(lines) == f"q2: {LONG}"
    assert len(lines) == 3 and all(len(line) <= 85 for line in lines)
    x = re.search(r'<text\b[^>]*(?:\bx="|translate\()([-\d.]+)[^>]*>q2:', chart)
    assert x and 0 <= float(x.group(1)) < 20  # from the figure's left edge, not off it


def test_a_scale_chart_shows_its_labels_and_mean() -> None:
    page = render_results(results([]), "html").decode()
    chart = texts(figure(page, "tally-q4"))
    assert {"1 (not useful)", "2", "3", "4", "5 (very useful)"} <= set(chart)
    assert " mean 4.00" in chart
    md = render_results(results([]), "md").decode()
    assert "| 1 (not useful) | 0 |" in md and "| mean | 4.00 |" in md


def test_non_respondents_are_listed_with_country_and_organisation() -> None:
    md = render_results(results(["rou-1", "xyz-9"]), "md", NAMES).decode()
    assert "| Point of contact | Country | Organisation |" in md
    assert "| rou-1 | ROU Romania | General Inspectorate for Emergency Situations |" in md
    assert "| xyz-9 | — | — |" in md  # no longer in the registry
    assert "| ROU Romania | 1 | 0 | 0.0% |" in md


def test_a_scale_tally_carries_its_labels() -> None:
    q = ScaleQuestion(id="q4", text="How useful?", type="scale", min=1, max=3, labels={3: "very"})
    plain = ScaleQuestion(id="q5", text="Rate it", type="scale", min=1, max=3)
    with_labels, without = tally([q, plain], [])
    assert with_labels["labels"] == {"3": "very"} and with_labels["mean"] is None
    assert "labels" not in without


def test_a_question_nobody_answered_yet_has_an_axis_from_zero() -> None:
    empty = results([])
    empty["questions"][0] = {**empty["questions"][0], "answers": 0, "tally": {"yes": 0}}
    chart = texts(figure(render_results(empty, "html").decode(), "tally-q2"))
    assert "0" in chart and "1" in chart
    assert not [t for t in chart if t.startswith(("\u2212", "-"))]  # no negative counts

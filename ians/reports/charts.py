"""The three charts of the html report, as inline SVG. matplotlib is imported on first
use (it is slow to import); what each chart shows is worked out first by plain functions
(`country_times`, `timeline_lanes`), so it can be tested without reading a picture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ians.domain.chase import Chase, EventKind
from ians.domain.exercise import settled_at
from ians.reports.facts import ExerciseFacts
from ians.reports.history import History
from ians.reports.model import CountryResult, Report
from ians.reports.page import Figure_, Names, chart_style, new_figure, note, span, svg, when
from ians.reports.stats import KaplanMeier, kaplan_meier

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_WITHIN, _LATE, _NEVER = "within target", "late", "never acknowledged"
_BAR_COLOURS = {  # Okabe-Ito: readable with colour-blindness
    _WITHIN: "#009E73",
    _LATE: "#E69F00",
    _NEVER: "#D55E00",
}
_RESPONDED = "responded"
_MARKS: dict[EventKind | str, tuple[str, str, str, bool]] = {  # label, marker, colour, filled
    EventKind.SENT: ("sent", "o", "#0072B2", False),
    EventKind.DELIVERED: ("delivered (e-mail, webhook)", "s", "#0072B2", False),
    EventKind.DELIVERY_FAILED: ("bounced or failed", "x", "#D55E00", True),
    EventKind.AUTO_REPLY: ("automatic reply", "s", "#999999", True),
    EventKind.REMINDED: ("reminded", "v", "#E69F00", True),
    EventKind.ESCALATED: ("escalated", "^", "#CC79A7", True),
    EventKind.ACKNOWLEDGED: ("acknowledged", "o", "#009E73", True),
    EventKind.GAVE_UP: ("gave up", "X", "#D55E00", True),
    _RESPONDED: ("assistance response", "D", "#56B4E9", True),
}
_TARGET_STYLES = (("#333333", "--"), ("#0072B2", ":"), ("#CC79A7", "-."), ("#56B4E9", "--"))
_STOPPED_COLOUR = "#D55E00"
_CAPTIONS = {
    "ack-times": "Acknowledgement times: the share acknowledged within a given time of"
    " sending. The ECDF counts the acknowledged rows only, so it reaches 100% whatever"
    " was missed; the Kaplan–Meier estimate keeps every row, each one never acknowledged"
    " counting as followed until the exercise ended (censored, +). Vertical lines mark"
    " the targets.",
    "by-country": "Per country: recipients acknowledged within target, late, or never.",
    "by-country-time": "Per country: how long it took to acknowledge (within target, late,"
    " or never); vertical lines mark the targets.",
    "timeline": "Swim lanes in scenario time: per country, one lane per message (labelled"
    " with its inject), when it was sent, delivered by e-mail or webhook (or bounced, or"
    " answered automatically), reminded, escalated (to whom), acknowledged (by whom and"
    " how) or given up, and when the country answered an assistance request; grey lines"
    " show how long each country was chased.",
}


def charts(report: Report, facts: ExerciseFacts, names: Names) -> list[Figure_]:
    """The three html charts; each copes with no data. Safe from several threads at once."""
    by_time = _one_each(report)
    country_key = "by-country-time" if by_time else "by-country"
    with chart_style():
        figures = {
            "ack-times": _ack_time_chart(report),
            country_key: _country_time_chart(report, names)
            if by_time
            else _country_chart(report, names),
            "timeline": _timeline_chart(report, facts, names),
        }
        return [svg(key, _CAPTIONS[key], fig) for key, fig in figures.items()]


PRINTED_BARS = 30  # countries per page of a per-country bar chart in the PDF
PRINTED_LANES = 40  # swim lanes per page of the PDF's timeline, readable at A4
PRINTED_COUNTRIES = 60  # countries drawn in the PDF's bar charts at most; the rest: tables
PRINTED_TIMELINE = 24  # countries drawn in the PDF's swim lanes at most


def printed_charts(report: Report, facts: ExerciseFacts, names: Names) -> list[Figure_]:
    """The charts of the PDF: those of `charts`, each per-country chart cut into pages an
    A4 sheet shows at a readable size. With more countries than PRINTED_COUNTRIES (bars) or
    PRINTED_TIMELINE (swim lanes), those charts draw the countries needing most attention
    (`attention`) and their captions say so and where every other country's figures are
    (the tables by country, which hold them all)."""
    by_time = _one_each(report)
    country_key = "by-country-time" if by_time else "by-country"
    order = attention(report)
    with chart_style():
        out = [svg("ack-times", _CAPTIONS["ack-times"], _ack_time_chart(report))]
        shown = _drawn(report, order, PRINTED_COUNTRIES)
        for i in range(0, len(shown), PRINTED_BARS):
            page = report.model_copy(update={"by_country": shown[i : i + PRINTED_BARS]})
            fig = _country_time_chart(page, names) if by_time else _country_chart(page, names)
            caption = _CAPTIONS[country_key] + _part(i, len(shown), PRINTED_BARS, report, shown)
            out.append(svg(f"{country_key}-{i // PRINTED_BARS}", caption, fig))
        drawn = {c.country for c in _drawn(report, order, PRINTED_TIMELINE)}
        pages = _lane_pages([c for c in facts.chases if c.country in drawn])
        for n, page_countries in enumerate(pages):
            chases = [c for c in facts.chases if c.country in page_countries]
            fig = _timeline_chart(report, replace(facts, chases=chases), names)
            caption = _CAPTIONS["timeline"]
            if len(pages) > 1:
                caption += f" Part {n + 1} of {len(pages)}."
            if n == 0 and len(drawn) < len(report.by_country):
                caption += _not_drawn(len(drawn), len(report.by_country))
            out.append(svg(f"timeline-{n}", caption, fig))
        if not pages:  # no message sent: the chart says so
            fig = _timeline_chart(report, facts, names)
            out.append(svg("timeline", _CAPTIONS["timeline"], fig))
        return out


def attention(report: Report) -> list[str]:
    """The countries, those needing most attention first: most rows never acknowledged,
    then most acknowledged late, then the slowest acknowledgement; ties by code."""
    return [
        c.country
        for c in sorted(
            report.by_country,
            key=lambda c: (
                -(c.recipients - c.acknowledged),
                -(c.acknowledged - c.within_target),
                -(c.ack_seconds.max or 0.0),
                c.country,
            ),
        )
    ]


def _drawn(report: Report, order: list[str], most: int) -> list[CountryResult]:
    """The first `most` countries of `order`, in the report's (code) order."""
    chosen = set(order[:most])
    return [c for c in report.by_country if c.country in chosen]


def _not_drawn(drawn: int, countries: int) -> str:
    return (
        f" Drawn for {drawn} of the {countries} countries, those needing most attention"
        " (most never acknowledged, then most late, then the slowest), in code order; the"
        f" other {countries - drawn} countries' figures are in the tables By country and"
        " Indicators by country, and every row's times in the csv or json report."
    )


def _part(i: int, shown: int, per_page: int, report: Report, drawn: list[CountryResult]) -> str:
    pages = -(-shown // per_page)
    text = f" Part {i // per_page + 1} of {pages}." if pages > 1 else ""
    if i == 0 and len(drawn) < len(report.by_country):
        text += _not_drawn(len(drawn), len(report.by_country))
    return text


def _lane_pages(chases: Sequence[Chase]) -> list[set[str]]:
    """The countries of each page of swim lanes, in code order: whole countries, at most
    PRINTED_LANES lanes a page (a country with more has a page of its own)."""
    lanes: dict[str, set[str]] = {}
    for c in chases:
        lanes.setdefault(c.country, set()).add(c.message_id)
    pages: list[set[str]] = []
    count = 0
    for country in sorted(lanes):
        n = len(lanes[country])
        if not pages or count + n > PRINTED_LANES:
            pages.append(set())
            count = 0
        pages[-1].add(country)
        count += n
    return pages


def _unit(seconds: float) -> tuple[float, str]:
    if seconds >= 2 * 3600:
        return 3600.0, "hours"
    if seconds >= 120:
        return 60.0, "minutes"
    return 1.0, "seconds"


def _targets(report: Report) -> dict[float, list[str]]:
    """Each target (seconds) and the message types it is the target of, in order seen."""
    targets: dict[float, list[str]] = {}
    for r in report.recipients:
        types = targets.setdefault(r.target_seconds, [])
        if r.type not in types:
            types.append(r.type)
    return targets


def _target_lines(ax: Axes, targets: dict[float, list[str]], unit: float) -> None:
    styles = _TARGET_STYLES * (len(targets) // len(_TARGET_STYLES) + 1)
    for (target, types), (colour, style) in zip(sorted(targets.items()), styles, strict=False):
        which = f" ({', '.join(types)})" if len(targets) > 1 else ""
        label = f"target {span(target)}{which}"
        ax.axvline(target / unit, color=colour, linestyle=style, linewidth=1.2, label=label)


def ack_curves(report: Report) -> tuple[list[float], KaplanMeier]:
    """What the acknowledgement-time chart draws: the acknowledged rows' times, ascending
    (their ECDF), and the Kaplan–Meier estimate over every row, a row never acknowledged
    being censored at the exercise's end (while it runs: at the latest time it reports)."""
    rows = report.recipients
    end = report.exercise.ended_at
    if end is None:
        end = max(
            (t for r in rows for t in (r.sent_at, r.acknowledged_at, r.responded_at) if t),
            default=report.exercise.started_at,
        )
    observations = [
        (r.ack_seconds, True)
        if r.ack_seconds is not None
        else (max(0.0, (end - r.sent_at).total_seconds()), False)
        for r in rows
    ]
    return sorted(t for t, acked in observations if acked), kaplan_meier(observations)


def _ack_time_chart(report: Report) -> Figure:
    from matplotlib.ticker import PercentFormatter

    fig, ax = new_figure(3.6, right=3.4)
    ax.set_title("Acknowledgement times", loc="left")
    rows = report.recipients
    if not rows:
        note(ax, "No recipients")
        return fig
    values, km = ack_curves(report)
    targets = _targets(report)
    top = max([*values, *targets, *(t for t, _ in km.censored)]) * 1.05 or 1.0
    unit, unit_name = _unit(top)
    n, k = len(rows), len(values)
    if k:
        ax.step(
            [0.0, *(v / unit for v in values), top / unit],
            [0.0, *((i + 1) / k for i in range(k)), 1.0],
            where="post",
            color="#0072B2",
            linewidth=1.5,
            linestyle="--",
            label=f"ECDF of the {k} acknowledged rows only",
        )
    ax.step(
        [0.0, *(t / unit for t, _ in km.steps), top / unit],
        [0.0, *(s for _, s in km.steps), km.steps[-1][1] if km.steps else 0.0],
        where="post",
        color="#009E73",
        linewidth=2,
        label=f"Kaplan–Meier over all {n} rows",
    )
    if km.censored:
        ax.plot(
            [t / unit for t, _ in km.censored],
            [s for _, s in km.censored],
            linestyle="none",
            marker="+",
            markersize=9,
            color="#D55E00",
            label=f"{n - k} never acknowledged,\ncensored at the exercise end",
        )
    _target_lines(ax, targets, unit)
    if k < n:
        ax.text(
            0.01,
            0.97,
            "Nobody acknowledged" if not k else f"{n - k} of {n} never acknowledged",
            transform=ax.transAxes,
            va="top",
            color="#D55E00",
        )
    ax.set_xlim(0, top / unit)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(f"Time from sending to acknowledgement ({unit_name}, scenario time)")
    ax.set_ylabel("Share acknowledged")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    return fig


def _label_margin(labels: Sequence[str], font: float = 9) -> float:
    """Inches a column of tick labels needs (an average glyph is ~0.6 em wide)."""
    return 0.25 + max((len(t) for t in labels), default=3) * font * 0.6 / 72


def _one_each(report: Report) -> bool:
    """True when every country has one recipient row (a connectivity test): counts per
    country would be equal bars, so the chart shows each country's time instead."""
    return bool(report.by_country) and all(c.recipients == 1 for c in report.by_country)


def _country_chart(report: Report, names: Names) -> Figure:
    """Per country, its recipient rows stacked: within target, late, never acknowledged."""
    from matplotlib.ticker import MaxNLocator

    countries = report.by_country
    labels = [names.country(c.country) for c in countries]
    fig, ax = new_figure(
        max(2.4, 1.0 + 0.3 * len(countries)), left=_label_margin(labels), right=2.0
    )
    ax.set_title("Results per country", loc="left")
    if not countries:
        note(ax, "No recipients")
        return fig
    parts = (
        [c.within_target for c in countries],
        [c.acknowledged - c.within_target for c in countries],
        [c.recipients - c.acknowledged for c in countries],
    )
    left = [0] * len(countries)
    for counts, (label, colour) in zip(parts, _BAR_COLOURS.items(), strict=True):
        ax.barh(range(len(countries)), counts, left=left, height=0.7, color=colour, label=label)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set_yticks(range(len(countries)), labels)
    ax.set_ylim(len(countries) - 0.5, -0.5)
    ax.set_xlim(0, max(left))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Recipients (message × country)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


@dataclass(frozen=True)
class CountryTime:
    """One bar of the per-country time chart."""

    label: str  # `HUN Hungary`
    seconds: float | None  # None: never acknowledged
    outcome: str  # within target | late | never acknowledged


def country_times(report: Report, names: Names) -> list[CountryTime]:
    """Each country's acknowledgement time (its slowest, should it have several rows),
    in the order of `report.by_country`."""
    out = []
    for c in report.by_country:
        outcome = _WITHIN if c.within_target == c.recipients else _LATE
        if c.acknowledged < c.recipients:
            outcome = _NEVER
        seconds = c.ack_seconds.max if outcome != _NEVER else None
        out.append(CountryTime(names.country(c.country), seconds, outcome))
    return out


def _country_time_chart(report: Report, names: Names) -> Figure:
    from matplotlib.patches import Patch

    bars = country_times(report, names)
    labels = [b.label for b in bars]
    fig, ax = new_figure(max(2.4, 1.0 + 0.22 * len(bars)), left=_label_margin(labels), right=2.0)
    ax.set_title("Acknowledgement time per country", loc="left")
    targets = _targets(report)
    top = max([*(b.seconds or 0 for b in bars), *targets]) * 1.05 or 1.0
    unit, unit_name = _unit(top)
    ys = range(len(bars))
    ax.barh(
        ys,
        [(b.seconds or 0) / unit for b in bars],
        height=0.7,
        color=[_BAR_COLOURS[b.outcome] for b in bars],
    )
    for y, b in zip(ys, bars, strict=True):
        if b.seconds is None:  # no bar to see: say it in words
            ax.text(0, y, " never acknowledged", va="center", color=_BAR_COLOURS[_NEVER])
    _target_lines(ax, targets, unit)
    ax.set_yticks(ys, labels)
    ax.set_ylim(len(bars) - 0.5, -0.5)
    ax.set_xlim(0, top / unit)
    ax.set_xlabel(f"Time from sending to acknowledgement ({unit_name}, scenario time)")
    handles: list[Artist] = [Patch(color=c, label=label) for label, c in _BAR_COLOURS.items()]
    handles += ax.get_legend_handles_labels()[0]  # the target lines
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


# --- timeline ----------------------------------------------------------------------------

_GAP = 0.6  # between countries, in lanes
_LABELLED_LANES = 150  # beyond, a country's lanes share its row unlabelled (a bounded chart)


@dataclass(frozen=True)
class Lanes:
    """Where the timeline draws each chase: one lane per (message, country)."""

    y: dict[tuple[str, str], float]  # (message id, country): lane position, top = 0
    lane_labels: list[tuple[float, str]]  # (position, inject); none for one message only
    country_labels: list[tuple[float, str]]  # (centre of the country's lanes, `HUN Hungary`)
    title: str
    inches: float  # of height per unit of position
    packed: bool = False  # each country's lanes share one row, unlabelled


def timeline_lanes(facts: ExerciseFacts, names: Names) -> Lanes:
    """The lanes of the timeline: per country in code order, its messages in the order
    sent, each labelled with its inject (a message a PoC sent: its type). With one message
    only, no lane labels: the title names it. With over _LABELLED_LANES lanes, each
    country's lanes are packed into one row, unlabelled, and the title says so."""
    order = {s.message.id: i for i, s in enumerate(facts.messages)}
    label = {
        s.message.id: s.inject or s.message.type.value.replace("_", " ") for s in facts.messages
    }
    per_country: dict[str, set[str]] = {}
    for c in facts.chases:
        if c.message_id in order:
            per_country.setdefault(c.country, set()).add(c.message_id)
    lanes = {k: sorted(v, key=order.__getitem__) for k, v in sorted(per_country.items())}
    packed = sum(map(len, lanes.values())) > _LABELLED_LANES
    y: dict[tuple[str, str], float] = {}
    lane_labels, country_labels = [], []
    at = 0.0
    for country, ids in lanes.items():
        if packed:  # one row per country, its lanes spread over 0.6 of it
            step = min(0.22, 0.6 / max(1, len(ids) - 1))
            for i, mid in enumerate(ids):
                y[(mid, country)] = at + (i - (len(ids) - 1) / 2) * step
            country_labels.append((at, names.country(country)))
            at += 1
            continue
        for mid in ids:
            y[(mid, country)] = at
            lane_labels.append((at, label[mid]))
            at += 1
        country_labels.append((at - 1 - (len(ids) - 1) / 2, names.country(country)))
        at += _GAP
    title = "Timeline"
    if packed:
        title += " (each country's messages in the order sent, top to bottom)"
        lane_labels = []
    elif len({mid for mid, _ in y}) == 1:
        title += f" of inject {lane_labels[0][1]}"
        lane_labels = []
    exercise = facts.exercise
    if exercise.state == "stopped" and exercise.ended_at is not None:
        title += f": stopped at {when(exercise.ended_at)}, before it completed"
    return Lanes(y, lane_labels, country_labels, title, 0.35 if packed else 0.2, packed)


def timeline_responses(report: Report, lanes: Lanes) -> list[tuple[datetime, float]]:
    """Each country's answer to an assistance request (scenario time), on its lane of
    the request."""
    out = []
    for r in report.recipients:
        lane = lanes.y.get((r.message_id, r.country))
        if r.responded_at is not None and lane is not None:
            out.append((r.responded_at, lane))
    return out


def timeline_notes(facts: ExerciseFacts, lanes: Lanes) -> list[tuple[datetime, float, str]]:
    """The words beside the timeline's marks (scenario time, lane, text): to whom each
    escalation went (`→ hun-2`), and who acknowledged first for the country and how
    (`hun-2 · email`)."""
    exercise = facts.exercise
    out = []
    acked: set[tuple[str, str]] = set()
    for e in facts.events:
        key = (e.message_id, e.country or "")
        lane = lanes.y.get(key)
        if lane is None or e.poc is None:
            continue
        if e.kind is EventKind.ESCALATED:
            out.append((exercise.scenario_time(e.at), lane, f"→ {e.poc}"))
        elif e.kind is EventKind.ACKNOWLEDGED and key not in acked:
            acked.add(key)
            via = e.detail.get("via", "api")
            out.append((exercise.scenario_time(e.at), lane, f"{e.poc} · {via}"))
    return out


def _timeline_chart(report: Report, facts: ExerciseFacts, names: Names) -> Figure:
    from matplotlib.collections import LineCollection
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.lines import Line2D

    exercise = facts.exercise
    lanes = timeline_lanes(facts, names)
    lane_font = 7.0
    inner = _label_margin([t for _, t in lanes.lane_labels], lane_font) if lanes.lane_labels else 0
    outer = _label_margin([t for _, t in lanes.country_labels])
    depth = max((p for p, _ in [*lanes.country_labels, *lanes.lane_labels]), default=0) + 1
    fig, ax = new_figure(max(2.4, 1.2 + lanes.inches * depth), left=inner + outer, right=1.9)
    ax.set_title(lanes.title, loc="left")
    if not lanes.y:
        note(ax, "No messages sent")
        return fig

    origin = float(date2num(exercise.started_at))  # type: ignore[no-untyped-call]

    def x(scenario_at: datetime) -> float:  # date2num is slow point by point
        return origin + (scenario_at - exercise.started_at) / timedelta(days=1)

    points: dict[EventKind | str, tuple[list[float], list[float]]] = {k: ([], []) for k in _MARKS}
    seen: set[tuple[object, ...]] = set()
    for e in facts.events:
        lane = lanes.y.get((e.message_id, e.country or ""))
        if e.kind not in _MARKS or e.kind is EventKind.SENT or lane is None:
            continue  # `sent` is one event per message: each chase marks its own start
        if e.kind is EventKind.DELIVERED and e.detail.get("channel", "inbox") == "inbox":
            continue  # the inbox entry comes with the sending: only other channels' arrivals
        # one mark per reminder step (not per PoC reminded), per PoC reached, per country ack
        key: tuple[object, ...] = (e.kind, e.message_id, e.country)
        if e.kind is not EventKind.ACKNOWLEDGED:
            key += (e.due_at if e.kind is EventKind.REMINDED else e.poc,)
        if key not in seen:
            seen.add(key)
            points[e.kind][0].append(x(exercise.scenario_time(e.at)))
            points[e.kind][1].append(lane)
    for at, lane in timeline_responses(report, lanes):
        points[_RESPONDED][0].append(x(at))
        points[_RESPONDED][1].append(lane)

    segments = []
    for c in facts.chases:
        lane = lanes.y.get((c.message_id, c.country))
        if lane is None:
            continue
        start = x(exercise.scenario_time(c.sent_at))
        points[EventKind.SENT][0].append(start)
        points[EventKind.SENT][1].append(lane)
        segments.append((start, c, lane))
    xs = [v for px, _ in points.values() for v in px] + [x(exercise.started_at)]
    horizon = x(exercise.ended_at) if exercise.ended_at else max(xs)
    lines = []
    for start, c, lane in segments:
        settled = settled_at(c)
        end = x(exercise.scenario_time(settled)) if settled else horizon
        lines.append([(start, lane), (end, lane)])
    ax.add_collection(LineCollection(lines, colors="#9CA3AF", linewidths=1.5, alpha=0.6, zorder=1))
    if not lanes.packed:  # room to say who and how
        for at, lane, text in timeline_notes(facts, lanes):
            ax.annotate(
                text,
                (x(at), lane),
                xytext=(4, -8) if text.startswith("→") else (4, 3),  # escalations below
                textcoords="offset points",
                fontsize=6,
                color="#444444",
                zorder=4,
            )
    for kind, (_, marker, colour, filled) in _MARKS.items():
        px, py = points[kind]
        if px:  # markers of a line, not a scatter: one SVG symbol, reused (much faster)
            ax.plot(
                px,
                py,
                linestyle="none",
                marker=marker,
                markersize=6,
                zorder=3,
                markerfacecolor=colour if filled else "none",
                markeredgecolor=colour,
            )
    handles = [
        Line2D(
            [],
            [],
            linestyle="none",
            marker=marker,
            markersize=6,
            label=label,
            markerfacecolor=colour if filled else "none",
            markeredgecolor=colour,
        )
        for kind, (label, marker, colour, filled) in _MARKS.items()
        if points[kind][0]  # only the marks drawn: no "gave up" where nobody was given up on
    ]
    if exercise.state == "stopped" and exercise.ended_at is not None:
        ax.axvline(horizon, color=_STOPPED_COLOUR, linestyle="--", linewidth=1.5, zorder=2)
        handles.append(Line2D([], [], color=_STOPPED_COLOUR, linestyle="--", label="stopped"))
    lo, hi = min(xs), max(*xs, horizon)
    hi = max(hi, lo + 60 / 86400)  # at least a minute wide: one instant is not a range
    pad = (hi - lo) * 0.03
    ax.set_xlim(lo - pad, hi + pad)
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_xlabel("Scenario time (UTC)")
    # two columns of labels: the country, then (nearer the axis) each lane's inject
    ax.set_yticks([p for p, _ in lanes.country_labels], [t for _, t in lanes.country_labels])
    ax.tick_params(axis="y", which="major", length=0, pad=inner * 72 + 3)
    if lanes.lane_labels:
        ax.set_yticks(
            [p for p, _ in lanes.lane_labels], [t for _, t in lanes.lane_labels], minor=True
        )
        ax.tick_params(axis="y", which="minor", length=2, labelsize=lane_font, labelcolor="#444")
    ax.set_ylim(depth - 0.5, -0.5)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


# --- history -------------------------------------------------------------------------------

_TREND_COLOURS = ("#0072B2", "#009E73", "#E69F00", "#CC79A7", "#56B4E9")


def history_chart(history: History, names: Names) -> Figure_:
    """The trend over the exercises of `history` (one point per exercise, oldest left):
    above, each indicator's rate; below, the median acknowledgement time."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    who = names.country(history.country) if history.country else "all recipient countries"
    caption = (
        f"Trend over {len(history.exercises)} exercises, oldest first, for {who}: each"
        " indicator's rate (above) and the median acknowledgement time (below)."
    )
    with chart_style():
        fig = Figure(figsize=(8.0, 5.2))
        fig.subplots_adjust(left=0.09, right=0.68, bottom=0.16, top=0.93, hspace=0.25)
        rates, times = fig.subplots(2, 1, sharex=True)
        rates.set_title(f"Trend: {who}", loc="left")
        xs = list(range(len(history.exercises)))
        if not xs:
            note(rates, "No exercise yet")
            note(times, "")
            return svg("history", caption, fig)
        labels = {d.id: d.label for d in history.definitions}
        for i, d in enumerate(history.definitions):
            ys = [
                next((m.rate for m in e.indicators if m.id == d.id), None)
                for e in history.exercises
            ]
            if all(y is None for y in ys):
                continue  # e.g. no exercise had an assistance request
            rates.plot(
                xs,
                [float("nan") if y is None else y for y in ys],
                marker="o",
                markersize=4,
                color=_TREND_COLOURS[i % len(_TREND_COLOURS)],
                label=labels[d.id],
            )
        rates.set_ylim(-0.02, 1.02)
        rates.yaxis.set_major_formatter(PercentFormatter(1.0))
        rates.set_ylabel("Rate")
        rates.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
        medians = [e.median_ack_seconds for e in history.exercises]
        top = max((m for m in medians if m is not None), default=0) * 1.1 or 60.0
        unit, unit_name = _unit(top)
        times.plot(
            xs,
            [float("nan") if m is None else m / unit for m in medians],
            marker="o",
            markersize=4,
            color="#333333",
            label="median acknowledgement time",
        )
        times.set_ylim(0, top / unit)
        times.set_ylabel(f"Median ({unit_name})")
        step = max(1, len(xs) // 12)  # at most a dozen dates under the axis
        times.set_xticks(
            xs[::step], [e.started_at.strftime("%Y-%m-%d") for e in history.exercises][::step]
        )
        times.tick_params(axis="x", labelrotation=30)
        return svg("history", caption, fig)

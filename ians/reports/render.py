"""A report as bytes: `json` and `csv` for programs, `md` and `html` for people (SPEC §10).

The html file is self-contained: inline CSS and three inline SVG charts drawn by
matplotlib (imported only when an html report is rendered), no external assets.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ians.domain.chase import EventKind
from ians.domain.durations import format_duration
from ians.domain.exercise import settled_at
from ians.errors import InvalidInput
from ians.reports.facts import ExerciseFacts
from ians.reports.model import AckSeconds, RecipientRow, Report
from ians.reports.page import (
    Figure_,
    Table,
    chart_style,
    html_document,
    html_figures,
    html_table,
    markdown,
    new_figure,
    note,
    svg,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = ("json", "csv", "md", "html")
"""The formats `render` writes."""

_MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
_LISTED = 20  # rows shown in the people's tables before "and N more"


def media_type(fmt: str) -> str:
    """The HTTP media type of `fmt`. Raises InvalidInput at `format` for an unknown one."""
    _check(fmt)
    return _MEDIA_TYPES[fmt]


def render(report: Report, facts: ExerciseFacts, fmt: str) -> bytes:
    """`report` in `fmt` (one of FORMATS), UTF-8; `facts` feed the html timeline.

    Raises InvalidInput at `format` for an unknown format.
    """
    _check(fmt)
    if fmt == "json":
        return (
            json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
        ).encode()
    if fmt == "csv":
        return _csv(report).encode()
    if fmt == "md":
        return _markdown(report).encode()
    return _html(report, _charts(report, facts)).encode()


def _check(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InvalidInput.at("format", f"{fmt!r} is not one of {', '.join(FORMATS)}")


def _csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(list(RecipientRow.model_fields))
    for row in report.recipients:
        writer.writerow(_cell(v) for v in row.model_dump(mode="json").values())
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- for people: the same tables in markdown and html -------------------------------


def _when(at: datetime | None) -> str:
    return "—" if at is None else at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _span(seconds: float | None) -> str:
    return "—" if seconds is None else format_duration(timedelta(seconds=seconds))


def _share(part: int, whole: int, rate: float) -> str:
    return f"{part} of {whole} ({rate * 100:.1f}%)"


def _facts(report: Report) -> list[tuple[str, str]]:
    e = report.exercise
    speed = f", speed {e.speed:g}" if e.clock == "real" else ""
    return [
        ("Exercise", f"{e.id} ({e.kind})"),
        ("Clock", f"{e.clock}{speed}; times in scenario time"),
        ("Started", _when(e.started_at)),
        ("Ended", _when(e.ended_at) if e.ended_at else "still running"),
    ]


def _summary(report: Report) -> Table:
    s = report.summary
    return Table(
        "Summary",
        ("Figure", "Value"),
        [
            ("Recipients (message × country)", str(s.recipients)),
            ("Acknowledged", _share(s.acknowledged, s.recipients, s.ack_rate)),
            ("Within target", _share(s.within_target, s.recipients, s.within_target_rate)),
            ("Median acknowledgement time", _span(s.ack_seconds.median)),
            ("90th percentile", _span(s.ack_seconds.p90)),
            ("Slowest acknowledgement", _span(s.ack_seconds.max)),
            ("Reminders", str(s.reminders)),
            ("Escalations", str(s.escalations)),
        ],
    )


def _spans(a: AckSeconds) -> tuple[str, str, str]:
    return _span(a.median), _span(a.p90), _span(a.max)


def _countries(report: Report) -> Table:
    return Table(
        "By country",
        ("Country", "Recipients", "Acknowledged", "Within target", "Median", "P90", "Max"),
        [
            (
                c.country,
                str(c.recipients),
                str(c.acknowledged),
                str(c.within_target),
                *_spans(c.ack_seconds),
            )
            for c in report.by_country
        ],
        numeric=frozenset(range(1, 7)),
    )


def _listed(title: str, headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> Table:
    return Table(title, headers, rows[:_LISTED], more=max(0, len(rows) - _LISTED))


def _inject(row: RecipientRow) -> str:
    return row.inject or "—"


def _people_tables(report: Report) -> list[Table]:
    rows = report.recipients
    never = [r for r in rows if r.ack_seconds is None]
    acked = sorted(
        (r for r in rows if r.ack_seconds is not None), key=lambda r: -(r.ack_seconds or 0)
    )
    chased = sorted(
        (r for r in rows if r.reminders or r.escalations),
        key=lambda r: -(r.reminders + r.escalations),
    )
    requests = [r for r in rows if r.type == "assistance_request"]
    tables = [
        _summary(report),
        _countries(report),
        _listed(
            "Not acknowledged",
            ("Inject", "Type", "Country", "Sent", "Reminders", "Escalations"),
            [
                (
                    _inject(r),
                    r.type,
                    r.country,
                    _when(r.sent_at),
                    str(r.reminders),
                    str(r.escalations),
                )
                for r in never
            ],
        ),
        _listed(
            "Slowest acknowledgements",
            ("Inject", "Type", "Country", "Acknowledged", "By", "Time", "Target", "Within target"),
            [
                (
                    _inject(r),
                    r.type,
                    r.country,
                    _when(r.acknowledged_at),
                    r.acknowledged_by or "—",
                    _span(r.ack_seconds),
                    _span(r.target_seconds),
                    "yes" if r.within_target else "no",
                )
                for r in acked
            ],
        ),
        _listed(
            "Reminders and escalations",
            ("Inject", "Type", "Country", "Reminders", "Escalations", "Acknowledged after"),
            [
                (
                    _inject(r),
                    r.type,
                    r.country,
                    str(r.reminders),
                    str(r.escalations),
                    _span(r.ack_seconds),
                )
                for r in chased
            ],
        ),
    ]
    if requests:
        tables.append(
            _listed(
                "Assistance responses",
                ("Inject", "Country", "Responded", "Response time"),
                [
                    (_inject(r), r.country, _when(r.responded_at), _span(r.response_seconds))
                    for r in requests
                ],
            )
        )
    return tables


def _markdown(report: Report) -> str:
    title = f"Acknowledgement report: {report.exercise.name}"
    return markdown(title, _facts(report), _people_tables(report))


def _all_recipients(report: Report) -> str:
    headers = tuple(RecipientRow.model_fields)
    rows = [
        tuple("—" if v is None else _cell(v) for v in r.model_dump(mode="json").values())
        for r in report.recipients
    ]
    numeric = frozenset(
        i for i, h in enumerate(headers) if h.endswith(("seconds", "reminders", "escalations"))
    )
    table = Table(f"All recipients ({len(rows)})", headers, rows, numeric=numeric)
    inner = html_table(table, heading="h3").removeprefix("<section>").removesuffix("</section>")
    return f"<details><summary>All recipients ({len(rows)})</summary>{inner}</details>"


def _html(report: Report, figures: Sequence[Figure_]) -> str:
    tables = _people_tables(report)
    body = (
        "".join(html_table(t) for t in tables[:2])
        + html_figures(figures)
        + "".join(html_table(t) for t in tables[2:])
        + _all_recipients(report)
    )
    return html_document(f"Acknowledgement report: {report.exercise.name}", _facts(report), body)


# --- charts (html only); matplotlib is imported on first use, it is slow to import ------

_BAR_COLOURS = (  # Okabe-Ito: readable with colour-blindness
    ("within target", "#009E73"),
    ("late", "#E69F00"),
    ("never acknowledged", "#D55E00"),
)
_MARKS: dict[EventKind, tuple[str, str, str, bool]] = {  # label, marker, colour, filled
    EventKind.SENT: ("sent", "o", "#0072B2", False),
    EventKind.REMINDED: ("reminded", "v", "#E69F00", True),
    EventKind.ESCALATED: ("escalated", "^", "#CC79A7", True),
    EventKind.ACKNOWLEDGED: ("acknowledged", "o", "#009E73", True),
    EventKind.GAVE_UP: ("gave up", "X", "#D55E00", True),
}
_TARGET_STYLES = (("#333333", "--"), ("#0072B2", ":"), ("#CC79A7", "-."), ("#56B4E9", "--"))
_CAPTIONS = {
    "ack-times": "Acknowledgement times: share of all recipients acknowledged within a given"
    " time of sending; vertical lines mark the targets.",
    "by-country": "Per country: recipients acknowledged within target, late, or never.",
    "timeline": "Timeline in scenario time: per country (one lane per message), when messages"
    " were sent, reminded, escalated, acknowledged or given up; grey lines show how long each"
    " country was chased.",
}


def _charts(report: Report, facts: ExerciseFacts) -> list[Figure_]:
    """The three html charts; each copes with no data. Safe from several threads at once."""
    with chart_style():
        figures = {
            "ack-times": _ack_time_chart(report),
            "by-country": _country_chart(report),
            "timeline": _timeline_chart(facts),
        }
        return [svg(key, _CAPTIONS[key], fig) for key, fig in figures.items()]


def _unit(seconds: float) -> tuple[float, str]:
    if seconds >= 2 * 3600:
        return 3600.0, "hours"
    if seconds >= 120:
        return 60.0, "minutes"
    return 1.0, "seconds"


def _ack_time_chart(report: Report) -> Figure:
    from matplotlib.ticker import PercentFormatter

    fig, ax = new_figure(3.6)
    ax.set_title("Acknowledgement times", loc="left")
    rows = report.recipients
    if not rows:
        note(ax, "No recipients")
        return fig
    values = sorted(r.ack_seconds for r in rows if r.ack_seconds is not None)
    targets: dict[float, list[str]] = {}
    for r in rows:
        types = targets.setdefault(r.target_seconds, [])
        if r.type not in types:
            types.append(r.type)
    top = max([*values, *targets]) * 1.05 or 1.0
    unit, unit_name = _unit(top)
    n, k = len(rows), len(values)
    ax.step(
        [0.0, *(v / unit for v in values), top / unit],
        [0.0, *((i + 1) / n for i in range(k)), k / n],
        where="post",
        color="#009E73",
        linewidth=2,
        label="acknowledged",
    )
    styles = _TARGET_STYLES * (len(targets) // len(_TARGET_STYLES) + 1)
    for (target, types), (colour, style) in zip(sorted(targets.items()), styles, strict=False):
        which = f" ({', '.join(types)})" if len(targets) > 1 else ""
        label = f"target {_span(target)}{which}"
        ax.axvline(target / unit, color=colour, linestyle=style, linewidth=1.2, label=label)
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
    ax.set_ylabel("Recipients acknowledged")
    ax.legend(loc="lower right", frameon=False)
    return fig


def _country_chart(report: Report) -> Figure:
    from matplotlib.ticker import MaxNLocator

    countries = report.by_country
    fig, ax = new_figure(max(2.4, 1.0 + 0.3 * len(countries)), left=0.55, right=2.0)
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
    for counts, (label, colour) in zip(parts, _BAR_COLOURS, strict=True):
        ax.barh(range(len(countries)), counts, left=left, height=0.7, color=colour, label=label)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set_yticks(range(len(countries)), [c.country for c in countries])
    ax.set_ylim(len(countries) - 0.5, -0.5)
    ax.set_xlim(0, max(left))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Recipients (message × country)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def _timeline_chart(facts: ExerciseFacts) -> Figure:
    from matplotlib.collections import LineCollection
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.lines import Line2D

    exercise = facts.exercise
    countries = sorted({c.country for c in facts.chases})
    row = {country: i for i, country in enumerate(countries)}
    fig, ax = new_figure(max(2.4, 1.1 + 0.35 * len(countries)), left=0.55, right=1.7)
    ax.set_title("Timeline", loc="left")
    if not countries:
        note(ax, "No messages sent")
        return fig

    origin = float(date2num(exercise.started_at))  # type: ignore[no-untyped-call]

    def x(scenario_at: datetime) -> float:  # date2num is slow point by point
        return origin + (scenario_at - exercise.started_at) / timedelta(days=1)

    # each message has its own lane within a country's row, so chases do not overlap
    ids = [s.message.id for s in facts.messages]
    step = min(0.22, 0.6 / max(1, len(ids) - 1))
    lane = {mid: (i - (len(ids) - 1) / 2) * step for i, mid in enumerate(ids)}

    def y(message_id: str, country: str) -> float:
        return row[country] + lane.get(message_id, 0.0)

    points: dict[EventKind, tuple[list[float], list[float]]] = {k: ([], []) for k in _MARKS}
    seen: set[tuple[object, ...]] = set()
    for e in facts.events:
        if e.kind not in _MARKS or e.kind is EventKind.SENT or e.country not in row:
            continue  # `sent` is one event per message: each chase marks its own start
        # one mark per reminder step (not per PoC reminded), per PoC reached, per country ack
        key: tuple[object, ...] = (e.kind, e.message_id, e.country)
        if e.kind is not EventKind.ACKNOWLEDGED:
            key += (e.due_at if e.kind is EventKind.REMINDED else e.poc,)
        if key not in seen:
            seen.add(key)
            points[e.kind][0].append(x(exercise.scenario_time(e.at)))
            points[e.kind][1].append(y(e.message_id, e.country))

    for c in facts.chases:
        if c.country in row:
            points[EventKind.SENT][0].append(x(exercise.scenario_time(c.sent_at)))
            points[EventKind.SENT][1].append(y(c.message_id, c.country))
    xs = [v for px, _ in points.values() for v in px] + [x(exercise.started_at)]
    horizon = x(exercise.ended_at) if exercise.ended_at else max(xs)
    segments = []
    for c in facts.chases:
        settled = settled_at(c)
        end = x(exercise.scenario_time(settled)) if settled else horizon
        at = y(c.message_id, c.country)
        segments.append([(x(exercise.scenario_time(c.sent_at)), at), (end, at)])
    ax.add_collection(
        LineCollection(segments, colors="#9CA3AF", linewidths=1.5, alpha=0.6, zorder=1)
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
    lo, hi = min(xs), max(*xs, horizon)
    hi = max(hi, lo + 60 / 86400)  # at least a minute wide: one instant is not a range
    pad = (hi - lo) * 0.03
    ax.set_xlim(lo - pad, hi + pad)
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_xlabel("Scenario time (UTC)")
    ax.set_yticks(range(len(countries)), countries)
    ax.set_ylim(len(countries) - 0.5, -0.5)
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
        for label, marker, colour, filled in _MARKS.values()
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig

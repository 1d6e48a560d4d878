"""A report as bytes: `json` and `csv` for programs, `md` and `html` for people (SPEC §10).

The html file is self-contained: inline CSS and three inline SVG charts drawn by
matplotlib (imported only when an html report is rendered), no external assets. The
people's formats name countries beside their codes and round durations to the second;
json and csv keep codes and seconds to the millisecond.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from ians.errors import InvalidInput
from ians.reports.facts import ExerciseFacts
from ians.reports.history import History, Measure
from ians.reports.model import (
    AckSeconds,
    Finding,
    Findings,
    Indicator,
    IndicatorCount,
    RecipientRow,
    Report,
)
from ians.reports.page import (
    Figure_,
    Names,
    Table,
    html_document,
    html_figures,
    html_table,
    markdown,
    printed_table,
    span,
    when,
)
from ians.reports.pdf import pdf_of, running_head
from ians.reports.stats import rate

FORMATS = ("json", "csv", "md", "html", "pdf")
"""The formats `render` writes."""

_MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}
_LEADING = 5  # tables above the charts in html: summary, by country, the indicators
_LISTED = 20  # rows shown in the people's tables before "and N more"


def media_type(fmt: str) -> str:
    """The HTTP media type of `fmt`. Raises InvalidInput at `format` for an unknown one."""
    _check(fmt)
    return _MEDIA_TYPES[fmt]


def render(report: Report, facts: ExerciseFacts, fmt: str, names: Names | None = None) -> bytes:
    """`report` in `fmt` (one of FORMATS), UTF-8; `facts` feed the html timeline, `names`
    (country names) the md and html ones.

    Raises InvalidInput at `format` for an unknown format.
    """
    _check(fmt)
    names = names or Names()
    if fmt == "json":
        return (
            json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
        ).encode()
    if fmt == "csv":
        return _csv(report).encode()
    if fmt == "md":
        return _markdown(report, names).encode()
    from ians.reports.charts import charts, printed_charts  # matplotlib: html and pdf only

    if fmt == "pdf":
        return pdf_of(printed_html(report, names, printed_charts(report, facts, names)))
    return _html(report, names, charts(report, facts, names)).encode()


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


def findings_csv(findings: Findings) -> str:
    """The improvement plan as CSV: kind, country, poc, issue, action."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(list(Finding.model_fields))
    for item in findings.items:
        writer.writerow(_cell(v) for v in item.model_dump(mode="json").values())
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):  # a row's channels: `email: bounced; inbox: delivered`
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- for people: the same tables in markdown and html -------------------------------


def _share(part: int, whole: int, rate: float) -> str:
    return f"{part} of {whole} ({rate * 100:.1f}%)"


def _facts(report: Report) -> list[tuple[str, str]]:
    e = report.exercise
    speed = f", speed {e.speed:g}" if e.clock == "real" else ""
    return [
        ("Exercise", f"{e.id} ({e.kind})"),
        ("Mode", e.mode or "—"),
        ("Clock", f"{e.clock}{speed}; times in scenario time"),
        ("State", e.state),
        ("Started", when(e.started_at)),
        ("Ended", when(e.ended_at) if e.ended_at else "still running"),
    ]


def _banner(report: Report) -> str:
    """A stopped or running exercise says so above everything else."""
    e = report.exercise
    if e.state == "stopped":
        return (
            f"Stopped at {when(e.ended_at)}, before it completed: the figures cover"
            " what happened until then."
        )
    if e.state == "running":
        return "Still running: the figures cover what has happened so far."
    return ""


def _summary(report: Report) -> Table:
    s = report.summary
    return Table(
        "Summary",
        ("Figure", "Value"),
        [
            ("Recipients (message × country)", str(s.recipients)),
            ("Reached", _share(s.reached, s.recipients, rate(s.reached, s.recipients))),
            ("Acknowledged", _share(s.acknowledged, s.recipients, s.ack_rate)),
            ("Within target", _share(s.within_target, s.recipients, s.within_target_rate)),
            ("Median acknowledgement time", span(s.ack_seconds.median)),
            ("Median, Kaplan–Meier over all rows", _km_median(report)),
            ("90th percentile", span(s.ack_seconds.p90)),
            ("Slowest acknowledgement", span(s.ack_seconds.max)),
            ("Reminders", str(s.reminders)),
            ("Escalations", str(s.escalations)),
        ],
    )


def _indicator_cell(i: Indicator | IndicatorCount) -> str:
    if i.rate is None:
        return "—"
    return f"{i.value}/{i.of} ({i.rate * 100:.0f}%)"


def _indicators(report: Report, names: Names) -> list[Table]:
    """The indicators overall and per country, then their definitions."""
    overall = report.summary.indicators
    labels = tuple(i.label for i in overall)
    return [
        Table(
            "Indicators",
            ("Indicator", "Overall"),
            [(i.label, _indicator_cell(i)) for i in overall],
            numeric=frozenset({1}),
        ),
        Table(
            "Indicators by country",
            ("Country", *labels),
            [
                (names.country(c.country), *(_indicator_cell(i) for i in c.indicators))
                for c in report.by_country
            ],
            numeric=frozenset(range(1, len(labels) + 1)),
        ),
        Table(
            "Definitions", ("Indicator", "Definition"), [(i.label, i.definition) for i in overall]
        ),
    ]


def _km_median(report: Report) -> str:
    from ians.reports.charts import ack_curves  # plain maths; matplotlib stays unimported

    median = ack_curves(report)[1].median()
    return "not reached: under half acknowledged" if median is None else span(median)


def _spans(a: AckSeconds) -> tuple[str, str, str]:
    return span(a.median), span(a.p90), span(a.max)


def _countries(report: Report, names: Names) -> Table:
    return Table(
        "By country",
        ("Country", "Recipients", "Acknowledged", "Within target", "Median", "P90", "Max"),
        [
            (
                names.country(c.country),
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


def _people_tables(report: Report, names: Names) -> list[Table]:
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
        _countries(report, names),
        *_indicators(report, names),
        _listed(
            "Not acknowledged",
            ("Inject", "Type", "Country", "Sent", "Reminders", "Escalations"),
            [
                (
                    _inject(r),
                    r.type,
                    names.country(r.country),
                    when(r.sent_at),
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
                    names.country(r.country),
                    when(r.acknowledged_at),
                    r.acknowledged_by or "—",
                    span(r.ack_seconds),
                    span(r.target_seconds),
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
                    names.country(r.country),
                    str(r.reminders),
                    str(r.escalations),
                    span(r.ack_seconds),
                )
                for r in chased
            ],
        ),
    ]
    tables.append(_findings(report, names))
    tables += _channel_tables(report, names)
    if requests:
        tables.append(
            _listed(
                "Assistance responses",
                ("Inject", "Country", "Responded", "Response time"),
                [
                    (
                        _inject(r),
                        names.country(r.country),
                        when(r.responded_at),
                        span(r.response_seconds),
                    )
                    for r in requests
                ],
            )
        )
    return tables


def _findings(report: Report, names: Names) -> Table:
    f = report.findings
    edited = (
        f" (edited {when(f.edited_at)})" if f.edited_at is not None else " (found automatically)"
    )
    return Table(
        "Improvement plan" + edited,
        ("Issue", "Country", "Suggested action"),
        [(i.issue, names.country(i.country) if i.country else "—", i.action) for i in f.items],
        empty="No finding.",
    )


_OUTCOME_WORDS = {
    "replied": "answered",
    "auto_reply": "automatic reply",
    "delivered": "delivered",
    "bounced": "bounced",
    "failed": "failed",
    "retrying": "retrying",
}


def _channel_tables(report: Report, names: Names) -> list[Table]:
    """The funnel per channel, then how each row was reached and answered (the rows not
    reached first)."""
    funnel = Table(
        "Channels",
        (
            "Channel",
            "Sent",
            "Delivered",
            "Acknowledged through it",
            "Bounced or failed",
            "Auto-replies",
        ),
        [
            (
                f.channel,
                str(f.sent),
                str(f.delivered),
                str(f.acknowledged),
                str(f.bounced),
                str(f.auto_replies),
            )
            for f in report.channels
        ],
        numeric=frozenset(range(1, 6)),
        empty="No delivery recorded.",
    )
    rows = sorted(report.recipients, key=lambda r: (r.reached, r.acknowledged_at is not None))
    how = _listed(
        "How each recipient was reached and answered",
        ("Inject", "Country", "Reached", "Channels", "Answered", "By"),
        [
            (
                _inject(r),
                names.country(r.country),
                "yes" if r.reached else "no",
                ", ".join(f"{c} {_OUTCOME_WORDS.get(o, o)}" for c, o in r.channels.items()) or "—",
                r.acknowledged_via or "never",
                r.acknowledged_by or "—",
            )
            for r in rows
        ],
    )
    return [funnel, how]


def _markdown(report: Report, names: Names) -> str:
    title = f"Acknowledgement report: {report.exercise.name}"
    return markdown(title, _facts(report), _people_tables(report, names), _banner(report))


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


def printed_html(report: Report, names: Names, figures: Sequence[Figure_]) -> str:
    """The page the PDF is laid out from."""
    return _html(report, names, figures, printed=True)


def _html(report: Report, names: Names, figures: Sequence[Figure_], printed: bool = False) -> str:
    """The html page; `printed` (for the PDF): a running header, and no table of every
    row (the csv is that table)."""
    tables = _people_tables(report, names)
    table = printed_table if printed else html_table
    body = (
        "".join(table(t) for t in tables[:_LEADING])
        + html_figures(figures)
        + "".join(table(t) for t in tables[_LEADING:])
        + ("" if printed else _all_recipients(report))
    )
    title = f"Acknowledgement report: {report.exercise.name}"
    running = running_head(report.exercise.mode, title) if printed else ""
    return html_document(title, _facts(report), body, _banner(report), running)


# --- history -------------------------------------------------------------------------------


def _measure_cell(m: Measure) -> str:
    return "—" if m.rate is None else f"{m.value}/{m.of} ({m.rate * 100:.0f}%)"


def _history_tables(history: History, names: Names) -> list[Table]:
    labels = tuple(d.label for d in history.definitions)
    first = 4  # columns before the indicators
    exercises = Table(
        "Exercises",
        ("Exercise", "Started", "Kind", "Recipients", *labels, "Median"),
        [
            (
                f"{e.name} ({e.exercise_id})",
                when(e.started_at),
                e.kind,
                str(e.recipients),
                *(_measure_cell(m) for m in e.indicators),
                span(e.median_ack_seconds),
            )
            for e in history.exercises
        ],
        numeric=frozenset(range(3, first + len(labels) + 1)),
        empty="No exercise yet.",
    )
    by_country = Table(
        "By country and exercise",
        ("Country", "Exercise", "Started", "Recipients", *labels, "Median"),
        [
            (
                names.country(c.country),
                c.exercise_id,
                when(c.started_at),
                str(c.recipients),
                *(_measure_cell(m) for m in c.indicators),
                span(c.median_ack_seconds),
            )
            for c in sorted(history.by_country, key=lambda c: c.country)  # stable: oldest first
        ],
        numeric=frozenset(range(3, first + len(labels) + 1)),
        empty="No exercise yet.",
    )
    defined: list[tuple[str, ...]] = [(d.label, d.definition) for d in history.definitions]
    defined.append(
        ("Median", "The nearest-rank median of the acknowledgement times, in scenario time.")
    )
    definitions = Table("Definitions", ("Indicator", "Definition"), defined)
    return [exercises, by_country, definitions]


def _history_facts(history: History, names: Names) -> list[tuple[str, str]]:
    return [
        ("Countries", names.country(history.country) if history.country else "all"),
        ("Kind", history.kind or "drills and connectivity tests"),
        ("Exercises", f"{len(history.exercises)}, oldest first; rehearsals left out"),
    ]


def history_csv(history: History) -> str:
    """One line per country and exercise: ids, start, recipients, median, then per
    indicator its value, of and rate."""
    out = io.StringIO()
    writer = csv.writer(out)
    ids = [d.id for d in history.definitions]
    writer.writerow(
        ["exercise_id", "started_at", "country", "recipients", "median_ack_seconds"]
        + [f"{i}_{part}" for i in ids for part in ("value", "of", "rate")]
    )
    for c in history.by_country:
        dumped = c.model_dump(mode="json")
        writer.writerow(
            [dumped["exercise_id"], dumped["started_at"], c.country, c.recipients]
            + [_cell(dumped["median_ack_seconds"])]
            + [_cell(v) for m in c.indicators for v in (m.value, m.of, m.rate)]
        )
    return out.getvalue()


def render_history(history: History, fmt: str, names: Names | None = None) -> bytes:
    """`history` in `fmt` (json, csv, md, html). Raises InvalidInput at `format`."""
    _check(fmt)
    names = names or Names()
    title = "Exercise history" + (f": {names.country(history.country)}" if history.country else "")
    if fmt == "json":
        return (
            json.dumps(history.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
        ).encode()
    if fmt == "csv":
        return history_csv(history).encode()
    tables = _history_tables(history, names)
    facts = _history_facts(history, names)
    if fmt == "md":
        return markdown(title, facts, tables).encode()
    from ians.reports.charts import history_chart

    table = printed_table if fmt == "pdf" else html_table
    body = (
        table(tables[0])
        + html_figures([history_chart(history, names)])
        + "".join(table(t) for t in tables[1:])
    )
    if fmt == "pdf":
        return pdf_of(html_document(title, facts, body, running=running_head(None, title)))
    return html_document(title, facts, body).encode()

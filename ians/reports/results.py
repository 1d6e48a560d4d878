"""Consultation results for people: `md`, and one self-contained `html` page with a bar
chart of the tally of every choice and scale question."""

from __future__ import annotations

import textwrap
from typing import Any

from ians.reports.page import (
    Figure_,
    Names,
    Table,
    chart_style,
    html_document,
    html_figures,
    html_table,
    markdown,
    new_figure,
    svg,
    when,
)

_TITLE_WIDTH = 85  # characters of a chart title per line: the 8-inch figure at 10.8 pt
_LABEL_WIDTH = 34  # characters of an answer label per line, in the left margin


def render_results(results: dict[str, Any], fmt: str, names: Names | None = None) -> bytes:
    """The results (as `Consultations.results` gives them) as `md` or `html`, UTF-8;
    `names` give countries' names and the organisations of those who did not answer."""
    names = names or Names()
    title = f"Consultation results: {results['consultation']['name']}"
    tables = _tables(results, names)
    if fmt == "md":
        return markdown(title, _facts(results), tables).encode()
    body = html_figures(_charts(results)) + "".join(html_table(t) for t in tables)
    if fmt == "pdf":
        from ians.reports.pdf import pdf_of, running_head

        running = running_head("consultation", title)
        return pdf_of(html_document(title, _facts(results), body, running=running))
    return html_document(title, _facts(results), body).encode()


def _facts(results: dict[str, Any]) -> list[tuple[str, str]]:
    c = results["consultation"]
    return [
        ("Consultation", c["id"]),
        ("Opened", when(c["opened_at"])),
        ("Deadline", when(c["deadline"])),
        ("State", "closed" if c["closed"] else "open"),
        (
            "Responses",
            f"{results['responded']} of {results['invited']} invited"
            f" ({results['response_rate']:.1%})",
        ),
    ]


def _tables(results: dict[str, Any], names: Names) -> list[Table]:
    tables = [
        Table(
            "Responses by country",
            ("Country", "Invited", "Responded", "Rate"),
            [
                (
                    names.country(r["country"]),
                    str(r["invited"]),
                    str(r["responded"]),
                    f"{r['response_rate']:.1%}",
                )
                for r in results["by_country"]
            ],
            numeric=frozenset({1, 2, 3}),
        )
    ]
    for q in results["questions"]:
        title = f"{q['id']}: {q['text']} ({q['answers']} answers)"
        if "texts" in q:
            tables.append(
                Table(title, ("Answer",), [(t,) for t in q["texts"]], empty="No answers.")
            )
            continue
        rows: list[tuple[str, ...]] = [(_option(q, o), str(n)) for o, n in q["tally"].items()]
        if q.get("mean") is not None:
            rows.append(("mean", f"{q['mean']:.2f}"))
        tables.append(Table(title, ("Answer", "Count"), rows, numeric=frozenset({1})))
    tables.append(
        Table(
            "Not answered",
            ("Point of contact", "Country", "Organisation"),
            [_who(p, names) for p in results["non_respondents"]],
            empty="Everybody answered.",
        )
    )
    return tables


def _who(poc: str, names: Names) -> tuple[str, str, str]:
    country, organisation = names.pocs.get(poc, ("", ""))
    return poc, names.country(country) if country else "—", organisation or "—"


def _option(q: dict[str, Any], option: str) -> str:
    """An answer as people read it: a point of a scale with its label (`1 (not useful)`)."""
    label = q.get("labels", {}).get(option)
    return f"{option} ({label})" if label else option


def _charts(results: dict[str, Any]) -> list[Figure_]:
    """One horizontal bar chart per choice or scale question."""
    from matplotlib.ticker import MaxNLocator

    charts = []
    with chart_style():
        for q in results["questions"]:
            if "tally" not in q:
                continue
            options = list(q["tally"])
            labels = [_wrapped(_option(q, o), _LABEL_WIDTH) for o in options]
            title = _wrapped(f"{q['id']}: {q['text']}", _TITLE_WIDTH)
            title_lines = title.count("\n") + 1
            rows = sum(label.count("\n") + 1 for label in labels)
            top = 0.2 + 0.18 * title_lines
            left, right = 2.6, 0.9 if q.get("mean") is not None else 0.4  # room for the mean
            fig, ax = new_figure(0.75 + top + 0.3 * rows, left=left, right=right, top=top)
            ax.barh(range(len(options)), [q["tally"][o] for o in options], color="#0072B2")
            ax.set_yticks(range(len(options)), labels)
            ax.invert_yaxis()
            ax.set_xlabel("answers")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlim(0, max(1, *q["tally"].values()))  # no answers yet: 0 to 1, not ±0.05
            # the figure's left edge, not the axes': a long title has the whole width
            width = fig.get_figwidth() - left - right
            ax.set_title(title, loc="left", x=(0.1 - left) / width, ha="left")
            if q.get("mean") is not None:
                _mean_line(ax, q, options)
            caption = f"{q['id']}: how the {q['answers']} answers were spread"
            charts.append(svg(f"tally-{q['id']}", caption, fig))
    return charts


def _wrapped(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _mean_line(ax: Any, q: dict[str, Any], options: list[str]) -> None:
    """A scale's mean, drawn where it falls between the points of the scale."""
    low = int(options[0])
    at = q["mean"] - low  # the bars are drawn at 0, 1, … for low, low + 1, …
    ax.axhline(at, color="#D55E00", linestyle="--", linewidth=1.2)
    where = ax.get_yaxis_transform()  # x in axes fraction, y in data
    ax.text(1.0, at, f" mean {q['mean']:.2f}", transform=where, va="center", color="#D55E00")

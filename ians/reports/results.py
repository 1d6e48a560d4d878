"""Consultation results for people: `md`, and one self-contained `html` page with a bar
chart of the tally of every choice and scale question."""

from __future__ import annotations

from typing import Any

from ians.reports.page import (
    Figure_,
    Table,
    chart_style,
    html_document,
    html_figures,
    html_table,
    markdown,
    new_figure,
    svg,
)


def render_results(results: dict[str, Any], fmt: str) -> bytes:
    """The results (as `Consultations.results` gives them) as `md` or `html`, UTF-8."""
    title = f"Consultation results: {results['consultation']['name']}"
    if fmt == "md":
        return markdown(title, _facts(results), _tables(results)).encode()
    body = html_figures(_charts(results)) + "".join(html_table(t) for t in _tables(results))
    return html_document(title, _facts(results), body).encode()


def _facts(results: dict[str, Any]) -> list[tuple[str, str]]:
    c = results["consultation"]
    return [
        ("Consultation", c["id"]),
        ("Opened", c["opened_at"]),
        ("Deadline", c["deadline"]),
        ("State", "closed" if c["closed"] else "open"),
        (
            "Responses",
            f"{results['responded']} of {results['invited']} invited"
            f" ({results['response_rate']:.1%})",
        ),
    ]


def _tables(results: dict[str, Any]) -> list[Table]:
    tables = [
        Table(
            "Responses by country",
            ("Country", "Invited", "Responded", "Rate"),
            [
                (r["country"], str(r["invited"]), str(r["responded"]), f"{r['response_rate']:.1%}")
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
        rows: list[tuple[str, ...]] = [(str(o), str(n)) for o, n in q["tally"].items()]
        if q.get("mean") is not None:
            rows.append(("mean", f"{q['mean']:.2f}"))
        tables.append(Table(title, ("Answer", "Count"), rows, numeric=frozenset({1})))
    tables.append(
        Table(
            "Not answered",
            ("Point of contact",),
            [(p,) for p in results["non_respondents"]],
            empty="Everybody answered.",
        )
    )
    return tables


def _charts(results: dict[str, Any]) -> list[Figure_]:
    """One horizontal bar chart per choice or scale question."""
    from matplotlib.ticker import MaxNLocator

    charts = []
    with chart_style():
        for q in results["questions"]:
            if "tally" not in q:
                continue
            labels = list(q["tally"])
            fig, ax = new_figure(0.9 + 0.32 * len(labels), left=2.6, right=0.4)
            ax.barh(range(len(labels)), [q["tally"][label] for label in labels], color="#0072B2")
            ax.set_yticks(range(len(labels)), [label[:40] for label in labels])
            ax.invert_yaxis()
            ax.set_xlabel("answers")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(f"{q['id']}: {q['text'][:90]}", loc="left")
            caption = f"{q['id']}: how the {q['answers']} answers were spread"
            charts.append(svg(f"tally-{q['id']}", caption, fig))
    return charts

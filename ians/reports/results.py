"""Consultation results for people: `md`, and one self-contained `html` page with a bar
chart of the tally of every choice and scale question (inline SVG, no external assets)."""

from __future__ import annotations

from html import escape
from typing import Any

from ians.reports.render import (
    _CHARTS_LOCK,
    _CSS,
    _html_table,
    _md_cell,
    _new_figure,
    _svg,
    _Table,
)


def render_results(results: dict[str, Any], fmt: str) -> bytes:
    """The results (as `Consultations.results` gives them) as `md` or `html`, UTF-8."""
    if fmt == "md":
        return _markdown(results).encode()
    return _html(results).encode()


def _title(results: dict[str, Any]) -> str:
    return f"Consultation results: {results['consultation']['name']}"


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


def _tables(results: dict[str, Any]) -> list[_Table]:
    tables = [
        _Table(
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
                _Table(title, ("Answer",), [(t,) for t in q["texts"]], empty="No answers.")
            )
        else:
            rows: list[tuple[str, ...]] = [(str(o), str(n)) for o, n in q["tally"].items()]
            if q.get("mean") is not None:
                rows.append(("mean", f"{q['mean']:.2f}"))
            tables.append(_Table(title, ("Answer", "Count"), rows, numeric=frozenset({1})))
    tables.append(
        _Table(
            "Not answered",
            ("Point of contact",),
            [(p,) for p in results["non_respondents"]],
            empty="Everybody answered.",
        )
    )
    return tables


def _markdown(results: dict[str, Any]) -> str:
    lines = [f"# {_md_cell(_title(results))}", ""]
    lines += [f"- **{k}:** {_md_cell(v)}" for k, v in _facts(results)]
    for table in _tables(results):
        lines += ["", f"## {_md_cell(table.title)}", ""]
        if not table.rows:
            lines.append(table.empty)
            continue
        lines.append("| " + " | ".join(table.headers) + " |")
        lines.append(
            "|"
            + "|".join("---:" if i in table.numeric else "---" for i in range(len(table.headers)))
            + "|"
        )
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def _html(results: dict[str, Any]) -> str:
    title = _title(results)
    facts = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in _facts(results))
    figures = "".join(
        f'<figure aria-labelledby="{fid}-caption">{svg}'
        f'<figcaption id="{fid}-caption">{escape(caption)}</figcaption></figure>'
        for fid, caption, svg in _charts(results)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f'<body><main><h1>{escape(title)}</h1><dl class="facts">{facts}</dl>'
        f"<section><h2>Charts</h2>{figures}</section>"
        + "".join(_html_table(t) for t in _tables(results))
        + "</main></body></html>\n"
    )


def _charts(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(id, caption, svg): one horizontal bar chart per choice or scale question."""
    import matplotlib
    from matplotlib.ticker import MaxNLocator

    matplotlib.use("Agg")
    charts = []
    with (
        _CHARTS_LOCK,
        matplotlib.rc_context(
            {
                "svg.fonttype": "none",
                "text.parse_math": False,
                "font.size": 9,
                "axes.spines.top": False,
                "axes.spines.right": False,
            }
        ),
    ):
        for q in results["questions"]:
            if "tally" not in q:
                continue
            labels = list(q["tally"])
            counts = [q["tally"][label] for label in labels]
            fig, ax = _new_figure(0.9 + 0.32 * len(labels), left=2.6, right=0.4)
            ax.barh(range(len(labels)), counts, color="#0072B2")
            ax.set_yticks(range(len(labels)), [label[:40] for label in labels])
            ax.invert_yaxis()
            ax.set_xlabel("answers")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(f"{q['id']}: {q['text'][:90]}", loc="left")
            caption = f"{q['id']}: how the {q['answers']} answers were spread"
            charts.append(_svg(f"tally-{q['id']}", caption, fig))
    return charts

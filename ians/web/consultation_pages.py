"""The secretariat's consultations: the list, a start from a bundled consultation scenario or
an uploaded file (the exercises' start form), and each consultation's page: its response
rate, kept fresh while it is open, and its results as tables, downloadable in every format
GET /api/consultations/{id}/results gives.

(`/consultations/{id}` itself is the invited PoC's form, ians/web/form_pages.py.)
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ians.reports.render import FORMATS
from ians.web.browser import Viewer, guarded
from ians.web.exercise_pages import inline_report, list_page, start_page
from ians.web.keys import consultations_key
from ians.web.render import page
from ians.web.routes import consultation_results

REFRESH = "every 2s"  # how often an open page asks for the response rate (htmx)


@guarded("admin")
async def consultations(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return await list_page(request, viewer, consultations=True)


@guarded("admin")
async def consultation_start_page(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return await start_page(request, viewer, consultation=True)


async def results_answer(request: web.Request, consultation_id: str, fmt: str) -> web.Response:
    """The API's answer to GET /api/consultations/{id}/results?format=fmt."""
    url = request.rel_url.with_path(f"/api/consultations/{consultation_id}/results")
    return await consultation_results(request.clone(rel_url=url.with_query(format=fmt)), None)


async def rate_context(request: web.Request) -> dict[str, Any]:
    """The consultation's record and results (Consultations.results). Raises
    UnknownConsultation."""
    consultation_id = request.match_info["consultation_id"]
    opened = await request.app[consultations_key].get(consultation_id)
    results = await request.app[consultations_key].results(consultation_id)
    return {"c": opened.record, "results": results, "refresh": REFRESH}


@guarded("admin")
async def results_page(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    context = await rate_context(request)
    html = (await results_answer(request, context["c"].id, "html")).body
    context.update(
        title=context["c"].name,
        tables=inline_report(html if isinstance(html, bytes) else b""),
        formats=FORMATS,
        stopped=request.query.get("stopped") == "1",
    )
    return page(request, "pages/consultation_results.html", viewer.context(**context))


@guarded("admin")
async def rate(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """The response rate alone: the open page swaps it in every few seconds."""
    context = viewer.context(**await rate_context(request))
    return page(request, "partials/response_rate.html", context)


@guarded("admin")
async def download(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    consultation_id, fmt = request.match_info["consultation_id"], request.match_info["format"]
    answer = await results_answer(request, consultation_id, fmt)
    name = f"{consultation_id}-results.{fmt}"
    answer.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return answer


def add_consultation_pages(app: web.Application) -> None:
    app.router.add_get("/consultations", consultations)
    app.router.add_get("/consultations/start", consultation_start_page)
    app.router.add_get("/consultations/{consultation_id}/results", results_page)
    app.router.add_get("/consultations/{consultation_id}/rate", rate)
    app.router.add_get("/consultations/{consultation_id}/results.{format}", download)

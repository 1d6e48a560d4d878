"""The secretariat's exercises: the list (filtered and paged as the API's), a form to start
one from a bundled scenario or an uploaded file, its page (progress and each recipient
country's state, live over Server-Sent Events), stopping it after a confirmation, its
report read inline and downloaded in every format the API gives.

Starting, stopping, progress and reports are the API's own functions (ians/web/routes.py):
the pages only read forms and render. A consultation is started from the same form; its
page is in ians/web/consultation_pages.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup
from multidict import MultiMapping
from pydantic import TypeAdapter, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ians.errors import IansError, InvalidInput
from ians.live import Change
from ians.reports.render import FORMATS
from ians.scenarios.loader import KINDS
from ians.store import MessageQuery
from ians.web.browser import Viewer, guarded, see_other
from ians.web.dashboard import message_block, rendered_key, sse
from ians.web.http import QueryParams, invalid_input
from ians.web.keys import exercises_key, registry_key, tracker_key
from ians.web.lists import STATES, exercises_page
from ians.web.render import fragment, page
from ians.web.routes import (
    HISTORY_KINDS,
    exercise_report,
    exercise_view,
    reports_history,
    start_from,
)
from ians.web.streams import Events, serve
from ians.web.views import ExerciseBody

SCENARIOS = Path(__file__).parents[2] / "scenarios"  # the bundled scenarios of a checkout
_body = TypeAdapter(ExerciseBody)
_FIELDS = ("clock", "speed", "seed", "simulate", "start")  # the form's own fields
_KIND_WORDS = {
    "drill": "drill",
    "connectivity_test": "connectivity test",
    "consultation": "consultation",
}
scenarios_key = web.AppKey("scenarios", Path)  # the directory of bundled scenarios


def bundled(root: Path, kinds: tuple[str, ...]) -> list[dict[str, str]]:
    """The bundled scenario files of these kinds: file name, kind and name (read from the
    file's top level; a file that does not read is left out, its start would say why)."""
    yaml = YAML(typ="safe")
    out = []
    for path in sorted(root.glob("*.yaml")):
        try:
            top = yaml.load(path.read_text(encoding="utf-8"))
        except (OSError, YAMLError, UnicodeDecodeError):
            continue
        if isinstance(top, dict) and top.get("kind") in kinds:
            out.append({"file": path.name, "kind": str(top["kind"]), "name": str(top.get("name"))})
    return out


def _kinds(consultation: bool) -> tuple[str, ...]:
    return ("consultation",) if consultation else tuple(k for k in KINDS if k != "consultation")


# --- the list ------------------------------------------------------------------------------


async def list_page(
    request: web.Request, viewer: Viewer, consultations: bool
) -> web.StreamResponse:
    """The exercises (consultations too) or the consultations, as GET /api/exercises and
    GET /api/consultations page them: newest first, `limit`, `state`, `kind`, `before`."""
    params = QueryParams(request)
    kind = "consultation" if consultations else params.choice("kind", KINDS)
    items, more = await exercises_page(request, params, kind)
    chosen = {k: v for k, v in request.query.items() if k in ("state", "kind", "limit") and v}
    after = f"?{urlencode({**chosen, 'before': items[-1].id})}" if more and items else None
    context = viewer.context(
        title="Consultations" if consultations else "Exercises",
        consultations=consultations,
        items=items,
        states=STATES,
        kinds=KINDS,
        kind_words=_KIND_WORDS,
        chosen=chosen,
        after=after,
        paged=bool(request.query.get("before")),
    )
    return page(request, "pages/exercises.html", context)


@guarded("admin")
async def exercises(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return await list_page(request, viewer, consultations=False)


# --- starting ------------------------------------------------------------------------------


def start_context(
    request: web.Request,
    viewer: Viewer,
    consultation: bool,
    values: dict[str, Any],
    errors: dict[str, str],
    problems: list[str],
) -> dict[str, Any]:
    registry = request.app[registry_key]
    return viewer.context(
        title="Start a consultation" if consultation else "Start an exercise",
        consultation=consultation,
        scenarios=bundled(request.app[scenarios_key], _kinds(consultation)),
        countries=[(c.code, c.name) for c in registry.countries.values()],
        values=values,
        errors=errors,
        problems=problems,
    )


async def start_page(
    request: web.Request, viewer: Viewer, consultation: bool
) -> web.StreamResponse:
    values = {"clock": "real", "speed": "1", "seed": "0", "simulate": []}
    context = start_context(request, viewer, consultation, values, {}, [])
    return page(request, "pages/exercise_start.html", context)


@guarded("admin")
async def exercise_start_page(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return await start_page(request, viewer, consultation=False)


def _scenario_text(request: web.Request, form: MultiMapping[Any]) -> str:
    """The uploaded file's text, else the chosen bundled file's. Raises InvalidInput."""
    upload = form.get("file")
    if isinstance(upload, web.FileField):
        data = upload.file.read()
        if data:
            try:
                return str(data.decode("utf-8"))
            except UnicodeDecodeError:
                raise InvalidInput.at("file", "the file is not UTF-8 text (YAML)") from None
    chosen = form.get("bundled")
    names = {s["file"] for s in bundled(request.app[scenarios_key], tuple(KINDS))}
    if not isinstance(chosen, str) or not chosen:
        raise InvalidInput.at("bundled", "choose a bundled scenario or upload a scenario file")
    if chosen not in names:
        raise InvalidInput.at("bundled", f"no bundled scenario {chosen!r}")
    return (request.app[scenarios_key] / chosen).read_text(encoding="utf-8")


def start_errors(error: IansError) -> tuple[dict[str, str], list[str]]:
    """The form's own fields' errors, and the scenario's problems (each with its place)."""
    errors: dict[str, str] = {}
    problems: list[str] = []
    for detail in error.details or [{"message": error.message}]:
        name = str(detail.get("field", ""))
        top = re.split(r"[.\[]", name)[0]
        message = str(detail.get("message", ""))
        if top in (*_FIELDS, "bundled", "file"):
            errors.setdefault(top, message)
        else:
            line, place = detail.get("line"), detail.get("field")
            where = ", ".join(
                [*([f"line {line}"] if line else []), *([str(place)] if place else [])]
            )
            problems.append(f"{where}: {message}" if where else message)
    return errors, problems


@guarded("admin")
async def start(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    form = await request.post()
    consultation = form.get("consultation") == "1"
    simulate = [v for v in form.getall("simulate", []) if isinstance(v, str)]
    values: dict[str, Any] = {
        k: v for k in ("clock", "speed", "seed", "bundled") if isinstance(v := form.get(k), str)
    }
    values["simulate"] = simulate
    body: dict[str, Any] = {
        "clock": values.get("clock", "real"),
        "speed": values.get("speed") or "1",
        "seed": values.get("seed") or "0",
        "simulate": "all" if "all" in simulate else simulate,
    }
    try:
        body["scenario"] = _scenario_text(request, form)
        try:
            parsed = _body.validate_python(body)
        except ValidationError as exc:
            raise invalid_input(exc, "{}") from None
        exercise = await start_from(request.app, parsed)
    except IansError as error:
        if error.status != 422:
            raise
        errors, problems = start_errors(error)
        context = start_context(request, viewer, consultation, values, errors, problems)
        return page(request, "pages/exercise_start.html", context, status=422)
    if exercise.kind == "consultation":
        return see_other(f"/consultations/{exercise.id}/results")
    return see_other(f"/exercises/{exercise.id}")


# --- an exercise's page --------------------------------------------------------------------


async def progress_context(request: web.Request, exercise_id: str) -> dict[str, Any]:
    view = await exercise_view(request, exercise_id)
    done = view.progress
    injects = done.get("injects", 0)
    return {"e": view, "done": done, "injects": injects}


def inline_report(html: bytes) -> Markup:
    """The body of one of our self-contained HTML reports, to show inside a page: what is
    inside its <main>, its heading one level down."""
    text = html.decode("utf-8")
    start, end = text.find("<main>"), text.rfind("</main>")
    inner = text[start + len("<main>") : end] if start >= 0 and end > start else ""
    return Markup(inner.replace("<h1>", "<h2>", 1).replace("</h1>", "</h2>", 1))


async def report_bytes(request: web.Request, exercise_id: str, fmt: str) -> web.Response:
    """The API's answer to GET /api/exercises/{id}/report?format=fmt."""
    url = request.rel_url.with_path(f"/api/exercises/{exercise_id}/report").with_query(format=fmt)
    return await exercise_report(request.clone(rel_url=url), None)  # same match_info


@guarded("admin")
async def exercise_page(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    exercise_id = request.match_info["exercise_id"]
    progress = await progress_context(request, exercise_id)
    if progress["e"].kind == "consultation":
        return see_other(f"/consultations/{exercise_id}/results")
    store = request.app[tracker_key].store
    messages = await store.list_messages(MessageQuery(limit=200, exercise=exercise_id))
    blocks = [message_block(request.app, m, await store.chases(m.id)) for m in messages]
    running = progress["e"].state == "running"
    report = None
    if not running or request.query.get("report") == "1":
        html = (await report_bytes(request, exercise_id, "html")).body
        report = inline_report(html if isinstance(html, bytes) else b"")
    context = viewer.context(
        title=progress["e"].name,
        **progress,
        blocks=blocks,
        running=running,
        report=report,
        formats=FORMATS,
        stopped=request.query.get("stopped") == "1",
    )
    return page(request, "pages/exercise.html", context)


@guarded("admin")
async def download(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    exercise_id, fmt = request.match_info["exercise_id"], request.match_info["format"]
    answer = await report_bytes(request, exercise_id, fmt)
    name = f"{exercise_id}-report.{fmt}"
    answer.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return answer


@guarded("admin")
async def stop_page(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    progress = await progress_context(request, request.match_info["exercise_id"])
    context = viewer.context(title=f"Stop {progress['e'].name}?", **progress)
    return page(request, "pages/exercise_stop.html", context)


@guarded("admin")
async def stop(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    exercise = await request.app[exercises_key].stop(request.match_info["exercise_id"])
    target = "consultations/{}/results" if exercise.kind == "consultation" else "exercises/{}"
    return see_other("/" + target.format(exercise.id) + "?stopped=1")


# --- the history across exercises ---------------------------------------------------------


async def history_answer(request: web.Request, fmt: str) -> web.Response:
    """The API's answer to GET /api/reports/history (`kind`, `country` as this page got them)."""
    query = {k: v for k, v in request.query.items() if k in ("kind", "country") and v}
    url = request.rel_url.with_path("/api/reports/history").with_query({**query, "format": fmt})
    return await reports_history(request.clone(rel_url=url), None)


@guarded("admin")
async def history_page(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    html = (await history_answer(request, "html")).body
    chosen = {k: v for k, v in request.query.items() if k in ("kind", "country") and v}
    registry = request.app[registry_key]
    context = viewer.context(
        title="History across exercises",
        history=inline_report(html if isinstance(html, bytes) else b""),
        kinds=HISTORY_KINDS,
        kind_words=_KIND_WORDS,
        countries=[(c.code, c.name) for c in registry.countries.values()],
        chosen=chosen,
        query=urlencode(chosen),
        formats=FORMATS,
    )
    return page(request, "pages/history.html", context)


@guarded("admin")
async def history_download(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    answer = await history_answer(request, request.match_info["format"])
    name = f"history.{request.match_info['format']}"
    answer.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return answer


# --- live ----------------------------------------------------------------------------------


@guarded("admin")
async def live_stream(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    """The exercise's changes as Server-Sent Events: its new messages (`message`), each
    recipient country's new state (`chase-<message>-<country>`) and its progress
    (`progress`), until it ends or the browser goes."""
    exercise_id = request.match_info["exercise_id"]
    await progress_context(request, exercise_id)  # an unknown exercise is a 404 page
    store = request.app[tracker_key].store
    rendered = request.app[rendered_key]

    async def channel() -> Events:
        """The exercise's pages share one: its messages are looked up once, for all."""
        query = MessageQuery(limit=1000, exercise=exercise_id)
        ours = {m.id for m in await store.list_messages(query)}

        async def events(batches: list[tuple[Change, ...]]) -> bytes:
            changes = [c for b in batches for c in b if _concerns(c, exercise_id, ours)]
            if not changes:
                return b""
            data = b"".join(rendered.of(request.app, c) for c in changes)
            return data + await _progress_event(request, exercise_id)

        return events

    return await serve(request, ("exercise", exercise_id), channel)


def _concerns(change: Change, exercise_id: str, ours: set[str]) -> bool:
    if change.sent is not None and change.sent.exercise_id == exercise_id:
        ours.add(change.message_id)
    return change.message_id in ours


async def _progress_event(request: web.Request, exercise_id: str) -> bytes:
    html = fragment(
        request.app, "partials/exercise_progress.html", await progress_context(request, exercise_id)
    )
    return sse("progress", html)


def add_exercise_pages(app: web.Application, scenarios: Path | None = None) -> None:
    app[scenarios_key] = scenarios or SCENARIOS
    app.router.add_get("/exercises", exercises)
    app.router.add_get("/exercises/start", exercise_start_page)
    app.router.add_post("/exercises/start", start)
    app.router.add_get("/exercises/history", history_page)
    app.router.add_get("/exercises/history.{format}", history_download)
    app.router.add_get("/exercises/{exercise_id}", exercise_page)
    app.router.add_get("/exercises/{exercise_id}/live", live_stream)
    app.router.add_get("/exercises/{exercise_id}/stop", stop_page)
    app.router.add_post("/exercises/{exercise_id}/stop", stop)
    app.router.add_get("/exercises/{exercise_id}/report.{format}", download)

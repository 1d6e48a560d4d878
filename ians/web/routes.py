"""The API's endpoints: each parses, calls a service, renders.

ENDPOINTS is the one list both the router and /api/openapi.json are built from.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from ians.cap.atom import MEDIA_TYPE as ATOM
from ians.confirmations import confirm_details
from ians.domain.contacts import Registry
from ians.domain.exercise import ClockKind, Exercise
from ians.domain.messages import MessageDraft
from ians.errors import Conflict, Forbidden, InvalidInput
from ians.exercises import ExerciseRequest, progress
from ians.reports.build import build_report
from ians.reports.facts import ExerciseFacts
from ians.reports.history import History, report_history
from ians.reports.model import Findings, FindingsBody
from ians.reports.model import Report as ReportBody
from ians.reports.page import Names
from ians.reports.render import FORMATS, findings_csv, media_type, render_history
from ians.reports.render import render as render_report
from ians.reports.results import render_results
from ians.scenarios.loader import KINDS, read_scenario
from ians.tokens import Principal
from ians.web.cap import (
    CAP_XML,
    Acknowledgements,
    feed,
    message_acks,
    message_as_cap,
    read_cap_draft,
    wants_cap,
)
from ians.web.cap import FORMATS as CAP_FORMATS
from ians.web.http import QueryParams, check_media_type, read_body, render
from ians.web.keys import (
    consultations_key,
    exercises_key,
    registry_key,
    services_key,
    tokens_key,
    tracker_key,
)
from ians.web.lists import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MODES,
    STATES,
    list_consultations,
    list_exercises,
    list_messages,
    message_events,
)
from ians.web.pages import SigninAnswer, SigninBody, signin_link
from ians.web.views import (
    AckBody,
    AckView,
    ConsultationList,
    ConsultationProgress,
    ConsultationResults,
    ConsultationView,
    Countries,
    CountryView,
    DetailsConfirmed,
    ExerciseBody,
    ExerciseList,
    ExerciseSummary,
    ExerciseView,
    Health,
    Inbox,
    InboxConsultation,
    InboxEntry,
    MessageEvents,
    MessageList,
    MessageOut,
    MessageView,
    Pocs,
    PocView,
    ResponseBody,
    ResponseView,
    TokenView,
    WebhookSecretView,
)

Who = Literal["anyone", "admin", "poc", "admin or poc"]
Handler = Callable[[web.Request, Principal | None], Awaitable[web.Response]]

_draft = TypeAdapter(MessageDraft)
_ack_body = TypeAdapter(AckBody)
_exercise_body = TypeAdapter(ExerciseBody)
_response_body = TypeAdapter(ResponseBody)
_findings_body = TypeAdapter(FindingsBody)


@dataclass(frozen=True)
class Param:
    """A query parameter: what it means, and its JSON schema (type, enum, bounds)."""

    description: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    """One endpoint. `accepts`: the media types its body may have (others get 415);
    `errors`: statuses it gives beyond those its caller, body, path and query imply."""

    method: str
    path: str
    handler: Handler
    who: Who
    summary: str
    response: type[BaseModel] | None  # None: it never answers JSON (see `produces`)
    status: int = 200
    body: Any = None
    body_name: str = ""
    query: dict[str, Param] = field(default_factory=dict)
    accepts: tuple[str, ...] = ("application/json",)
    errors: tuple[int, ...] = ()
    formats: tuple[str, ...] = ()  # `?format=` choices besides JSON, each its media type
    produces: tuple[str, ...] = ()  # media types it answers in besides those (CAP, Atom)


_LIMIT = Param(
    f"How many, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})",
    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
)
_FORMAT = Param(
    "json (default), csv, md, html or pdf",
    {"type": "string", "enum": list(FORMATS), "default": "json"},
)
_CAP_FORMAT = Param(
    "json (default) or cap", {"type": "string", "enum": list(CAP_FORMATS), "default": "json"}
)
_BEFORE = Param(
    "The last id of the previous page: the page after it (the answer's `next` has it)",
    {"type": "string"},
)


async def health(request: web.Request, who: Principal | None) -> web.Response:
    return render(Health())


async def countries(request: web.Request, who: Principal | None) -> web.Response:
    registry = request.app[registry_key]
    return render(Countries(countries=[CountryView.of(c) for c in registry.countries.values()]))


async def pocs(request: web.Request, who: Principal | None) -> web.Response:
    return render(Pocs(points_of_contact=await poc_views(request.app)))


async def poc_views(app: web.Application) -> list[PocView]:
    """Every PoC of the registry as GET /api/pocs (and the registry page) shows it."""
    confirmed = await app[tracker_key].store.details_confirmed()
    hooks = app[services_key].webhooks
    issued = hooks.issued_at if hooks is not None else {}
    disabled = hooks.disabled_at if hooks is not None else {}
    return [
        PocView.of(p, issued.get(p.id), disabled.get(p.id), confirmed.get(p.id))
        for p in app[registry_key].pocs.values()
    ]


async def confirm_poc_details(request: web.Request, who: Principal | None) -> web.Response:
    assert who is not None
    tracker = request.app[tracker_key]
    poc_id = request.match_info["poc_id"]
    at = await confirm_details(tracker.store, tracker.registry, tracker.clock, who, poc_id)
    return render(DetailsConfirmed(poc=poc_id, details_confirmed_at=at))


async def issue_webhook_secret(request: web.Request, who: Principal | None) -> web.Response:
    poc_id = request.match_info["poc_id"]
    hooks = request.app[services_key].webhooks
    if hooks is None:
        request.app[registry_key].poc(poc_id)  # an unknown PoC is a 404 all the same
        raise Conflict(f"{poc_id} has no webhook in the registry: add `webhook: <URL>` first")
    return render(WebhookSecretView(secret=await hooks.issue_secret(poc_id)), status=201)


async def issue_token(request: web.Request, who: Principal | None) -> web.Response:
    token = await request.app[tokens_key].issue(request.match_info["poc_id"])
    return render(TokenView(token=token), status=201)


async def send_message(request: web.Request, who: Principal | None) -> web.Response:
    assert who is not None
    if request.content_type == CAP_XML:
        draft = await read_cap_draft(request, who)
    else:
        draft = await read_body(request, _draft)
    if who.poc is not None and draft.sender != who.poc.country:
        raise Forbidden(f"a PoC of {who.poc.country} sends only from {who.poc.country}")
    tracker = request.app[tracker_key]
    message, _ = await tracker.send(draft, by=who.poc)
    response = render(MessageOut.of(message), status=201)
    response.headers["Location"] = f"/api/messages/{message.id}"
    return response


async def get_message(request: web.Request, who: Principal | None) -> web.Response:
    assert who is not None
    tracker = request.app[tracker_key]
    message = await tracker.store.message(request.match_info["message_id"])
    chases = await tracker.store.chases(message.id)
    if who.poc is not None and who.poc.country != message.sender:
        chases = [c for c in chases if c.country == who.poc.country]
    if who.poc is not None and not await tracker.readable(who.poc, message):
        raise Forbidden("only the secretariat, the sender and the recipients see a message")
    if wants_cap(request):
        return await message_as_cap(request, message)
    response = render(MessageView.with_chases(message, chases))
    response.headers["Vary"] = "Accept"  # CAP for Accept: application/cap+xml
    return response


async def inbox(request: web.Request, who: Principal | None) -> web.Response:
    assert who is not None
    poc = who.require_poc()
    params = QueryParams(request)
    limit = params.whole("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    params.check()
    store = request.app[tracker_key].store
    items = await store.inbox(poc.id, limit)
    consultations = request.app[consultations_key]
    invited = [
        InboxConsultation(
            id=c.id,
            name=c.name,
            deadline=(await consultations.get(c.id)).deadline,
            closed=c.state != "running",
            responded_at=None if r is None else c.scenario_time(r.submitted_at),
        )
        for c, r in (await store.invited_to(poc.id))[:limit]
    ]
    return render(Inbox(messages=[InboxEntry.of(i) for i in items], consultations=invited))


async def acknowledge(request: web.Request, who: Principal | None) -> web.Response:
    assert who is not None
    poc = who.require_poc()
    body = await read_body(request, _ack_body, empty_ok=True)
    result = await request.app[tracker_key].acknowledge(
        request.match_info["message_id"], poc.id, note=body.note
    )
    return render(AckView(acknowledged_at=result.acknowledged_at))


async def start_exercise(request: web.Request, who: Principal | None) -> web.Response:
    body = await read_body(request, _exercise_body)
    exercise = await start_from(request.app, body)
    return render(await exercise_view(request, exercise.id), status=201)


async def start_from(app: web.Application, body: ExerciseBody) -> Exercise:
    """Start what `body` asks for (POST /api/exercises, the web form). Raises
    ScenarioError, InvalidInput."""
    registry = app[registry_key]
    scenario = await read_scenario(body.scenario, registry, name="scenario")
    source = body.scenario if isinstance(body.scenario, str) else json.dumps(body.scenario)
    simulate = list(registry.countries) if body.simulate == "all" else body.simulate
    return await app[exercises_key].start(
        ExerciseRequest(
            scenario=scenario,
            source=source,
            clock=ClockKind(body.clock),
            speed=body.speed,
            seed=body.seed,
            start=body.start,
            simulate=tuple(simulate),
        )
    )


async def get_exercise(request: web.Request, who: Principal | None) -> web.Response:
    return render(await exercise_view(request, request.match_info["exercise_id"]))


async def stop_exercise(request: web.Request, who: Principal | None) -> web.Response:
    exercise = await request.app[exercises_key].stop(request.match_info["exercise_id"])
    return render(await exercise_view(request, exercise.id))


async def exercise_report(request: web.Request, who: Principal | None) -> web.Response:
    fmt = _format(request)
    exercise_id = request.match_info["exercise_id"]
    store = request.app[tracker_key].store
    if (await store.exercise(exercise_id)).kind == "consultation":
        raise InvalidInput.at(
            "exercise_id", f"a consultation: see /api/consultations/{exercise_id}/results"
        )
    facts = await store.exercise_facts(exercise_id)
    # drawing the charts takes about a second for a large exercise: not on the event loop
    names = Names.of(request.app[registry_key])
    registry = request.app[registry_key]
    body = await asyncio.to_thread(_report_bytes, facts, fmt, names, registry)
    return web.Response(body=body, headers={"Content-Type": media_type(fmt)})


def _report_bytes(facts: ExerciseFacts, fmt: str, names: Names, registry: Registry) -> bytes:
    return render_report(build_report(facts, registry), facts, fmt, names)


async def _report_of(request: web.Request) -> tuple[ExerciseFacts, ReportBody]:
    """The report of the exercise the path names. Raises UnknownExercise, InvalidInput
    for a consultation."""
    exercise_id = request.match_info["exercise_id"]
    store = request.app[tracker_key].store
    if (await store.exercise(exercise_id)).kind == "consultation":
        raise InvalidInput.at("exercise_id", "a consultation has results, not findings")
    facts = await store.exercise_facts(exercise_id)
    return facts, build_report(facts, request.app[registry_key])


HISTORY_KINDS = ("drill", "connectivity_test")


async def reports_history(request: web.Request, who: Principal | None) -> web.Response:
    params = QueryParams(request)
    fmt = params.choice("format", FORMATS, "json")
    kind = params.choice("kind", HISTORY_KINDS)
    country = params.text("country")
    registry = request.app[registry_key]
    if country is not None and country not in registry.countries:
        country = params.invalid(
            "country", f"{country!r} is not a country code of the registry", None
        )
    params.check()
    assert fmt is not None
    history = await report_history(request.app[tracker_key].store, registry, country, kind)
    if fmt == "json":
        return render(history)
    body = await asyncio.to_thread(render_history, history, fmt, Names.of(registry))
    return web.Response(body=body, headers={"Content-Type": media_type(fmt)})


async def get_findings(request: web.Request, who: Principal | None) -> web.Response:
    params = QueryParams(request)
    fmt = params.choice("format", ("json", "csv"), "json")
    params.check()
    _, report = await _report_of(request)
    if fmt == "csv":
        return web.Response(
            text=findings_csv(report.findings), content_type="text/csv", charset="utf-8"
        )
    return render(report.findings)


async def put_findings(request: web.Request, who: Principal | None) -> web.Response:
    body = await read_body(request, _findings_body)
    await _report_of(request)  # an exercise, not a consultation
    tracker = request.app[tracker_key]
    exercise_id = request.match_info["exercise_id"]
    items = [i.model_dump(mode="json") for i in body.items]
    await tracker.store.save_findings(exercise_id, items, tracker.clock.now())
    _, report = await _report_of(request)
    return render(report.findings)


def _format(request: web.Request) -> str:
    params = QueryParams(request)
    fmt = params.choice("format", FORMATS, "json")
    params.check()
    assert fmt is not None
    return fmt


async def exercise_view(request: web.Request, exercise_id: str) -> ExerciseView:
    """An exercise's state and progress (a consultation's: invited and responded).
    Raises UnknownExercise."""
    store = request.app[tracker_key].store
    e = await store.exercise(exercise_id)
    if e.kind == "consultation":
        results = await request.app[consultations_key].results(e.id)
        done = {"invited": results["invited"], "responded": results["responded"]}
    else:
        facts = await store.exercise_facts(exercise_id)
        done = progress(facts.messages, facts.chases)
        done["injects"] = await request.app[exercises_key].inject_count(e, done["injects_sent"])
    return ExerciseView(**dict(ExerciseSummary.of(e)), progress=done)


async def get_consultation(request: web.Request, who: Principal | None) -> web.Response:
    assert who is not None
    consultations = request.app[consultations_key]
    opened = await consultations.get(request.match_info["consultation_id"])
    record, scenario = opened.record, opened.scenario
    progress_: ConsultationProgress | None = None
    response = None
    if who.poc is None:
        progress_ = ConsultationProgress.model_validate(await consultations.results(record.id))
    else:
        await consultations.check_invited(record.id, who.poc.id)
        own = [r for r in await consultations.responses(opened) if r.poc == who.poc.id]
        if own:
            response = ResponseView(
                consultation_id=record.id,
                poc=own[0].poc,
                submitted_at=own[0].submitted_at,
                answers=own[0].answers,
            )
    return render(
        ConsultationView(
            id=record.id,
            name=record.name,
            description=scenario.description,
            state=record.state,
            closed=record.state != "running",
            simulated=record.clock == ClockKind.VIRTUAL,
            opened_at=record.started_at,
            deadline=opened.deadline,
            reminders=opened.reminders,
            questions=[q.model_dump(mode="json", exclude_none=True) for q in scenario.questions],
            progress=progress_,
            response=response,
        )
    )


async def respond(request: web.Request, who: Principal | None) -> web.Response:
    assert who is not None
    poc = who.require_poc()
    body = await read_body(request, _response_body)
    consultation_id = request.match_info["consultation_id"]
    first, saved = await request.app[consultations_key].respond(
        consultation_id, poc.id, body.answers
    )
    view = ResponseView(
        consultation_id=consultation_id,
        poc=poc.id,
        submitted_at=saved.submitted_at,
        answers=saved.answers,
    )
    return render(view, status=201 if first else 200)


async def consultation_results(request: web.Request, who: Principal | None) -> web.Response:
    fmt = _format(request)
    consultation_id = request.match_info["consultation_id"]
    consultations = request.app[consultations_key]
    if fmt == "csv":
        text = await consultations.results_csv(consultation_id)
        return web.Response(text=text, content_type="text/csv", charset="utf-8")
    results = await consultations.results(consultation_id)
    if fmt == "json":
        return render(ConsultationResults.model_validate(results))
    names = Names.of(request.app[registry_key])
    body = await asyncio.to_thread(render_results, results, fmt, names)
    return web.Response(body=body, headers={"Content-Type": media_type(fmt)})


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/health", health, "anyone", "Liveness", Health),
    Endpoint(
        "POST",
        "/api/signin-link",
        signin_link,
        "anyone",
        "E-mail a one-time sign-in link (15 minutes) to a registered address; the same"
        " answer whether or not the address is known",
        SigninAnswer,
        202,
        body=SigninBody,
        body_name="SigninBody",
        errors=(409,),  # e-mail is off on this server
    ),
    Endpoint(
        "GET", "/api/countries", countries, "admin", "The countries of the registry", Countries
    ),
    Endpoint("GET", "/api/pocs", pocs, "admin", "The points of contact of the registry", Pocs),
    Endpoint(
        "POST",
        "/api/pocs/{poc_id}/token",
        issue_token,
        "admin",
        "Issue a new token for a PoC (the previous one stops working)",
        TokenView,
        201,
    ),
    Endpoint(
        "POST",
        "/api/pocs/{poc_id}/confirm-details",
        confirm_poc_details,
        "admin or poc",
        "Confirm that the PoC's contact details in the registry are up to date (the PoC"
        " itself, or the secretariat); GET /api/pocs shows the latest confirmation",
        DetailsConfirmed,
    ),
    Endpoint(
        "POST",
        "/api/pocs/{poc_id}/webhook-secret",
        issue_webhook_secret,
        "admin",
        "Issue the secret a PoC's webhook notices are signed with (shown once; the previous"
        " one stops being used, and a webhook switched off by a 410 is on again)",
        WebhookSecretView,
        201,
        errors=(409,),  # the PoC has no webhook in the registry
    ),
    Endpoint(
        "POST",
        "/api/messages",
        send_message,
        "admin or poc",
        "Send a message (a PoC sends only from its own country); GET it for its recipients",
        MessageOut,
        201,
        body=MessageDraft,
        body_name="MessageDraft",
        errors=(409,),
        accepts=("application/json", CAP_XML),  # a CAP 1.2 alert: ians/web/cap.py
    ),
    Endpoint(
        "GET",
        "/api/messages",
        list_messages,
        "admin or poc",
        "Messages newest first (a PoC: those its country sent or received), paged",
        MessageList,
        query={
            "exercise": Param("Only this exercise's messages", {"type": "string"}),
            "mode": Param("Only this mode", {"type": "string", "enum": MODES}),
            "country": Param(
                "Only those this country (ISO 3166-1 alpha-3) sent or received",
                {"type": "string", "pattern": "^[A-Z]{3}$"},
            ),
            "limit": _LIMIT,
            "before": _BEFORE,
        },
    ),
    Endpoint(
        "GET",
        "/api/messages/{message_id}",
        get_message,
        "admin or poc",
        "A message and, per recipient country, its acknowledgement state; or it as a CAP"
        " 1.2 alert (format=cap, or Accept: application/cap+xml)",
        MessageView,
        query={"format": _CAP_FORMAT},
        produces=(CAP_XML,),
    ),
    Endpoint(
        "GET",
        "/api/messages/{message_id}/events",
        message_events,
        "admin",
        "The message's audit trail: every event with its time, in order",
        MessageEvents,
    ),
    Endpoint(
        "GET",
        "/api/inbox",
        inbox,
        "poc",
        "Messages delivered to this PoC, newest first",
        Inbox,
        query={"limit": _LIMIT},
    ),
    Endpoint(
        "POST",
        "/api/messages/{message_id}/ack",
        acknowledge,
        "poc",
        "Acknowledge a message delivered to this PoC (repeats give the same answer)",
        AckView,
        body=AckBody,
        body_name="AckBody",
        errors=(409,),
    ),
    Endpoint(
        "POST",
        "/api/exercises",
        start_exercise,
        "admin",
        "Start an exercise of a scenario (virtual: run it to the end at once)",
        ExerciseView,
        201,
        body=ExerciseBody,
        body_name="ExerciseBody",
    ),
    Endpoint(
        "GET",
        "/api/exercises/{exercise_id}",
        get_exercise,
        "admin",
        "An exercise's state and progress",
        ExerciseView,
    ),
    Endpoint(
        "GET",
        "/api/exercises",
        list_exercises,
        "admin",
        "Exercises (consultations too) newest first, paged",
        ExerciseList,
        query={
            "state": Param("Only those in this state", {"type": "string", "enum": STATES}),
            "kind": Param("Only this kind", {"type": "string", "enum": list(KINDS)}),
            "limit": _LIMIT,
            "before": _BEFORE,
        },
    ),
    Endpoint(
        "POST",
        "/api/exercises/{exercise_id}/stop",
        stop_exercise,
        "admin",
        "Stop a running exercise; its report covers what happened",
        ExerciseView,
        errors=(409,),
    ),
    Endpoint(
        "GET",
        "/api/exercises/{exercise_id}/report",
        exercise_report,
        "admin",
        "The acknowledgement-time report (json, csv, md, html or pdf)",
        ReportBody,
        query={"format": _FORMAT},
        formats=FORMATS[1:],
    ),
    Endpoint(
        "GET",
        "/api/reports/history",
        reports_history,
        "admin",
        "Exercises compared over time, oldest first: per exercise and per country the"
        " indicators and the median acknowledgement time (rehearsals left out)",
        History,
        query={
            "country": Param(
                "Only this country (ISO 3166-1 alpha-3) and the exercises it took part in",
                {"type": "string", "pattern": "^[A-Z]{3}$"},
            ),
            "kind": Param("Only this kind", {"type": "string", "enum": list(HISTORY_KINDS)}),
            "format": _FORMAT,
        },
        formats=FORMATS[1:],
    ),
    Endpoint(
        "GET",
        "/api/exercises/{exercise_id}/findings",
        get_findings,
        "admin",
        "The exercise's improvement plan (json or csv): found automatically, or as edited",
        Findings,
        query={
            "format": Param(
                "json (default) or csv",
                {"type": "string", "enum": ["json", "csv"], "default": "json"},
            )
        },
        formats=("csv",),
    ),
    Endpoint(
        "PUT",
        "/api/exercises/{exercise_id}/findings",
        put_findings,
        "admin",
        "Replace the exercise's improvement plan with the secretariat's edited one; every"
        " format of the report shows it from then on",
        Findings,
        body=FindingsBody,
        body_name="FindingsBody",
    ),
    Endpoint(
        "GET",
        "/api/consultations/{consultation_id}",
        get_consultation,
        "admin or poc",
        "The questionnaire; the admin sees progress, an invited PoC its own answers",
        ConsultationView,
    ),
    Endpoint(
        "GET",
        "/api/consultations",
        list_consultations,
        "admin",
        "Consultations newest first, paged",
        ConsultationList,
        query={
            "state": Param("Only those in this state", {"type": "string", "enum": STATES}),
            "limit": _LIMIT,
            "before": _BEFORE,
        },
    ),
    Endpoint(
        "POST",
        "/api/consultations/{consultation_id}/responses",
        respond,
        "poc",
        "Answer (201), or replace the answers until the deadline (200)",
        ResponseView,
        201,
        body=ResponseBody,
        body_name="ResponseBody",
        errors=(409,),
    ),
    Endpoint(
        "GET",
        "/api/consultations/{consultation_id}/results",
        consultation_results,
        "admin",
        "The results: json (default), csv (one row per respondent), md or html",
        ConsultationResults,
        query={"format": _FORMAT},
        formats=FORMATS[1:],
    ),
    # CAP 1.2 (ians/web/cap.py); GET /api/messages/{id} also gives CAP, POST takes it
    Endpoint(
        "GET",
        "/api/messages/{message_id}/acks",
        message_acks,
        "admin or poc",
        "Every acknowledgement of a message: JSON, or (format=cap) each as a CAP Ack in Atom",
        Acknowledgements,
        query={"format": _CAP_FORMAT},
        produces=(ATOM,),
    ),
    Endpoint(
        "GET",
        "/api/feed.atom",
        feed,
        "admin or poc",
        "Atom feed of the messages the caller may read, newest first, each linking to its CAP",
        None,
        query={"limit": _LIMIT, "before": _BEFORE},
        produces=(ATOM,),
    ),
]


def add_routes(app: web.Application) -> None:
    # deeper paths first: the router tries the routes under one prefix in the order they
    # were added, so `/api/messages/{id}/ack` is matched first, not third
    for endpoint in sorted(ENDPOINTS, key=lambda e: -e.path.count("/")):
        app.router.add_route(endpoint.method, endpoint.path, _guarded(endpoint))


def _guarded(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        who = None
        if endpoint.who != "anyone":
            who = await request.app[tokens_key].caller(request.headers.get("Authorization"))
            if endpoint.who == "admin":
                who.require_admin()
            elif endpoint.who == "poc":
                who.require_poc()
        if endpoint.body is not None:
            check_media_type(request, endpoint.accepts)
        return await endpoint.handler(request, who)

    handle.__name__ = endpoint.handler.__name__
    return handle

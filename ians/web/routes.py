"""The API's endpoints: each parses, calls a service, renders.

ENDPOINTS is the one list both the router and /api/openapi.json are built from.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from ians.domain.exercise import ClockKind
from ians.domain.messages import MessageDraft
from ians.errors import Forbidden, InvalidInput
from ians.exercises import ExerciseRequest, progress
from ians.reports.build import build_report
from ians.reports.model import Report as ReportBody
from ians.reports.render import FORMATS, media_type
from ians.reports.render import render as render_report
from ians.scenarios.loader import load_scenario
from ians.scenarios.model import ConnectivityTest, DrillScenario
from ians.web.auth import Principal
from ians.web.http import read_body, render
from ians.web.keys import exercises_key, registry_key, tokens_key, tracker_key
from ians.web.views import (
    AckBody,
    AckView,
    Countries,
    CountryView,
    ExerciseBody,
    ExerciseView,
    Health,
    Inbox,
    InboxEntry,
    MessageView,
    Pocs,
    PocView,
    TokenView,
)

Who = Literal["anyone", "admin", "poc", "admin or poc"]
Handler = Callable[[web.Request, Principal | None], Awaitable[web.Response]]

_draft = TypeAdapter(MessageDraft)
_ack_body = TypeAdapter(AckBody)
_exercise_body = TypeAdapter(ExerciseBody)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    who: Who
    summary: str
    response: type[BaseModel]
    status: int = 200
    body: Any = None
    body_name: str = ""
    query: dict[str, str] = field(default_factory=dict)


async def health(request: web.Request, who: Principal | None) -> web.Response:
    return render(Health())


async def countries(request: web.Request, who: Principal | None) -> web.Response:
    registry = request.app[registry_key]
    return render(Countries(countries=[CountryView.of(c) for c in registry.countries.values()]))


async def pocs(request: web.Request, who: Principal | None) -> web.Response:
    registry = request.app[registry_key]
    return render(Pocs(points_of_contact=[PocView.of(p) for p in registry.pocs.values()]))


async def issue_token(request: web.Request, who: Principal | None) -> web.Response:
    token = await request.app[tokens_key].issue(request.match_info["poc_id"])
    return render(TokenView(token=token), status=201)


async def send_message(request: web.Request, who: Principal | None) -> web.Response:
    draft = await read_body(request, _draft, tagged=True)
    assert who is not None
    if who.poc is not None and draft.sender != who.poc.country:
        raise Forbidden(f"a PoC of {who.poc.country} sends only from {who.poc.country}")
    tracker = request.app[tracker_key]
    message, chases = await tracker.send(draft)
    return render(MessageView.of(message, chases), status=201)


async def get_message(request: web.Request, who: Principal | None) -> web.Response:
    assert who is not None
    store = request.app[tracker_key].store
    message = await store.message(request.match_info["message_id"])
    chases = await store.chases(message.id)
    if who.poc is not None and who.poc.country != message.sender:
        reached = {d.poc for d in await store.deliveries(message.id)}
        if who.poc.id not in reached:
            raise Forbidden("only the secretariat, the sender and the recipients see a message")
        chases = [c for c in chases if c.country == who.poc.country]
    return render(MessageView.of(message, chases))


async def inbox(request: web.Request, who: Principal | None) -> web.Response:
    assert who is not None
    poc = who.require_poc()
    raw = request.query.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise InvalidInput.at("limit", "must be a whole number from 1 to 1000")
    items = await request.app[tracker_key].store.inbox(poc.id, int(raw))
    return render(Inbox(messages=[InboxEntry.of(i) for i in items]))


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
    exercises = request.app[exercises_key]
    scenario = load_scenario(body.scenario, request.app[registry_key], name="scenario")
    if not isinstance(scenario, DrillScenario | ConnectivityTest):
        raise InvalidInput.at("scenario.kind", f"{scenario.kind} scenarios cannot be run yet")
    simulate = body.simulate
    if simulate == "all":
        simulate = list(request.app[registry_key].countries)
    if simulate and body.clock == "virtual":
        raise InvalidInput.at("simulate", "in virtual time every PoC is simulated already")
    source = body.scenario if isinstance(body.scenario, str) else json.dumps(body.scenario)
    exercise = await exercises.start(
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
    return render(await _exercise_view(request, exercise.id), status=201)


async def get_exercise(request: web.Request, who: Principal | None) -> web.Response:
    return render(await _exercise_view(request, request.match_info["exercise_id"]))


async def stop_exercise(request: web.Request, who: Principal | None) -> web.Response:
    exercise = await request.app[exercises_key].stop(request.match_info["exercise_id"])
    return render(await _exercise_view(request, exercise.id))


async def exercise_report(request: web.Request, who: Principal | None) -> web.Response:
    fmt = request.query.get("format", "json")
    if fmt not in FORMATS:
        raise InvalidInput.at("format", f"use one of {', '.join(FORMATS)}")
    facts = await request.app[tracker_key].store.exercise_facts(request.match_info["exercise_id"])
    body = render_report(build_report(facts), facts, fmt)
    return web.Response(body=body, content_type=media_type(fmt))


async def _exercise_view(request: web.Request, exercise_id: str) -> ExerciseView:
    store = request.app[tracker_key].store
    facts = await store.exercise_facts(exercise_id)
    e = facts.exercise
    injects = len(request.app[exercises_key].timeline_of(e))
    return ExerciseView(
        id=e.id,
        name=e.name,
        kind=e.kind,
        clock=e.clock,
        speed=e.speed,
        seed=e.seed,
        state=e.state,
        started_at=e.started_at,
        ended_at=e.ended_at,
        simulate=list(e.simulate),
        progress=progress(facts.messages, facts.chases, injects),
        report=f"/api/exercises/{e.id}/report?format=json",
    )


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/health", health, "anyone", "Liveness", Health),
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
        "/api/messages",
        send_message,
        "admin or poc",
        "Send a message (a PoC sends only from its own country)",
        MessageView,
        201,
        body=MessageDraft,
        body_name="MessageDraft",
    ),
    Endpoint(
        "GET",
        "/api/messages/{message_id}",
        get_message,
        "admin or poc",
        "A message and, per recipient country, its acknowledgement state",
        MessageView,
    ),
    Endpoint(
        "GET",
        "/api/inbox",
        inbox,
        "poc",
        "Messages delivered to this PoC, newest first",
        Inbox,
        query={"limit": "How many, 1 to 1000 (default 100)"},
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
        "POST",
        "/api/exercises/{exercise_id}/stop",
        stop_exercise,
        "admin",
        "Stop a running exercise; its report covers what happened",
        ExerciseView,
    ),
    Endpoint(
        "GET",
        "/api/exercises/{exercise_id}/report",
        exercise_report,
        "admin",
        "The acknowledgement-time report (json, csv, md or html)",
        ReportBody,
        query={"format": "json (default), csv, md or html"},
    ),
]


def add_routes(app: web.Application) -> None:
    for endpoint in ENDPOINTS:
        app.router.add_route(endpoint.method, endpoint.path, _guarded(endpoint))


def _guarded(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        who = None
        if endpoint.who != "anyone":
            who = request.app[tokens_key].authenticate(request.headers.get("Authorization"))
            if endpoint.who == "admin":
                who.require_admin()
            elif endpoint.who == "poc":
                who.require_poc()
        return await endpoint.handler(request, who)

    handle.__name__ = endpoint.handler.__name__
    return handle

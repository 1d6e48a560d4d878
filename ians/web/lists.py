"""The lists (messages, exercises, consultations) and a message's audit trail.

A list is newest first and paged: `limit` items, and `next`, the same list from
after the last of them (`before=<its id>`), or null on the last page.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from ians.domain.exercise import ExerciseState
from ians.domain.messages import Mode
from ians.errors import InvalidInput, UnknownExercise, UnknownMessage
from ians.scenarios.loader import KINDS
from ians.store import ExerciseQuery, MessageQuery, Store
from ians.tokens import Principal
from ians.web.http import QueryParams, render
from ians.web.keys import registry_key, tracker_key
from ians.web.views import (
    ConsultationList,
    EventView,
    ExerciseList,
    ExerciseSummary,
    MessageEvents,
    MessageList,
    MessageOut,
)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MODES = [m.value for m in Mode]
STATES = [s.value for s in ExerciseState]


async def list_messages(request: web.Request, who: Principal | None) -> web.Response:
    assert who is not None
    params = QueryParams(request)
    limit = params.whole("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    mode = params.choice("mode", MODES)
    country = params.text("country")
    if country is not None and country not in request.app[registry_key].countries:
        params.invalid("country", f"{country!r} is not a country code of the registry", None)
    exercise = params.text("exercise")
    store = request.app[tracker_key].store
    # the secretariat is told of a mistyped exercise; a PoC learns nothing of exercises
    if exercise is not None and who.poc is None and await _unknown_exercise(store, exercise):
        params.invalid("exercise", f"no exercise {exercise!r}", None)
    params.check()
    before = params.text("before")
    query = MessageQuery(
        limit=limit + 1,
        before=before,
        exercise=exercise,
        mode=mode,
        country=country,
        visible_to=None if who.poc is None else who.poc.country,
    )
    try:
        messages = await store.list_messages(query)
    except UnknownMessage:
        raise _no_cursor("message", before) from None
    page = [MessageOut.of(m) for m in messages[:limit]]
    return render(MessageList(messages=page, next=_next(request, page, len(messages) > limit)))


async def list_exercises(request: web.Request, who: Principal | None) -> web.Response:
    params = QueryParams(request)
    kind = params.choice("kind", KINDS)
    page, more = await exercises_page(request, params, kind)
    return render(ExerciseList(exercises=page, next=_next(request, page, more)))


async def list_consultations(request: web.Request, who: Principal | None) -> web.Response:
    page, more = await exercises_page(request, QueryParams(request), "consultation")
    return render(ConsultationList(consultations=page, next=_next(request, page, more)))


async def message_events(request: web.Request, who: Principal | None) -> web.Response:
    store = request.app[tracker_key].store
    message = await store.message(request.match_info["message_id"])
    events = await store.events(message.id)
    return render(MessageEvents(message_id=message.id, events=[EventView.of(e) for e in events]))


async def exercises_page(
    request: web.Request, params: QueryParams, kind: str | None
) -> tuple[list[ExerciseSummary], bool]:
    """A page of exercises (`limit`, `state`, `before` from `params`) and whether more
    follow. Raises InvalidInput for bad parameters or an unknown `before`."""
    limit = params.whole("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    state = params.choice("state", STATES)
    params.check()
    before = params.text("before")
    query = ExerciseQuery(limit=limit + 1, before=before, state=state, kind=kind)
    try:
        found = await request.app[tracker_key].store.list_exercises(query)
    except UnknownExercise:
        raise _no_cursor("exercise", before) from None
    return [ExerciseSummary.of(e) for e in found[:limit]], len(found) > limit


async def _unknown_exercise(store: Store, exercise_id: str) -> bool:
    try:
        await store.exercise(exercise_id)
    except UnknownExercise:
        return True
    return False


def _no_cursor(what: str, before: str | None) -> InvalidInput:
    return InvalidInput.at(
        "before", f"no {what} {before!r} to page from: use the last id of the previous page"
    )


def _next(
    request: web.Request, page: Sequence[MessageOut | ExerciseSummary], more: bool
) -> str | None:
    if not more:
        return None
    return str(request.rel_url.update_query(before=page[-1].id))

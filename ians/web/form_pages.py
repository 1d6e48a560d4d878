"""A point of contact's forms beside its messages: a consultation to answer (every question
type, each error beside its question, answers replaced until the deadline), and its own
contact details with "Confirm these details are up to date".

The answers are checked by the consultation service, the same check as the API's.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from ians.confirmations import confirm_details
from ians.errors import InvalidInput
from ians.scenarios.model import (
    MultipleChoiceQuestion,
    Question,
    ScaleQuestion,
    TextQuestion,
    YesNoQuestion,
)
from ians.web.browser import Viewer, guarded, see_other
from ians.web.keys import consultations_key, registry_key, tracker_key
from ians.web.poc_pages import own_poc
from ians.web.render import page
from ians.web.views import PocView

_WHOLE = re.compile(r"-?[0-9]{1,9}")
RADIO_SCALE = 11  # a scale of up to this many points is radio buttons, a longer one a field


def answer_of(question: Question, form: MultiDictProxy[str | Any]) -> Any:
    """The form's answer to one question, as the API's JSON would carry it; a value that is
    not what the question takes is passed on as it came, for the check to name."""
    if isinstance(question, MultipleChoiceQuestion):
        return [v for v in form.getall(question.id, []) if isinstance(v, str)]
    raw = form.get(question.id)
    if not isinstance(raw, str) or raw == "":
        return None
    if isinstance(question, YesNoQuestion):
        return {"yes": True, "no": False}.get(raw, raw)
    if isinstance(question, ScaleQuestion):
        return int(raw) if _WHOLE.fullmatch(raw.strip()) else raw
    return raw


def _question_view(question: Question) -> dict[str, Any]:
    view: dict[str, Any] = {"q": question, "type": question.type}
    if isinstance(question, ScaleQuestion):
        labels = question.labels or {}
        view["points"] = [(n, labels.get(n)) for n in range(question.min, question.max + 1)]
        view["radio"] = question.max - question.min + 1 <= RADIO_SCALE
    if isinstance(question, MultipleChoiceQuestion):
        low, high = question.min_choices, question.max_choices
        hints = ([f"at least {low}"] if low else []) + ([f"at most {high}"] if high else [])
        view["hint"] = f"Choose {' and '.join(hints)}." if hints else "Choose any."
    if isinstance(question, TextQuestion):
        view["hint"] = f"At most {question.max_length} characters."
    return view


async def _consultation_page(
    request: web.Request,
    viewer: Viewer,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    poc = own_poc(viewer)
    consultations = request.app[consultations_key]
    opened = await consultations.get(request.match_info["consultation_id"])
    await consultations.check_invited(opened.record.id, poc.id)
    own = next((r for r in await consultations.responses(opened) if r.poc == poc.id), None)
    now = request.app[tracker_key].clock.now()
    closed = opened.record.state != "running" or now >= opened.closes_at
    context = viewer.context(
        title=opened.record.name,
        consultation=opened.record,
        description=opened.scenario.description,
        closes_at=opened.closes_at,
        closed=closed,
        questions=[_question_view(q) for q in opened.scenario.questions],
        values=values if values is not None else (own.answers if own else {}),
        errors=errors or {},
        responded_at=None if own is None else own.submitted_at,
        saved=request.query.get("saved"),
    )
    return page(request, "pages/consultation.html", context, status=status)


@guarded("poc")
async def consultation_page(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    return await _consultation_page(request, viewer)


@guarded("poc")
async def answer_consultation(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    poc = own_poc(viewer)
    consultations = request.app[consultations_key]
    consultation_id = request.match_info["consultation_id"]
    opened = await consultations.get(consultation_id)
    form = await request.post()
    answers = {q.id: a for q in opened.scenario.questions if (a := answer_of(q, form)) is not None}
    try:
        first, _ = await consultations.respond(consultation_id, poc.id, answers)
    except InvalidInput as error:
        errors: dict[str, str] = {}
        for detail in error.details:
            name = str(detail.get("field", "")).removeprefix("answers.")
            errors.setdefault(name, str(detail.get("message", "")))
        return await _consultation_page(request, viewer, answers, errors, status=422)
    saved = "first" if first else "replaced"
    return see_other(f"/consultations/{consultation_id}?saved={saved}")


@guarded("poc")
async def contact_page(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    poc = own_poc(viewer)
    confirmed = await request.app[tracker_key].store.details_confirmed()
    country = request.app[registry_key].countries.get(poc.country)
    context = viewer.context(
        title="Contact details",
        details=PocView.of(poc),
        country=country,
        confirmed_at=confirmed.get(poc.id),
        just_confirmed=request.query.get("confirmed") == "1",
    )
    return page(request, "pages/contact.html", context)


@guarded("poc")
async def confirm_contact(request: web.Request, viewer: Viewer) -> web.StreamResponse:
    tracker = request.app[tracker_key]
    who, poc = viewer.session.who, own_poc(viewer)
    await confirm_details(tracker.store, tracker.registry, tracker.clock, who, poc.id)
    return see_other("/contact?confirmed=1")


def add_form_pages(app: web.Application) -> None:
    app.router.add_get("/consultations/{consultation_id}", consultation_page)
    app.router.add_post("/consultations/{consultation_id}", answer_consultation)
    app.router.add_get("/contact", contact_page)
    app.router.add_post("/contact/confirm", confirm_contact)

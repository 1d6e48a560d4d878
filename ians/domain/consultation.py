"""Electronic consultations (SPEC §8): answers, results, and simulated respondents.

Pure rules with time passed in. The questionnaire's models are the scenario's
(`ians.scenarios.model`); this module checks answers against them, tallies the
results, and says when and how a simulated PoC would answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ians.domain.contacts import Country, PointOfContact
from ians.domain.simulated import DEFAULT_MODEL, draw_delay, opening, uniforms
from ians.errors import InvalidInput
from ians.scenarios.model import (
    MultipleChoiceQuestion,
    Question,
    ScaleQuestion,
    SingleChoiceQuestion,
    TextQuestion,
    YesNoQuestion,
)

Answers = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Invitation:
    poc: str
    country: str
    invited_at: datetime


@dataclass(frozen=True, slots=True)
class Response:
    poc: str
    submitted_at: datetime
    answers: Answers


def check_answers(questions: Sequence[Question], answers: Mapping[str, Any]) -> Answers:
    """The answers, checked against the questions; unanswered optional ones left out.

    Raises InvalidInput whose details name every wrong answer as `answers.<question id>`:
    an unknown question, a required one missing, a value of the wrong type, an option
    not offered, a number off the scale, a text too long.
    """
    by_id = {q.id: q for q in questions}
    problems = [(f"answers.{key}", "no such question") for key in answers if key not in by_id]
    checked: Answers = {}
    for question in questions:
        value = answers.get(question.id)
        if value == [] and isinstance(question, MultipleChoiceQuestion) and question.min_choices:
            # choosing none is an answer, and min_choices says how many it needs
            problems.append((f"answers.{question.id}", f"choose at least {question.min_choices}"))
            continue
        if value is None or value == "" or value == []:
            if question.required:
                problems.append((f"answers.{question.id}", "an answer is required"))
            continue
        error = _wrong(question, value)
        if error:
            problems.append((f"answers.{question.id}", error))
        else:
            checked[question.id] = value.strip() if isinstance(value, str) else value
    if problems:
        raise InvalidInput.listing(problems)
    return checked


def _wrong(question: Question, value: Any) -> str | None:
    if isinstance(question, YesNoQuestion):
        return None if isinstance(value, bool) else "answer true or false"
    if isinstance(question, SingleChoiceQuestion):
        if not isinstance(value, str) or value not in question.options:
            return f"choose one of: {', '.join(question.options)}"
        return None
    if isinstance(question, MultipleChoiceQuestion):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "answer a list of options"
        unknown = [v for v in value if v not in question.options]
        if unknown:
            return f"{unknown[0]!r} is not an option: {', '.join(question.options)}"
        if len(set(value)) != len(value):
            return "an option is chosen twice"
        if question.min_choices is not None and len(value) < question.min_choices:
            return f"choose at least {question.min_choices}"
        if question.max_choices is not None and len(value) > question.max_choices:
            return f"choose at most {question.max_choices}"
        return None
    if isinstance(question, ScaleQuestion):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"answer a whole number from {question.min} to {question.max}"
        if not question.min <= value <= question.max:
            return f"{value} is not on the scale {question.min} to {question.max}"
        return None
    assert isinstance(question, TextQuestion)
    if not isinstance(value, str):
        return "answer a text"
    if len(value.strip()) > question.max_length:
        return f"at most {question.max_length} characters ({len(value.strip())} given)"
    return None


def tally(questions: Sequence[Question], responses: Sequence[Response]) -> list[dict[str, Any]]:
    """Per question: how many answered it, and its tally, mean or texts (SPEC §8)."""
    out: list[dict[str, Any]] = []
    for q in questions:
        given = [r.answers[q.id] for r in responses if q.id in r.answers]
        row: dict[str, Any] = {"id": q.id, "type": q.type, "text": q.text, "answers": len(given)}
        if isinstance(q, YesNoQuestion):
            row["tally"] = {
                "yes": sum(v is True for v in given),
                "no": sum(v is False for v in given),
            }
        elif isinstance(q, SingleChoiceQuestion):
            row["tally"] = {o: sum(v == o for v in given) for o in q.options}
        elif isinstance(q, MultipleChoiceQuestion):
            row["tally"] = {o: sum(o in v for v in given) for o in q.options}
        elif isinstance(q, ScaleQuestion):
            row["tally"] = {str(n): sum(v == n for v in given) for n in range(q.min, q.max + 1)}
            row["mean"] = round(sum(given) / len(given), 3) if given else None
            if q.labels:  # what the ends (or any point) of the scale mean, for readers
                row["labels"] = {str(n): text for n, text in sorted(q.labels.items())}
        else:
            row["texts"] = list(given)
        out.append(row)
    return out


def csv_value(value: Any) -> str:
    """An answer in a CSV cell: lists joined with `;`, yes/no for booleans."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return "" if value is None else str(value)


# --- simulated respondents ----------------------------------------------------------------


def response_time(
    poc: PointOfContact,
    country: Country,
    notices: Sequence[datetime],
    deadline: datetime,
    seed: str,
    key: str,
) -> datetime | None:
    """When a simulated PoC answers; None if not before the deadline.

    Each notice (the invitation, then each reminder) is one more chance: a draw from
    the PoC's model after its office hours open, missed with its `miss` probability.
    The PoC answers at the earliest of those times; a reminder counts only if it is
    sent before that (reminders go to non-respondents only).
    """
    model = poc.simulation or DEFAULT_MODEL
    answered: datetime | None = None
    for number, sent in enumerate(sorted(notices)):
        if sent >= deadline or (answered is not None and sent >= answered):
            break
        delay = draw_delay(model, seed, f"{key}|{poc.id}|notice-{number}")
        if delay is None:
            continue
        at = opening(poc.hours, sent, country.tz) + delay
        answered = at if answered is None else min(answered, at)
    return answered if answered is not None and answered < deadline else None


def simulated_answers(questions: Sequence[Question], seed: str, key: str) -> Answers:
    """Plausible answers, fixed by (seed, key): every required question, most optional ones."""
    answers: Answers = {}
    for q in questions:
        skip, pick, extra = uniforms(seed, f"{key}|{q.id}")
        if not q.required and skip < 0.15:
            continue
        if isinstance(q, YesNoQuestion):
            answers[q.id] = pick < 0.7
        elif isinstance(q, SingleChoiceQuestion):
            answers[q.id] = q.options[int(pick * len(q.options))]
        elif isinstance(q, MultipleChoiceQuestion):
            low = q.min_choices or 1
            high = q.max_choices or len(q.options)
            count = low + int(extra * (high - low + 1))
            start = int(pick * len(q.options))
            answers[q.id] = [q.options[(start + i) % len(q.options)] for i in range(count)]
        elif isinstance(q, ScaleQuestion):
            span = q.max - q.min
            answers[q.id] = q.min + min(span, math.floor(math.sqrt(pick) * (span + 1)))
        elif isinstance(q, TextQuestion):
            if pick < 0.5 or q.required:
                answers[q.id] = "Simulated answer."[: q.max_length]
    return answers


def reminder_times(
    deadline: datetime, reminders: Sequence[timedelta], opened: datetime
) -> list[datetime]:
    """When reminders go out: each offset before the deadline, if after the opening."""
    return sorted(deadline - r for r in reminders if deadline - r > opened)

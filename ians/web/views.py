"""Request and response bodies of the API.

The same models validate requests, render responses and generate
/api/openapi.json, so the description cannot drift from the behaviour.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_serializer

from ians.domain.chase import Chase, ChaseStatus, Event, EventKind
from ians.domain.contacts import Country, PointOfContact
from ians.domain.exercise import ClockKind, Exercise
from ians.domain.messages import Content, Message, MessageType, Mode
from ians.store import InboxItem


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class Health(_View):
    status: str = "ok"


class ErrorDetail(_View):
    code: str
    message: str
    details: list[dict[str, Any]] = Field(default_factory=list)


class ErrorBody(_View):
    error: ErrorDetail


class TokenView(_View):
    token: str = Field(description="Shown once; only its hash is stored.")


class WebhookSecretView(_View):
    secret: str = Field(
        description="whsec_ and base64: the key the PoC's webhook notices are signed with"
        " (Standard Webhooks). Shown once; a new one replaces it."
    )


class PocView(_View):
    id: str
    country: str
    roles: list[str]
    organization: str
    email: str | None
    phone: str | None
    webhook: str | None
    webhook_format: Literal["json", "cap"]
    webhook_secret_issued_at: datetime | None = Field(
        description="When the webhook's signing secret was issued; none yet: nothing is sent"
    )
    webhook_disabled_at: datetime | None = Field(
        description="When the webhook answered 410 (gone): no notice is sent to it since,"
        " until a new secret is issued"
    )
    hours: str
    languages: list[str]
    details_confirmed_at: datetime | None = Field(
        default=None, description="when the PoC last confirmed these details; null: never"
    )

    @classmethod
    def of(
        cls,
        poc: PointOfContact,
        secret_issued_at: datetime | None = None,
        disabled_at: datetime | None = None,
        details_confirmed_at: datetime | None = None,
    ) -> PocView:
        return cls(
            id=poc.id,
            country=poc.country,
            roles=[r.value for r in poc.roles],
            organization=poc.organization,
            email=poc.email,
            phone=poc.phone,
            webhook=poc.webhook,
            webhook_format=poc.webhook_format.value,
            webhook_secret_issued_at=secret_issued_at,
            webhook_disabled_at=disabled_at,
            hours=str(poc.hours),
            languages=list(poc.languages),
            details_confirmed_at=details_confirmed_at,
        )


class CountryView(_View):
    code: str
    name: str
    timezone: str
    points_of_contact: list[str] = Field(description="PoC ids in escalation order")

    @classmethod
    def of(cls, country: Country) -> CountryView:
        return cls(
            code=country.code,
            name=country.name,
            timezone=country.timezone,
            points_of_contact=[p.id for p in country.points_of_contact],
        )


class RecipientStatus(_View):
    """Where the chase of one recipient country stands."""

    country: str
    status: ChaseStatus
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    reminders: int
    escalations: int
    reached: list[str] = Field(description="PoCs the message reached, in order")
    next_step_at: datetime | None

    @classmethod
    def of(cls, chase: Chase) -> RecipientStatus:
        return cls(
            country=chase.country,
            status=chase.status,
            acknowledged_at=chase.acknowledged_at,
            acknowledged_by=chase.acknowledged_by,
            reminders=chase.reminders,
            escalations=chase.escalations,
            reached=list(chase.reached_pocs),
            next_step_at=chase.next_due_at,
        )


class MessageOut(_View):
    """A message as sent (SPEC §4): what `POST /api/messages` answers."""

    id: str
    type: MessageType
    mode: Mode
    sender: str | None = Field(alias="from", serialization_alias="from")
    to: list[str]
    sent_at: datetime
    refers_to: str | None
    content: Content
    exercise_id: str | None
    simulated: bool = Field(description="a virtual run's (a rehearsal): reaches no PoC")

    @field_serializer("content")
    def _content_in_utc(self, content: Content) -> Content:
        # content times are kept as given (any offset) and shown in UTC, like every time
        times = {
            name: value.astimezone(UTC)
            for name, value in content
            if isinstance(value, datetime) and value.tzinfo is not None
        }
        return content.model_copy(update=times) if times else content

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        return cls(**_message_fields(message))


class WebhookMessage(_View):
    message: MessageOut
    ack_url: str = Field(description="POST it to acknowledge as this PoC (`via: webhook`)")


class WebhookConsultationInfo(_View):
    id: str
    name: str
    deadline: datetime
    url: str = Field(description="The consultation: GET it, POST answers to its /responses")


class WebhookConsultation(_View):
    consultation: WebhookConsultationInfo
    reminder: bool


class WebhookNotice(_View):
    """The JSON body of a webhook notice (the channel builds it as bytes; the tests check
    what it sends against this model)."""

    type: Literal["message", "reminder", "consultation"]
    timestamp: datetime = Field(description="When the notice was made; the same on retries")
    data: WebhookMessage | WebhookConsultation


class MessageView(MessageOut):
    """A message with, per recipient country, where its chase stands."""

    recipients: list[RecipientStatus]

    @classmethod
    def with_chases(cls, message: Message, chases: list[Chase]) -> MessageView:
        return cls(**_message_fields(message), recipients=[RecipientStatus.of(c) for c in chases])


def _message_fields(message: Message) -> dict[str, Any]:
    return {name: getattr(message, name) for name in MessageOut.model_fields}


class InboxEntry(_View):
    message: MessageView
    delivered_at: datetime
    acknowledged_at: datetime | None = Field(description="this PoC's acknowledgement")

    @classmethod
    def of(cls, item: InboxItem) -> InboxEntry:
        return cls(
            message=MessageView.with_chases(item.message, [item.chase]),
            delivered_at=item.delivery.delivered_at,
            acknowledged_at=item.delivery.acknowledged_at,
        )


class InboxConsultation(_View):
    id: str
    name: str
    deadline: datetime
    closed: bool
    responded_at: datetime | None


class Inbox(_View):
    messages: list[InboxEntry]
    consultations: list[InboxConsultation] = Field(
        default_factory=list, description="consultations this PoC is invited to, newest first"
    )


class AckBody(_View):
    """Optional body of an acknowledgement."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    note: str | None = Field(default=None, max_length=2000)


class DetailsConfirmed(_View):
    poc: str
    details_confirmed_at: datetime


class AckView(_View):
    acknowledged_at: datetime


class Countries(_View):
    countries: list[CountryView]


class Pocs(_View):
    points_of_contact: list[PocView]


class ExerciseBody(_View):
    """Start an exercise: the scenario (YAML text or the same as a JSON object) and its clock."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str | dict[str, Any] = Field(description="YAML text, or the scenario as an object")
    clock: Literal["real", "virtual"] = "real"
    speed: float = Field(default=1.0, gt=0, le=100_000, description="real clock only")
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    start: AwareDatetime | None = Field(default=None, description="scenario start; default now")
    simulate: list[str] | Literal["all"] = Field(
        default_factory=list, description="countries whose PoCs the server plays (real clock)"
    )


_NEXT = "the next page: this list's URL with before=<the last id here>; null after the last"


class ExerciseSummary(_View):
    """An exercise (or consultation) as lists show it."""

    id: str
    name: str
    kind: str
    clock: str
    speed: float
    seed: int | None
    state: str
    started_at: datetime
    ended_at: datetime | None
    simulate: list[str]
    simulated: bool = Field(description="a virtual run (a rehearsal): every PoC simulated")
    report: str = Field(description="where its report is")

    @classmethod
    def of(cls, e: Exercise) -> ExerciseSummary:
        report = (
            f"/api/consultations/{e.id}/results?format=json"
            if e.kind == "consultation"
            else f"/api/exercises/{e.id}/report?format=json"
        )
        return cls(
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
            simulated=e.clock == ClockKind.VIRTUAL,
            report=report,
        )


class ExerciseView(ExerciseSummary):
    progress: dict[str, int]


class ExerciseList(_View):
    exercises: list[ExerciseSummary] = Field(description="newest first")
    next: str | None = Field(description=_NEXT)


class ConsultationList(_View):
    consultations: list[ExerciseSummary] = Field(description="newest first")
    next: str | None = Field(description=_NEXT)


class MessageList(_View):
    messages: list[MessageOut] = Field(description="newest first")
    next: str | None = Field(description=_NEXT)


class EventView(_View):
    at: datetime
    kind: EventKind
    country: str | None
    poc: str | None
    due_at: datetime | None = Field(description="when a timed step was due")
    detail: dict[str, Any]

    @classmethod
    def of(cls, event: Event) -> EventView:
        return cls(
            at=event.at,
            kind=event.kind,
            country=event.country,
            poc=event.poc,
            due_at=event.due_at,
            detail=dict(event.detail),
        )


class MessageEvents(_View):
    message_id: str
    events: list[EventView] = Field(description="in the order they happened")


class ResponseBody(_View):
    """A PoC's answers, by question id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answers: dict[str, Any]


class ResponseView(_View):
    consultation_id: str
    poc: str
    submitted_at: datetime
    answers: dict[str, Any]


class ConsultationProgress(_View):
    invited: int
    responded: int
    response_rate: float


class ConsultationView(_View):
    id: str
    name: str
    description: str | None
    state: str
    closed: bool
    simulated: bool = Field(description="a virtual rehearsal: it invited nobody")
    opened_at: datetime
    deadline: datetime
    reminders: list[datetime] = Field(description="when non-respondents are reminded")
    questions: list[dict[str, Any]]
    progress: ConsultationProgress | None = Field(description="the admin's view only")
    response: ResponseView | None = Field(description="the calling PoC's answers, if any")


class ConsultationResults(_View):
    consultation: dict[str, Any]
    invited: int
    responded: int
    response_rate: float
    by_country: list[dict[str, Any]]
    questions: list[dict[str, Any]]
    non_respondents: list[str]

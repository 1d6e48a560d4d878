"""The Store interface: what tracking needs from a database, whatever the backend.

The store is the source of truth. Every method that writes does so in one
transaction and returns only after it is committed; a method that applies a
domain transition (acknowledge, fire) reads and writes in that same transaction,
so a stale or duplicate request sees the state it would change and does nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ians.domain.chase import Chase, Event, Via
from ians.domain.consultation import Answers, Invitation, Response
from ians.domain.exercise import Exercise
from ians.domain.messages import Message
from ians.domain.outbox import Attempt, OutboxNotice
from ians.domain.policy import AckPolicy
from ians.reports.facts import ExerciseFacts, SentMessage


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message reached a PoC (first send or escalation) at `delivered_at`."""

    message_id: str
    poc: str
    country: str
    delivered_at: datetime
    acknowledged_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InboxItem:
    message: Message
    delivery: Delivery
    chase: Chase


@dataclass(frozen=True, slots=True)
class AckResult:
    """The PoC's acknowledgement time; `chase` is the country's state after it."""

    acknowledged_at: datetime
    repeated: bool
    chase: Chase


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """Which messages a list shows: each filter given narrows it.

    `country` and `visible_to` each keep the messages that country sent or that reached
    one of its PoCs; `visible_to` (a PoC's own country) also bounds the `before` cursor.
    """

    limit: int
    before: str | None = None
    exercise: str | None = None
    mode: str | None = None
    country: str | None = None
    visible_to: str | None = None


@dataclass(frozen=True, slots=True)
class ExerciseQuery:
    limit: int
    before: str | None = None
    state: str | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class WebSession:
    """A signed-in browser: `key_hash` is the SHA-256 of its cookie; `poc` None is the
    secretariat; `csrf` the token its forms carry."""

    key_hash: str
    poc: str | None
    csrf: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Fired:
    """A chase after its due steps were applied, with the events they made."""

    chase: Chase
    events: list[Event]


class Store(ABC):
    shared = False
    """True when other nodes write to the same database (what this node holds in memory,
    such as the token table, may then be behind it)."""

    @abstractmethod
    async def close(self) -> None:
        """Finish pending writes and release the database."""

    # --- tokens -----------------------------------------------------------------
    @abstractmethod
    async def admin_token_hash(self) -> str | None:
        """The stored hash of the admin token, None before the first start."""

    @abstractmethod
    async def set_admin_token_hash(self, token_hash: str) -> None: ...

    @abstractmethod
    async def poc_token_hashes(self) -> dict[str, str]:
        """Every PoC token hash, mapped to its PoC id."""

    @abstractmethod
    async def set_poc_token_hash(self, poc: str, token_hash: str, at: datetime) -> None:
        """Replace the PoC's token (the old one stops working)."""

    # --- messages and their chases ------------------------------------------------
    @abstractmethod
    async def add_message(
        self,
        message: Message,
        policy: AckPolicy,
        chases: Sequence[Chase],
        events: Sequence[Event],
        inject: str | None = None,
    ) -> list[Chase]:
        """Store a message sent at `message.sent_at` to each chase's first PoC.

        `inject` names the scenario inject it was sent for, if any.

        Records a delivery per chase, the chases and the events; returns the chases
        with their ids. Raises Conflict if the message id exists.
        """

    @abstractmethod
    async def add_response(
        self,
        message: Message,
        policy: AckPolicy,
        chases: Sequence[Chase],
        events: Sequence[Event],
        inject: str | None = None,
        *,
        poc: str | None = None,
        simulated: bool = False,
    ) -> tuple[list[Chase], Chase | None]:
        """Store an assistance response like `add_message` and, in the same transaction,
        acknowledge the request it answers for its country if that country had not
        acknowledged (by `poc`, or the first PoC the request reached; `via: response`).

        Returns the response's chases and the request's chase if this acknowledged it.
        Raises Conflict if the message id exists.
        """

    @abstractmethod
    async def message(self, message_id: str) -> Message:
        """Raises UnknownMessage."""

    @abstractmethod
    async def find_message(self, message_id: str) -> Message | None: ...

    @abstractmethod
    async def chases(self, message_id: str) -> list[Chase]:
        """The message's chases, by country."""

    @abstractmethod
    async def deliveries(self, message_id: str) -> list[Delivery]:
        """Every PoC the message reached, in the order reached."""

    @abstractmethod
    async def list_messages(self, query: MessageQuery) -> list[Message]:
        """Messages newest first: by `sent_at`, then id, both descending (a stable order).

        With `before`, only those after that message in this order. Raises UnknownMessage
        when `before` names no message (or one `visible_to` may not see).
        """

    @abstractmethod
    async def inbox(self, poc: str, limit: int) -> list[InboxItem]:
        """What reached this PoC, newest first."""

    @abstractmethod
    async def acknowledge(
        self,
        message_id: str,
        poc: str,
        now: datetime,
        note: str | None = None,
        simulated: bool = False,
        via: Via = Via.API,
    ) -> AckResult:
        """Record the PoC's acknowledgement (idempotent: a repeat returns the first).

        A `note` is kept with the acknowledged event; `simulated` marks it as played by
        IANS (a simulated PoC), not the act of the PoC's people; `via` says how it came.

        Raises UnknownMessage, or NotDelivered when the message never reached the PoC.
        """

    # --- timers --------------------------------------------------------------------
    @abstractmethod
    async def pending_timers(self) -> list[tuple[datetime, int]]:
        """(due time, chase id) of every pending chase, to re-arm after a start."""

    @abstractmethod
    async def fire(self, chase_ids: Sequence[int], now: datetime) -> list[Fired]:
        """Apply every step due at `now` to these chases; only changed chases come back.

        Unknown ids, settled chases and steps already applied are skipped, so a
        stale or repeated firing changes nothing.
        """

    # --- facts for reports ---------------------------------------------------------
    @abstractmethod
    async def events(self, message_id: str) -> list[Event]:
        """The message's events in the order they were recorded."""

    @abstractmethod
    async def record_events(self, events: Sequence[Event]) -> None:
        """Record events that happened outside a transition (deliveries by a channel)."""

    # --- exercises -----------------------------------------------------------------
    @abstractmethod
    async def add_exercise(self, exercise: Exercise) -> None:
        """Raises Conflict if the id exists."""

    @abstractmethod
    async def exercise(self, exercise_id: str) -> Exercise:
        """Raises UnknownExercise."""

    @abstractmethod
    async def exercises(self, state: str) -> list[Exercise]:
        """Every exercise in this state, oldest first."""

    @abstractmethod
    async def list_exercises(self, query: ExerciseQuery) -> list[Exercise]:
        """Exercises (consultations too) newest first: by the server time each began
        (`wall_started_at`), then id, both descending. Their `scenario` text is left out.

        With `before`, only those after that exercise in this order. Raises
        UnknownExercise when `before` names no exercise.
        """

    @abstractmethod
    async def end_exercise(self, exercise_id: str, state: str, ended_at: datetime) -> Exercise:
        """Mark a running exercise stopped or completed; a stop also ends the chases of its
        messages (status `stopped`), so later acks are refused. Raises Conflict if it is
        not running, UnknownExercise."""

    @abstractmethod
    async def exercise_facts(self, exercise_id: str) -> ExerciseFacts:
        """Everything a report needs. Raises UnknownExercise."""

    @abstractmethod
    async def import_run(
        self,
        exercise: Exercise,
        messages: Sequence[SentMessage],
        chases: Sequence[Chase],
        events: Sequence[Event],
    ) -> None:
        """Store a whole run at once (a virtual run): the exercise, its messages, settled
        chases and the events; no deliveries, since a rehearsal reaches no inbox."""

    # --- consultations ----------------------------------------------------------------
    @abstractmethod
    async def add_consultation(
        self,
        consultation: Exercise,
        invitations: Sequence[Invitation],
        responses: Sequence[Response] = (),
    ) -> None:
        """Store a consultation (an exercise of kind consultation) with its invitations,
        and, for a virtual rehearsal, its responses."""

    @abstractmethod
    async def invitations(self, consultation_id: str) -> list[Invitation]: ...

    @abstractmethod
    async def invited_to(self, poc: str) -> list[tuple[Exercise, Response | None]]:
        """The consultations the PoC is invited to, newest first, with its response;
        never a virtual rehearsal (its invitations reached nobody)."""

    @abstractmethod
    async def responses(self, consultation_id: str) -> list[Response]:
        """The latest response of each PoC that answered, by PoC."""

    @abstractmethod
    async def save_response(
        self,
        consultation_id: str,
        poc: str,
        answers: Answers,
        now: datetime,
        deadline: datetime,
    ) -> bool:
        """Store the PoC's answers, replacing any earlier ones; True if it is its first.

        Raises Conflict when the consultation is closed or `now` is past the deadline,
        Forbidden when the PoC is not invited, UnknownExercise.
        """

    @abstractmethod
    async def remind(self, consultation_id: str, number: int, now: datetime) -> list[str]:
        """Record reminder `number`; the invited PoCs without a response, to remind.

        A reminder already recorded, or a consultation not open, gives [] (a repeated
        or stale timer changes nothing).
        """

    @abstractmethod
    async def reminders_sent(self, consultation_id: str) -> set[int]: ...

    # --- the outbox of external channels (e-mail) ---------------------------------------
    @abstractmethod
    async def set_channels(self, channels: Sequence[tuple[str, str]]) -> None:
        """Replace the (poc, channel) pairs that notices are queued for from now on."""

    @abstractmethod
    async def webhook_secrets(self) -> dict[str, tuple[str, datetime]]:
        """Each PoC's webhook secret and when it was issued, by PoC id (those issued one)."""

    @abstractmethod
    async def set_webhook_secret(self, poc: str, secret: str, at: datetime) -> None:
        """Store the PoC's webhook secret, replacing its old one, and switch its webhook
        (back) on: notices are queued for it from now on."""

    @abstractmethod
    async def disabled_channels(self) -> dict[tuple[str, str], datetime]:
        """When each (poc, channel) that a peer switched off (HTTP 410) went off."""

    @abstractmethod
    async def due_notices(
        self, now: datetime, limit: int, after: OutboxNotice | None = None
    ) -> list[OutboxNotice]:
        """Pending notices whose next attempt is due at `now`, earliest first (by `due_at`,
        then id); only those after `after` in that order when given (the outbox reads its
        next notices past the last it read, whose outcomes may not be stored yet)."""

    @abstractmethod
    async def next_notice_due(self) -> datetime | None:
        """When the earliest pending notice is due, None when none is pending."""

    @abstractmethod
    async def notice(self, notice_id: int) -> OutboxNotice | None: ...

    @abstractmethod
    async def notices(self, message_id: str) -> list[OutboxNotice]:
        """Every notice of the message (or consultation), in the order queued."""

    @abstractmethod
    async def record_attempts(self, attempts: Sequence[Attempt]) -> list[Event]:
        """Apply attempts' outcomes with their `delivered`/`delivery_failed` events in one
        transaction; a final failure escalates the country at once. Returns the escalations
        (their notices for external channels are queued in that same transaction)."""

    @abstractmethod
    async def message_policy(self, message_id: str) -> AckPolicy:
        """The policy the message is chased with. Raises UnknownMessage."""

    @abstractmethod
    async def meta_value(self, key: str) -> str | None:
        """A server-wide value kept in the database (a generated key, say)."""

    @abstractmethod
    async def set_meta_value(self, key: str, value: str) -> None: ...

    async def meta_value_or(self, key: str, value: str) -> str:
        """The value kept for `key`, keeping `value` first when there is none (of nodes
        starting together, the first to store wins and every one gets its value)."""
        stored = await self.meta_value(key)
        if stored is None:
            await self.set_meta_value(key, value)
            stored = value
        return stored

    @abstractmethod
    async def record_bounce(
        self, notice_id: int, at: datetime, answer: str, permanent: bool
    ) -> list[Event]:
        """A delivery status notification about a notice: its `delivery_failed` event; a
        permanent one marks the notice failed and escalates at once (returned)."""

    @abstractmethod
    async def claim_once(self, key: str) -> bool:
        """True the first time `key` is claimed, False ever after (a one-time link)."""

    # --- contact details ----------------------------------------------------------------
    @abstractmethod
    async def confirm_details(self, poc: str, at: datetime) -> None:
        """Record that the PoC confirmed its contact details at `at` (every one is kept)."""

    @abstractmethod
    async def details_confirmed(self) -> dict[str, datetime]:
        """The latest confirmation of each PoC that ever confirmed, by PoC id."""

    # --- the web pages' sessions ---------------------------------------------------------
    @abstractmethod
    async def add_session(self, session: WebSession) -> None:
        """Store a session (durably); sessions expired by its start may be dropped."""

    @abstractmethod
    async def web_session(self, key_hash: str) -> WebSession | None:
        """The session with this cookie hash, expired or not; None when there is none."""

    @abstractmethod
    async def end_session(self, key_hash: str) -> None:
        """Forget the session (signing out); nothing happens for an unknown one."""

    # --- findings ------------------------------------------------------------------------
    @abstractmethod
    async def save_findings(
        self, exercise_id: str, items: Sequence[Mapping[str, object]], at: datetime
    ) -> None:
        """Keep `items` as the exercise's improvement plan, replacing any kept before.
        Raises UnknownExercise."""

    @abstractmethod
    async def exercises_for_history(self, kind: str | None = None) -> list[Exercise]:
        """Every exercise that happened (no consultation, no virtual rehearsal), of `kind`
        if given, oldest first (by scenario start, then id)."""

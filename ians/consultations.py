"""Running consultations (SPEC §8): invite, remind non-respondents, take answers, close.

A consultation is stored as an exercise of kind `consultation`; its id is the
consultation id. Invitations and reminders go through the same Dispatcher as
messages, so they reach the inbox (and the channels that plug in later).
Reminders and the closing are timers on the same wheel as chases: after a
restart the ones not yet done are armed again, and one whose moment has passed
fires at once. In virtual time the whole consultation is rehearsed at once with
simulated respondents and stored like a real one.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ians.clock import Clock
from ians.delivery import Dispatcher, Notice, NoticeKind
from ians.domain.consultation import (
    Invitation,
    Response,
    check_answers,
    csv_value,
    reminder_times,
    response_time,
    simulated_answers,
    tally,
)
from ians.domain.contacts import Registry
from ians.domain.exercise import ClockKind, Exercise, ExerciseState
from ians.errors import Conflict, Forbidden, InvalidInput, UnknownConsultation, UnknownExercise
from ians.reports.stats import rate
from ians.scenarios.loader import load_scenario
from ians.scenarios.model import ConsultationScenario
from ians.scheduler import TimerWheel
from ians.store import Store

REMIND, CLOSE = "consultation-reminder", "consultation-close"


@dataclass(frozen=True)
class Opened:
    """A consultation as the service needs it: its record and its questionnaire.

    `deadline` and `reminders` are in scenario time, as reported; on a scaled clock
    (`speed: N`) they come N times sooner on the server's clock: `closes_at`, `reminds_at`.
    """

    record: Exercise
    scenario: ConsultationScenario

    @property
    def deadline(self) -> datetime:
        return self.scenario.deadline_at(self.record.started_at)

    @property
    def reminders(self) -> list[datetime]:
        return reminder_times(self.deadline, self.scenario.reminders, self.record.started_at)

    @property
    def closes_at(self) -> datetime:
        """When it closes on the server's clock."""
        return self.record.server_time(self.deadline)

    @property
    def reminds_at(self) -> list[datetime]:
        """When each reminder goes out on the server's clock."""
        return [self.record.server_time(at) for at in self.reminders]


class Consultations:
    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        timers: TimerWheel,
        registry: Registry,
        clock: Clock,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.timers = timers
        self.registry = registry
        self.clock = clock
        timers.handle(REMIND, self._reminders_due)
        timers.handle(CLOSE, self._closings_due)

    async def open(
        self,
        scenario: ConsultationScenario,
        source: str,
        clock: ClockKind,
        seed: int,
        start: datetime | None,
        speed: float = 1.0,
    ) -> Exercise:
        """Open a consultation now (or rehearse it whole in virtual time). With `speed` N
        its deadline and reminders come N times sooner (a 14-day consultation at 336
        closes in an hour); its times are reported in scenario time.

        Raises InvalidInput when its deadline has passed already.
        """
        now = self.clock.now()
        opened_at = start or now
        if clock is ClockKind.REAL and start is not None and start != now:
            raise InvalidInput.at("start", "a real consultation opens now")
        deadline = scenario.deadline_at(opened_at)
        if deadline <= opened_at:
            raise InvalidInput.at("scenario.deadline", "the deadline is not after the opening")
        record = Exercise(
            id=f"cn-{secrets.token_hex(6)}",
            name=scenario.name,
            kind="consultation",
            clock=clock,
            speed=speed if clock is ClockKind.REAL else 1.0,
            state=ExerciseState.RUNNING,
            started_at=opened_at,
            wall_started_at=opened_at,
            ended_at=None,
            seed=seed,
            scenario=source,
        )
        invitations = [
            Invitation(p.id, p.country, opened_at) for p in scenario.audience_pocs(self.registry)
        ]
        if clock is ClockKind.VIRTUAL:
            return await self._rehearse(record, scenario, invitations, str(seed))
        await self.store.add_consultation(record, invitations)
        self.dispatcher.submit(
            [
                Notice(NoticeKind.INVITATION, record.id, i.poc, i.country, opened_at)
                for i in invitations
            ]
        )
        self._arm(Opened(record, scenario), set())
        return record

    async def recover(self) -> int:
        """Arm again the reminders and closings of every open consultation."""
        running = [
            e for e in await self.store.exercises(ExerciseState.RUNNING) if e.kind == "consultation"
        ]
        for record in running:
            await self.take_up(record)
        return len(running)

    async def take_up(self, record: Exercise) -> None:
        """Arm the reminders not yet sent and the closing of an open consultation."""
        self._arm(
            Opened(record, self._scenario(record)), await self.store.reminders_sent(record.id)
        )

    async def get(self, consultation_id: str) -> Opened:
        """Raises UnknownConsultation (also for the id of an exercise that is no consultation)."""
        try:
            record = await self.store.exercise(consultation_id)
        except UnknownExercise:
            raise UnknownConsultation(consultation_id) from None
        if record.kind != "consultation":
            raise UnknownConsultation(consultation_id)
        return Opened(record, self._scenario(record))

    async def check_invited(self, consultation_id: str, poc: str) -> None:
        """Raises Forbidden unless the PoC is invited (never to a virtual rehearsal)."""
        record = await self.store.exercise(consultation_id)
        if record.clock == ClockKind.VIRTUAL or poc not in {
            i.poc for i in await self.store.invitations(consultation_id)
        }:
            raise Forbidden("only the invited points of contact see this consultation")

    async def respond(
        self, consultation_id: str, poc: str, answers: dict[str, Any]
    ) -> tuple[bool, Response]:
        """Store the PoC's answers (replacing earlier ones); True when they are its first.

        Raises InvalidInput naming each wrong answer, Conflict once closed, Forbidden for a
        PoC that is not invited.
        """
        opened = await self.get(consultation_id)
        await self.check_invited(consultation_id, poc)
        checked = check_answers(opened.scenario.questions, answers)
        now = self.clock.now()
        if opened.record.state != ExerciseState.RUNNING or now >= opened.closes_at:
            raise Conflict("the consultation is closed: no more answers are accepted")
        first = await self.store.save_response(consultation_id, poc, checked, now, opened.closes_at)
        return first, Response(poc, opened.record.scenario_time(now), checked)

    async def results(self, consultation_id: str) -> dict[str, Any]:
        """The results (SPEC §8): response rate overall and by country, tallies,
        scale means, texts, non-respondents."""
        opened = await self.get(consultation_id)
        invitations = await self.store.invitations(consultation_id)
        responses = await self.store.responses(consultation_id)
        return results(opened, invitations, responses)

    async def responses(self, opened: Opened) -> list[Response]:
        """The latest response of each PoC that answered, its time in scenario time."""
        return in_scenario_time(opened, await self.store.responses(opened.record.id))

    async def results_csv(self, consultation_id: str) -> str:
        """One row per respondent: poc, country, submitted_at, then one column per question."""
        opened = await self.get(consultation_id)
        invitations = await self.store.invitations(consultation_id)
        return results_csv(opened, invitations, await self.store.responses(consultation_id))

    # --- timers ---------------------------------------------------------------------------

    def _arm(self, opened: Opened, sent: set[int]) -> None:
        for number, at in enumerate(opened.reminds_at, start=1):
            if number not in sent:
                self.timers.arm((REMIND, (opened.record.id, number)), at)
        self.timers.arm((CLOSE, opened.record.id), opened.closes_at)

    async def _reminders_due(self, keys: list[tuple[str, int]], now: datetime) -> None:
        for consultation_id, number in keys:
            pocs = await self.store.remind(consultation_id, number, now)
            countries = {i.poc: i.country for i in await self.store.invitations(consultation_id)}
            self.dispatcher.submit(
                [Notice(NoticeKind.REMINDER, consultation_id, p, countries[p], now) for p in pocs]
            )

    async def _closings_due(self, consultation_ids: list[str], now: datetime) -> None:
        for consultation_id in consultation_ids:
            opened = await self.get(consultation_id)
            if opened.record.state == ExerciseState.RUNNING:
                await self.store.end_exercise(
                    consultation_id, ExerciseState.COMPLETED, opened.deadline
                )

    # --- helpers ----------------------------------------------------------------------------

    def _scenario(self, record: Exercise) -> ConsultationScenario:
        scenario = load_scenario(record.scenario, self.registry, name=record.id)
        assert isinstance(scenario, ConsultationScenario)
        return scenario

    async def _rehearse(
        self,
        record: Exercise,
        scenario: ConsultationScenario,
        invitations: list[Invitation],
        seed: str,
    ) -> Exercise:
        opened = Opened(record, scenario)
        notices = [record.started_at, *opened.reminders]
        responses = []
        for invitation in invitations:
            poc = self.registry.pocs[invitation.poc]
            at = response_time(
                poc,
                self.registry.countries[invitation.country],
                notices,
                opened.deadline,
                seed,
                "consultation",
            )
            if at is not None:  # keys without the random id: the same seed, the same rehearsal
                answers = simulated_answers(scenario.questions, seed, poc.id)
                responses.append(Response(poc.id, at, answers))
        closed = replace(record, state=ExerciseState.COMPLETED, ended_at=opened.deadline)
        await self.store.add_consultation(closed, invitations, responses)
        return closed


def in_scenario_time(opened: Opened, responses: list[Response]) -> list[Response]:
    """Stored responses (times on the server's clock) with their times in scenario time."""
    record = opened.record
    return [replace(r, submitted_at=record.scenario_time(r.submitted_at)) for r in responses]


def results(
    opened: Opened, invitations: list[Invitation], responses: list[Response]
) -> dict[str, Any]:
    """The results of a consultation from its invitations and latest stored responses."""
    responses = in_scenario_time(opened, responses)
    answered = {r.poc for r in responses}
    by_country: dict[str, list[int]] = {}
    for i in invitations:
        counts = by_country.setdefault(i.country, [0, 0])
        counts[0] += 1
        counts[1] += i.poc in answered
    record = opened.record
    return {
        "consultation": {
            "id": record.id,
            "name": record.name,
            "opened_at": _iso(record.started_at),
            "deadline": _iso(opened.deadline),
            "closed": record.state != ExerciseState.RUNNING,
            "clock": record.clock,
            "simulated": record.clock == ClockKind.VIRTUAL,
        },
        "invited": len(invitations),
        "responded": len(answered),
        "response_rate": rate(len(answered), len(invitations)),
        "by_country": [
            {"country": c, "invited": n, "responded": r, "response_rate": rate(r, n)}
            for c, (n, r) in sorted(by_country.items())
        ],
        "questions": tally(opened.scenario.questions, responses),
        "non_respondents": sorted(i.poc for i in invitations if i.poc not in answered),
    }


def results_csv(opened: Opened, invitations: list[Invitation], responses: list[Response]) -> str:
    """One row per respondent: poc, country, submitted_at, then one column per question."""
    responses = in_scenario_time(opened, responses)
    countries = {i.poc: i.country for i in invitations}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    questions = opened.scenario.questions
    writer.writerow(["poc", "country", "submitted_at", *(q.id for q in questions)])
    for r in responses:
        writer.writerow(
            [
                r.poc,
                countries.get(r.poc, ""),
                _iso(r.submitted_at),
                *(csv_value(r.answers.get(q.id)) for q in questions),
            ]
        )
    return out.getvalue()


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def rehearsals(
    scenario: ConsultationScenario,
    registry: Registry,
    opened_at: datetime,
    runs: int,
    seed: int,
    on_run: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Monte Carlo over virtual rehearsals: the expected response rate, overall, by
    country, and as it stands before each reminder and at the deadline."""
    deadline = scenario.deadline_at(opened_at)
    reminders = reminder_times(deadline, scenario.reminders, opened_at)
    notices = [opened_at, *reminders]
    stages = [*reminders, deadline]
    pocs = scenario.audience_pocs(registry)
    answered = {p.id: 0 for p in pocs}
    by_stage = [0] * len(stages)
    for r in range(runs):
        for poc in pocs:
            at = response_time(
                poc,
                registry.countries[poc.country],
                notices,
                deadline,
                f"{seed}-{r}",
                "consultation",
            )
            if at is None:
                continue
            answered[poc.id] += 1
            for i, stage in enumerate(stages):
                by_stage[i] += at < stage
        if on_run is not None:
            on_run(r + 1)
    invited = len(pocs) * runs
    countries: dict[str, list[int]] = {}
    for poc in pocs:
        counts = countries.setdefault(poc.country, [0, 0])
        counts[0] += runs
        counts[1] += answered[poc.id]
    labels = [f"before reminder {i}" for i in range(1, len(reminders) + 1)] + ["by the deadline"]
    return {
        "runs": runs,
        "seed": seed,
        "kind": "consultation",
        "invited": len(pocs),
        "response_rate": rate(sum(answered.values()), invited),
        "by_stage": [
            {"stage": label, "at": _iso(at), "response_rate": rate(n, invited)}
            for label, at, n in zip(labels, stages, by_stage, strict=True)
        ],
        "by_country": [
            {"country": c, "response_rate": rate(n, total)}
            for c, (total, n) in sorted(countries.items())
        ],
    }

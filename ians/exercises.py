"""Running exercises (SPEC §7): a scenario's timeline on a clock, and its end.

- `real` (optionally `speed: N`): each inject is a timer on the server's clock at
  `start + at / N`, sent through the Tracker like any message, with every policy
  duration divided by N. PoCs are people or programs using the API; the countries
  listed in `simulate` are played by the server, through the same ack path.
- `virtual`: the whole run is computed at once by VirtualExercise and stored.

State lives in the store; after a restart `recover()` arms again the injects not
yet sent and the simulated PoCs' acknowledgements and responses (their draws are
keyed, so they come out the same).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ians.consultations import Consultations
from ians.delivery import Notice, NoticeKind
from ians.domain.chase import Chase, ChaseStatus
from ians.domain.contacts import PointOfContact, Registry, Role
from ians.domain.exercise import (
    ClockKind,
    Exercise,
    ExerciseState,
    SentMessage,
    completed_at,
)
from ians.domain.limits import speed_problem
from ians.domain.messages import Message, MessageType
from ians.domain.policy import AckPolicy, PolicyTable
from ians.domain.simulated import ack_time, response_delay
from ians.errors import Conflict, IansError, InjectSent, InvalidInput
from ians.scenarios.loader import (
    load_scenario,
    load_scenario_file,
    read_scenario,
    start_problems,
)
from ians.scenarios.model import (
    ConnectivityTest,
    ConsultationScenario,
    DrillScenario,
    Inject,
    Scenario,
)
from ians.scenarios.virtual import VirtualExercise, simulated_response
from ians.store import AckResult
from ians.tracking import Tracker

log = logging.getLogger(__name__)

TimedScenario = DrillScenario | ConnectivityTest
INJECT, SIM_ACK, SIM_RESPONSE, CHECK = "inject", "sim-ack", "sim-response", "exercise-check"


@dataclass(frozen=True)
class ExerciseRequest:
    """How to run a scenario: what POST /api/exercises and `ians drill` ask for."""

    scenario: Scenario
    source: str  # the scenario as given, kept with the exercise
    clock: ClockKind = ClockKind.REAL
    speed: float = 1.0
    seed: int = 0
    start: datetime | None = None  # scenario time of the start; default now
    simulate: tuple[str, ...] = ()  # countries the server plays in a real exercise


@dataclass
class _Live:
    """A running exercise as the server keeps it in memory (rebuilt by `recover`)."""

    exercise: Exercise
    scenario: TimedScenario
    injects: dict[str, Inject]
    policies: dict[str, AckPolicy]  # per inject, on the server's clock
    response_policy: AckPolicy
    keys: dict[str, str] = field(default_factory=dict)  # message id → draw key
    sent: dict[str, str] = field(default_factory=dict)  # inject id → message id
    scripted: set[tuple[str | None, str | None]] = field(default_factory=set)


class Exercises:
    def __init__(
        self, tracker: Tracker, policies: PolicyTable, consultations: Consultations
    ) -> None:
        self.tracker = tracker
        self.consultations = consultations
        self.store = tracker.store
        self.registry = tracker.registry
        self.clock = tracker.clock
        self.timers = tracker.timers
        self.policies = policies
        self._live: dict[str, _Live] = {}
        self._by_message: dict[str, _Live] = {}
        self._inject_counts: dict[str, int] = {}  # of exercises no longer live
        self.timers.handle(INJECT, self._injects_due)
        self.timers.handle(SIM_ACK, self._acks_due)
        self.timers.handle(SIM_RESPONSE, self._responses_due)
        self.timers.handle(CHECK, self._checks_due)
        tracker.settled.append(self._chases_settled)
        tracker.sent.append(self._on_sent)
        tracker.exercise_replies = self._reply_policy
        # set when e-mail and the reply listener are on: a simulated PoC replies by e-mail
        self.reply_by_email: Callable[[str, str], Awaitable[bool]] | None = None

    # --- starting and stopping -----------------------------------------------------------

    async def start(self, request: ExerciseRequest) -> Exercise:
        """Start (or, in virtual time, run to the end) an exercise of the scenario; a
        consultation scenario opens a consultation.

        Raises InvalidInput for a bad speed or simulated country, or for simulated countries
        in virtual time or in a consultation.
        """
        now = self.clock.now()
        _check_request(request, self.registry, now)
        scenario = request.scenario
        if isinstance(scenario, ConsultationScenario):
            if request.simulate:
                raise InvalidInput.at(
                    "simulate", "a consultation is rehearsed in virtual time, not played"
                )
            return await self.consultations.open(
                scenario,
                request.source,
                request.clock,
                request.seed,
                request.start,
                request.speed,
            )
        start = request.start or now
        exercise_id = f"ex-{secrets.token_hex(6)}"
        if request.clock is ClockKind.VIRTUAL:
            return await self._run_virtual(scenario, request, exercise_id, start)
        exercise = Exercise(
            id=exercise_id,
            name=scenario.name,
            kind=scenario.kind,
            clock=ClockKind.REAL,
            speed=request.speed,
            state=ExerciseState.RUNNING,
            started_at=start,
            wall_started_at=now,
            ended_at=None,
            seed=request.seed,
            scenario=request.source,
            simulate=request.simulate,
        )
        await self.store.add_exercise(exercise)
        live = self._prepare(exercise, scenario)
        for inject in live.injects.values():
            self.timers.arm(
                (INJECT, (exercise_id, inject.id)), exercise.server_time(start + inject.at)
            )
        return exercise

    async def stop(self, exercise_id: str) -> Exercise:
        """End a running exercise now; its chases stop. Raises Conflict if it is not running."""
        exercise = await self.store.exercise(exercise_id)
        if exercise.state != ExerciseState.RUNNING:
            raise Conflict(f"exercise {exercise_id!r} is {exercise.state}")
        ended = await self.store.end_exercise(
            exercise_id, ExerciseState.STOPPED, exercise.scenario_time(self.clock.now())
        )
        self._forget(exercise_id)
        return ended

    async def recover(self) -> int:
        """Take up every running exercise after a start; returns how many."""
        running = [
            e for e in await self.store.exercises(ExerciseState.RUNNING) if e.kind != "consultation"
        ]
        for exercise in running:
            await self.take_up(exercise)
        return len(running)

    def running_here(self) -> set[str]:
        """The exercises whose injects and simulated PoCs this server plays."""
        return set(self._live)

    def let_go(self, exercise_id: str) -> None:
        """Play the exercise no more here (it ended, or another node took it up)."""
        self._forget(exercise_id)

    async def take_up(self, exercise: Exercise) -> None:
        """Play a running exercise from what the store holds: the injects not yet sent,
        the simulated PoCs' answers not yet given (a virtual run is complete when stored)."""
        if exercise.clock != ClockKind.REAL or exercise.id in self._live:
            return
        try:
            scenario = _timed(exercise.scenario, exercise.id, self.registry)
        except IansError as exc:  # the registry changed under it: it cannot go on
            log.error(
                "exercise %s stopped: its scenario no longer fits the registry: %s",
                exercise.id,
                exc.message,
            )
            await self.store.end_exercise(
                exercise.id, ExerciseState.STOPPED, exercise.scenario_time(self.clock.now())
            )
            return
        live = self._prepare(exercise, scenario)
        facts = await self.store.exercise_facts(exercise.id)
        for sent in facts.messages:
            self._remember(live, sent.message, sent.inject)
        for inject in live.injects.values():
            if inject.id not in live.sent:
                self.timers.arm(
                    (INJECT, (exercise.id, inject.id)),
                    exercise.server_time(exercise.started_at + inject.at),
                )
        await self._rearm_simulated(live, facts.messages, facts.chases)
        await self._check(exercise.id)

    async def inject_count(self, exercise: Exercise, sent: int) -> int:
        """How many injects an exercise's scenario has (`sent` if it no longer loads); its
        scenario is read once, off the event loop, and the count kept."""
        live = self._live.get(exercise.id)
        if live is not None:
            return len(live.injects)
        if exercise.id not in self._inject_counts:
            try:
                scenario = _timed(
                    await read_scenario(exercise.scenario, self.registry, exercise.id), exercise.id
                )
                count = len(scenario.timeline(self.registry))
            except IansError:  # the registry changed since: what was sent is all there is
                count = sent
            self._inject_counts[exercise.id] = count
        return self._inject_counts[exercise.id]

    # --- timers -------------------------------------------------------------------------

    async def _injects_due(self, keys: list[tuple[str, str]], now: datetime) -> None:
        for exercise_id, inject_id in keys:
            live = self._live.get(exercise_id)
            if live is None or inject_id in live.sent:
                continue  # stopped, or sent before a restart
            inject = live.injects[inject_id]
            draft = inject.draft(live.scenario.mode, live.exercise.started_at, live.sent)  # type: ignore[arg-type]
            try:
                message, _ = await self.tracker.send(  # a scripted inject: played by IANS
                    draft,
                    exercise_id=exercise_id,
                    policy=live.policies[inject_id],
                    inject=inject_id,
                    simulated=True,
                )
            except InjectSent:  # by the node that runs the exercise now: not here again
                log.warning("inject %s of %s was sent by another node", inject_id, exercise_id)
                continue
            self._remember(live, message, inject_id)
            if message.type is MessageType.ASSISTANCE_REQUEST:
                self.timers.arm(
                    (CHECK, exercise_id), message.sent_at + live.policies[inject_id].respond_within
                )
            await self._check(exercise_id)

    async def _reply_policy(self, referred: Message, type_: MessageType) -> AckPolicy | None:
        """The policy of a PoC's reply to an exercise's message: the scenario's, on the
        exercise's clock. Raises Conflict when the exercise was stopped."""
        assert referred.exercise_id is not None
        live = self._live.get(referred.exercise_id)
        if live is not None:
            policy = live.scenario.policy_for_type(type_, self.policies)
            return policy.scaled(live.exercise.speed)
        exercise = await self.store.exercise(referred.exercise_id)
        if exercise.state == ExerciseState.STOPPED:
            raise Conflict(f"exercise {exercise.id!r} was stopped")
        return None  # a late reply to a completed exercise: the server's policy

    def _on_sent(self, message: Message, inject: str | None) -> None:
        """A message of a running exercise is known by its draw key before its deliveries
        (which arm the simulated PoCs' acks) can run: an inject by its id; a reply (by a
        PoC through the API, or a simulated response) by that of what it answers."""
        live = self._live.get(message.exercise_id or "")
        if live is None or message.id in live.keys:
            return
        if inject is not None:
            self._remember(live, message, inject)
            return
        if message.refers_to not in live.keys:
            return
        self._remember(live, message, None, key=f"{live.keys[message.refers_to]}-{message.sender}")

    def plays(self, notice: Notice) -> bool:
        """Whether the notice reaches a PoC the server plays in a running exercise."""
        live = self._by_message.get(notice.message_id)
        return (
            live is not None
            and notice.kind is NoticeKind.MESSAGE
            and notice.country in live.exercise.simulate
        )

    def simulates(self, message_id: str, country: str) -> bool:
        """Whether the server plays `country` in the running exercise of the message."""
        live = self._by_message.get(message_id)
        return live is not None and country in live.exercise.simulate

    def on_delivery(self, notice: Notice) -> None:
        """A message reached a PoC the server plays: arm its acknowledgement."""
        live = self._by_message.get(notice.message_id)
        if live is not None and self.plays(notice):
            self._arm_ack(live, notice.message_id, notice.poc, notice.country, notice.at)

    async def _acks_due(self, keys: list[tuple[str, str]], now: datetime) -> None:
        for message_id, poc_id in keys:
            live = self._by_message.get(message_id)
            if live is None or not await self._chased(message_id, poc_id):
                continue  # a simulated PoC answers only while its country is chased
            result = await self._simulated_ack(message_id, poc_id)
            if result.repeated:
                continue
            await self._maybe_respond(
                live, message_id, poc_id, result.chase, result.acknowledged_at
            )

    async def _simulated_ack(self, message_id: str, poc_id: str) -> AckResult:
        """A simulated PoC acknowledges: by replying to its notice e-mail when e-mail is on
        and the notice reached it, else through the same path as the API."""
        if self.reply_by_email is not None and await self.reply_by_email(message_id, poc_id):
            for delivery in await self.store.deliveries(message_id):
                if delivery.poc == poc_id and delivery.acknowledged_at is not None:
                    chase = next(
                        c
                        for c in await self.store.chases(message_id)
                        if c.country == delivery.country
                    )
                    return AckResult(delivery.acknowledged_at, False, chase)
        return await self.tracker.acknowledge(message_id, poc_id, simulated=True)

    async def _responses_due(self, keys: list[tuple[str, str, str]], now: datetime) -> None:
        for message_id, country, poc_id in keys:
            live = self._by_message.get(message_id)
            key = f"{live.keys[message_id]}-{country}" if live is not None else ""
            if live is None or key in live.keys.values():
                continue  # stopped, or answered already (a retried batch)
            request = await self.store.message(message_id)
            message, _ = await self.tracker.send(
                simulated_response(request, country, poc_id),
                exercise_id=live.exercise.id,
                policy=live.response_policy,
                by=self.registry.pocs[poc_id],
                simulated=True,
            )
            self._remember(live, message, None, key=key)
            await self._check(live.exercise.id)

    async def _checks_due(self, exercise_ids: list[str], now: datetime) -> None:
        for exercise_id in set(exercise_ids):
            await self._check(exercise_id)

    async def _chases_settled(self, chases: list[Chase]) -> None:
        for exercise_id in {
            self._by_message[c.message_id].exercise.id
            for c in chases
            if c.message_id in self._by_message
        }:
            await self._check(exercise_id)

    # --- helpers --------------------------------------------------------------------------

    def _prepare(self, exercise: Exercise, scenario: TimedScenario) -> _Live:
        timeline = scenario.timeline(self.registry)
        live = _Live(
            exercise=exercise,
            scenario=scenario,
            injects={i.id: i for i in timeline},
            policies={
                i.id: scenario.policy_for(i, self.policies).scaled(exercise.speed) for i in timeline
            },
            response_policy=scenario.policy_for_type(
                MessageType.ASSISTANCE_RESPONSE, self.policies
            ).scaled(exercise.speed),
            scripted={
                (i.refers_to, i.sender)
                for i in timeline
                if i.type is MessageType.ASSISTANCE_RESPONSE
            },
        )
        self._live[exercise.id] = live
        return live

    def _remember(
        self, live: _Live, message: Message, inject: str | None, key: str | None = None
    ) -> None:
        if inject is not None:
            live.sent[inject] = message.id
        live.keys[message.id] = key or inject or message.id
        self._by_message[message.id] = live

    def _forget(self, exercise_id: str) -> None:
        live = self._live.pop(exercise_id, None)
        if live is None:
            return
        self._inject_counts[exercise_id] = len(live.injects)
        for message_id in live.keys:
            self._by_message.pop(message_id, None)
        for inject_id in live.injects:
            self.timers.disarm((INJECT, (exercise_id, inject_id)))

    def _arm_ack(
        self, live: _Live, message_id: str, poc_id: str, country: str, reached: datetime
    ) -> None:
        exercise = live.exercise
        at = ack_time(
            self.registry.pocs[poc_id],
            self.registry.countries[country],
            exercise.scenario_time(reached),
            str(exercise.seed),
            live.keys[message_id],
        )
        if at is not None:
            self.timers.arm((SIM_ACK, (message_id, poc_id)), exercise.server_time(at))

    async def _maybe_respond(
        self, live: _Live, message_id: str, poc_id: str, chase: Chase, acked: datetime
    ) -> None:
        key = live.keys[message_id]
        poc = self.registry.pocs[poc_id]
        message_type = await self._type_of(message_id)
        if (
            message_type is not MessageType.ASSISTANCE_REQUEST
            or not poc.has_role(Role.ASSISTANCE)
            or chase.acknowledged_by != poc_id
            or (key, chase.country) in live.scripted
        ):
            return
        exercise = live.exercise
        at = exercise.scenario_time(acked) + response_delay(poc, str(exercise.seed), key)
        self.timers.arm(
            (SIM_RESPONSE, (message_id, chase.country, poc_id)), exercise.server_time(at)
        )

    async def _chased(self, message_id: str, poc_id: str) -> bool:
        country = self.registry.pocs[poc_id].country
        chases = await self.store.chases(message_id)
        return any(c.country == country and c.status is ChaseStatus.PENDING for c in chases)

    async def _type_of(self, message_id: str) -> MessageType:
        return (await self.store.message(message_id)).type

    async def _rearm_simulated(
        self, live: _Live, messages: list[SentMessage], chases: list[Chase]
    ) -> None:
        """Arm again what simulated PoCs had still to do when the server stopped."""
        answered = {
            (m.message.refers_to, m.message.sender)
            for m in messages
            if m.message.type is MessageType.ASSISTANCE_RESPONSE
        }
        for sent in messages:
            for delivery in await self.store.deliveries(sent.message.id):
                if delivery.country not in live.exercise.simulate:
                    continue
                chase = next(
                    c
                    for c in chases
                    if c.message_id == sent.message.id and c.country == delivery.country
                )
                if delivery.acknowledged_at is None and chase.status is ChaseStatus.PENDING:
                    self._arm_ack(
                        live, sent.message.id, delivery.poc, delivery.country, delivery.delivered_at
                    )
                elif (
                    delivery.acknowledged_at is not None
                    and (sent.message.id, delivery.country) not in answered
                ):
                    await self._maybe_respond(
                        live, sent.message.id, delivery.poc, chase, delivery.acknowledged_at
                    )

    async def _check(self, exercise_id: str) -> None:
        live = self._live.get(exercise_id)
        if live is None:
            return
        facts = await self.store.exercise_facts(exercise_id)
        done = completed_at(len(live.injects), facts.messages, facts.chases, self.clock.now())
        if done is None:
            return
        await self.store.end_exercise(
            exercise_id, ExerciseState.COMPLETED, live.exercise.scenario_time(done)
        )
        self._forget(exercise_id)

    async def _run_virtual(
        self,
        scenario: TimedScenario,
        request: ExerciseRequest,
        exercise_id: str,
        start: datetime,
    ) -> Exercise:
        run = VirtualExercise(scenario, self.registry, self.policies, start, exercise_id).run(
            request.seed
        )
        exercise = Exercise(
            id=exercise_id,
            name=scenario.name,
            kind=scenario.kind,
            clock=ClockKind.VIRTUAL,
            speed=1.0,
            state=ExerciseState.COMPLETED,
            started_at=start,
            wall_started_at=start,
            ended_at=run.ended_at,
            seed=request.seed,
            scenario=request.source,
        )
        await self.store.import_run(exercise, run.messages, run.chases, run.events)
        return exercise


def load_timed_scenario(path: Path, registry: Registry) -> TimedScenario:
    """A drill or connectivity test from a file. Raises FileError, InvalidInput."""
    return _timed(load_scenario_file(path, registry), str(path))


def _check_request(request: ExerciseRequest, registry: Registry, now: datetime) -> None:
    """Raises InvalidInput listing every field of `request` that cannot run: a speed or
    start out of range, an unknown or needless simulated country, and any inject whose
    message cannot be built at this start (a content time `start-20m` out of range)."""
    problems: list[tuple[str, str]] = []
    speed = speed_problem(request.speed)
    if speed:
        problems.append(("speed", speed))
    problems += [
        ("simulate", f"no country {c!r} in the registry")
        for c in request.simulate
        if c not in registry
    ]
    if request.simulate and request.clock is ClockKind.VIRTUAL:
        problems.append(("simulate", "in virtual time every PoC is simulated already"))
    problems += start_problems(request.scenario, request.start or now)
    if problems:
        raise InvalidInput.listing(problems)


def _timed(scenario: Scenario | str, name: str, registry: Registry | None = None) -> TimedScenario:
    if isinstance(scenario, str):
        assert registry is not None
        scenario = load_scenario(scenario, registry, name=name)
    if not isinstance(scenario, DrillScenario | ConnectivityTest):
        raise InvalidInput.at("kind", f"{name} is a {scenario.kind}, not a drill or test")
    return scenario


def progress(facts_messages: list[SentMessage], chases: list[Chase]) -> dict[str, int]:
    """How far an exercise has got: injects sent and recipient countries by state."""
    states = {s.value: 0 for s in ChaseStatus}
    for chase in chases:
        states[chase.status.value] += 1
    return {
        "injects_sent": len({m.inject for m in facts_messages if m.inject}),
        "messages": len(facts_messages),
        "recipients": len(chases),
        **states,
    }


class SimulatedPocChannel:
    """Delivers to the PoCs the server plays in a running exercise: arms their acks."""

    name = "simulated"

    def __init__(self, exercises: Exercises) -> None:
        self._exercises = exercises

    def reaches(self, poc: PointOfContact, notice: Notice) -> bool:
        return self._exercises.plays(notice)

    async def deliver(self, notice: Notice, poc: PointOfContact) -> None:
        self._exercises.on_delivery(notice)

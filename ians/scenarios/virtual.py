"""Virtual time: an exercise run as fast as the machine can, every PoC simulated.

A discrete-event loop over the same domain rules as live tracking (routing,
references, `start_chase`, `fire`, `acknowledge`) and the same simulated-PoC draws
as a real-time exercise, without I/O: a run is a heap of timed happenings (an
inject falls due, a chase step falls due, a PoC acknowledges, a PoC responds).
The result holds the messages, chases and events of the run, in scenario time,
ready to be stored and reported like those of any exercise.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ians.domain.chase import (
    Chase,
    ChaseStatus,
    Event,
    EventKind,
    acknowledge,
    acknowledge_by_response,
    fire,
    start_chase,
)
from ians.domain.contacts import Registry, Role
from ians.domain.exercise import SentMessage, completed_at
from ians.domain.messages import (
    AnyDraft,
    AssistanceResponseContent,
    AssistanceResponseDraft,
    Message,
    MessageType,
    check_reference,
    message_id,
    route,
)
from ians.domain.policy import AckPolicy, PolicyTable
from ians.domain.simulated import ack_time, response_delay
from ians.scenarios.model import ConnectivityTest, DrillScenario, Inject

TimedScenario = DrillScenario | ConnectivityTest

_INJECT, _STEP, _ACK, _RESPOND = 0, 1, 2, 3
_END_OF_TIME = datetime.max.replace(tzinfo=UTC)


@dataclass
class RunResult:
    """One virtual run: everything in scenario time."""

    messages: list[SentMessage]
    chases: list[Chase]
    events: list[Event]
    ended_at: datetime
    happenings: int  # timed happenings the loop processed (its discrete events)


@dataclass
class _Prepared:
    """An inject as every run sends it: the message (the same in every run) and its routes."""

    inject: Inject
    policy: AckPolicy
    message: Message
    routes: dict[str, tuple[str, ...]]


@dataclass
class _Run:
    seed: str
    record: bool
    heap: list[tuple[datetime, int, int, Any]] = field(default_factory=list)
    seq: int = 0
    messages: list[SentMessage] = field(default_factory=list)
    chases: list[Chase] = field(default_factory=list)
    policies: list[AckPolicy] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # the draw key of each chase's message
    chase_messages: list[Message] = field(default_factory=list)
    chase_index: dict[tuple[str, str], int] = field(default_factory=dict)  # (message, country)
    events: list[Event] = field(default_factory=list)
    now: datetime | None = None

    def push(self, at: datetime, kind: int, payload: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, kind, payload))


class VirtualExercise:
    """A scenario prepared once for any number of virtual runs (same start, other seeds)."""

    def __init__(
        self,
        scenario: TimedScenario,
        registry: Registry,
        policies: PolicyTable,
        start: datetime,
        exercise_id: str,
    ) -> None:
        self.scenario = scenario
        self.registry = registry
        self.start = start
        self.exercise_id = exercise_id
        self.mode = scenario.mode
        self._injects = self._prepare(scenario.timeline(registry), policies)
        self._response_policy = scenario.policy_for_type(MessageType.ASSISTANCE_RESPONSE, policies)
        self._scripted = {  # (request inject, responding country) answered by the scenario
            (p.inject.refers_to, p.inject.sender)
            for p in self._injects
            if p.inject.type is MessageType.ASSISTANCE_RESPONSE
        }

    def _prepare(self, timeline: list[Inject], policies: PolicyTable) -> list[_Prepared]:
        """Each inject's message and routes, checked once: only its send time varies."""
        prepared: list[_Prepared] = []
        sent: dict[str, Message] = {}
        for inject in timeline:
            ids = {k: m.id for k, m in sent.items()}
            draft = inject.draft(self.mode, self.start, ids)  # type: ignore[arg-type]
            routes = route(draft, self.registry)
            check_reference(draft, sent.get(inject.refers_to or ""))
            message = self._message(draft, routes, inject.id, self.start + inject.at)
            sent[inject.id] = message
            prepared.append(
                _Prepared(inject, self.scenario.policy_for(inject, policies), message, routes)
            )
        return prepared

    def _message(
        self, draft: AnyDraft, routes: dict[str, tuple[str, ...]], key: str, at: datetime
    ) -> Message:
        return Message(
            id=message_id(draft.type, f"{self.exercise_id}-{key}"),
            type=draft.type,
            mode=draft.mode,
            sender=draft.sender,
            to=list(routes),
            sent_at=at,
            refers_to=draft.refers_to,
            content=draft.content,
            exercise_id=self.exercise_id,
            simulated=True,
        )

    def run(self, seed: int | str, *, record_events: bool = True) -> RunResult:
        """One run; the same seed gives the same result."""
        run = _Run(str(seed), record_events)
        for prepared in self._injects:
            run.push(self.start + prepared.inject.at, _INJECT, prepared)
        happenings = 0
        while run.heap:
            happenings += 1
            at, _, kind, payload = heapq.heappop(run.heap)
            run.now = at
            if kind == _INJECT:
                self._send_inject(run, payload, at)
            elif kind == _STEP:
                self._step(run, payload, at)
            elif kind == _ACK:
                index, poc_id = payload
                self._ack(run, index, poc_id, at)
            else:
                index, poc_id = payload
                self._respond(run, index, poc_id, at)
        ended = completed_at(len(self._injects), run.messages, run.chases, _END_OF_TIME)
        return RunResult(
            run.messages, run.chases, run.events, ended or run.now or self.start, happenings
        )

    # --- happenings -------------------------------------------------------------------

    def _send_inject(self, run: _Run, prepared: _Prepared, at: datetime) -> None:
        self._send(
            run,
            prepared.message,
            prepared.routes,
            prepared.policy,
            prepared.inject.id,
            prepared.inject.id,
        )

    def _send(
        self,
        run: _Run,
        message: Message,
        routes: dict[str, tuple[str, ...]],
        policy: AckPolicy,
        inject: str | None,
        key: str,
        responder: str | None = None,
    ) -> None:
        run.messages.append(SentMessage(inject, message, policy))
        at = message.sent_at
        if run.record:
            run.events.append(
                Event(at, EventKind.SENT, message.id, detail={"recipients": len(routes)})
            )
        if message.type is MessageType.ASSISTANCE_RESPONSE and message.sender is not None:
            self._answered(run, message, responder)
        for country, pocs in routes.items():
            index = len(run.chases)
            chase = start_chase(message.id, country, pocs, at, policy, chase_id=index + 1)
            run.chases.append(chase)
            run.policies.append(policy)
            run.keys.append(key)
            run.chase_messages.append(message)
            run.chase_index[message.id, country] = index
            self._reach(run, index, pocs[0], at)
            if chase.next_due_at is not None:
                run.push(chase.next_due_at, _STEP, index)

    def _reach(self, run: _Run, index: int, poc_id: str, at: datetime) -> None:
        chase = run.chases[index]
        if run.record:
            run.events.append(
                Event(
                    at,
                    EventKind.DELIVERED,
                    chase.message_id,
                    chase.country,
                    poc_id,
                    detail={"channel": "simulated"},
                )
            )
        country = self.registry.countries[chase.country]
        acked_at = ack_time(self.registry.pocs[poc_id], country, at, run.seed, run.keys[index])
        if acked_at is not None:
            run.push(acked_at, _ACK, (index, poc_id))

    def _step(self, run: _Run, index: int, at: datetime) -> None:
        chase = run.chases[index]
        if chase.next_due_at != at:
            return  # settled, or a step already applied
        after, events = fire(chase, run.policies[index], at)
        run.chases[index] = after
        if run.record:
            run.events.extend(events)
        for event in events:
            if event.kind is EventKind.ESCALATED and event.poc is not None:
                self._reach(run, index, event.poc, at)
        if after.next_due_at is not None:
            run.push(after.next_due_at, _STEP, index)

    def _ack(self, run: _Run, index: int, poc_id: str, at: datetime) -> None:
        chase = run.chases[index]
        if chase.status is not ChaseStatus.PENDING:
            return  # the country has answered already (or was given up on and missed)
        after, events = acknowledge(chase, poc_id, at, simulated=True)
        run.chases[index] = after
        if run.record:
            run.events.extend(events)
        message = run.chase_messages[index]
        poc = self.registry.pocs[poc_id]
        if (
            message.type is MessageType.ASSISTANCE_REQUEST
            and poc.has_role(Role.ASSISTANCE)
            and (run.keys[index], chase.country) not in self._scripted
        ):
            run.push(at + response_delay(poc, run.seed, run.keys[index]), _RESPOND, (index, poc_id))

    def _respond(self, run: _Run, index: int, poc_id: str, at: datetime) -> None:
        chase = run.chases[index]
        request = run.chase_messages[index]
        draft = simulated_response(request, chase.country, poc_id)
        routes = route(draft, self.registry)
        check_reference(draft, request)
        key = f"{run.keys[index]}-{chase.country}"
        message = self._message(draft, routes, key, at)
        self._send(run, message, routes, self._response_policy, None, key, poc_id)

    def _answered(self, run: _Run, response: Message, responder: str | None) -> None:
        """A response acknowledges its request for its country if nothing did before."""
        index = run.chase_index.get((response.refers_to or "", response.sender or ""))
        if index is None:
            return
        after, events = acknowledge_by_response(
            run.chases[index], responder, response.sent_at, simulated=True
        )
        run.chases[index] = after
        if run.record:
            run.events.extend(events)


def simulated_response(request: Message, country: str, poc_id: str) -> AssistanceResponseDraft:
    """The response a simulated assistance PoC sends to a request it acknowledged."""
    assert request.sender is not None
    return AssistanceResponseDraft(
        type=MessageType.ASSISTANCE_RESPONSE,
        mode=request.mode,
        sender=country,
        to=[request.sender],
        refers_to=request.id,
        content=AssistanceResponseContent(
            decision="accept", offer=f"Simulated response of {poc_id}: assistance as requested"
        ),
    )

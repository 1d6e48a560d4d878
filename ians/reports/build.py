"""From an exercise's stored facts to its acknowledgement-time report (SPEC §10)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime

from ians.domain.chase import Chase, Event, EventKind
from ians.domain.contacts import Registry
from ians.domain.messages import Message, MessageType
from ians.reports.channels import NOT_REACHED, Reach, funnels, reach
from ians.reports.facts import Exercise, ExerciseFacts, SentMessage
from ians.reports.findings import PocFacts, automatic_findings
from ians.reports.indicators import RowChecks, indicators
from ians.reports.model import (
    AckSeconds,
    ChannelFunnel,
    CountryResult,
    ExerciseSection,
    Finding,
    Findings,
    Indicator,
    IndicatorCount,
    RecipientRow,
    Report,
    Summary,
)
from ians.reports.stats import rate, summary_seconds

Checked = tuple[RecipientRow, RowChecks]


def build_report(facts: ExerciseFacts, registry: Registry | None = None) -> Report:
    """The report of `facts`, every time and duration in scenario time.

    The findings are those the secretariat stored, if any; otherwise found from the facts
    and what `registry` says of each PoC (hours, addresses; without it, only those the
    facts alone show).

    One row per chase (message, recipient country), in the order the messages were
    sent, then by country; chases of messages missing from `facts.messages` are left
    out. A country is acknowledged by its first ack, even one after a give-up.
    """
    exercise = facts.exercise
    reaches = reach(facts.events)
    checked = checked_rows(facts, reaches)
    rows = [row for row, _ in checked]
    return Report(
        exercise=ExerciseSection(
            id=exercise.id,
            name=exercise.name,
            kind=exercise.kind,
            clock=exercise.clock,
            speed=exercise.speed,
            state=exercise.state,
            started_at=exercise.started_at,
            ended_at=exercise.ended_at,
            simulated=exercise.clock == "virtual",
            mode=facts.messages[0].message.mode.value if facts.messages else None,
        ),
        summary=_summary(checked),
        by_country=[
            _country(country, group) for country, group in sorted(_by_country(checked).items())
        ],
        recipients=rows,
        channels=[
            ChannelFunnel(**asdict(f))
            for f in funnels(
                [
                    (reaches.get((r.message_id, r.country), NOT_REACHED), r.acknowledged_via)
                    for r in rows
                ]
            )
        ],
        findings=_findings(facts, reaches, registry),
    )


def _findings(
    facts: ExerciseFacts, reaches: Mapping[tuple[str, str], Reach], registry: Registry | None
) -> Findings:
    if facts.edited_findings is not None:
        edited = facts.edited_findings
        return Findings(
            edited_at=edited.edited_at, items=[Finding.model_validate(i) for i in edited.items]
        )
    pocs = {} if registry is None else poc_facts(registry)
    exercise = facts.exercise
    as_of = exercise.ended_at or exercise.started_at
    found = automatic_findings(
        facts.chases, facts.events, reaches, pocs, facts.details_confirmed, as_of
    )
    return Findings(
        edited_at=None,
        items=[
            Finding(kind=f.kind, country=f.country, poc=f.poc, issue=f.issue, action=f.action)
            for f in found
        ],
    )


def poc_facts(registry: Registry) -> dict[str, PocFacts]:
    """What the findings need from the registry, per PoC id."""
    return {
        p.id: PocFacts(
            p.country,
            str(p.hours),
            p.hours.always,
            {k: v for k, v in (("email", p.email), ("webhook", p.webhook)) if v},
        )
        for p in registry.pocs.values()
    }


def checked_rows(
    facts: ExerciseFacts, reaches: Mapping[tuple[str, str], Reach] | None = None
) -> list[Checked]:
    """The report's rows, in order, each with what the indicators ask of it; `reaches`:
    `reach(facts.events)`, if already worked out."""
    chases: dict[str, list[Chase]] = defaultdict(list)
    for chase in facts.chases:
        chases[chase.message_id].append(chase)
    responses = _first_responses(facts.messages)
    first_acks = _first_acks(facts.events)
    delivered = _first_deliveries(facts.events)
    if reaches is None:
        reaches = reach(facts.events)
    return [
        _row(
            facts.exercise,
            sent,
            chase,
            responses.get((sent.message.id, chase.country)),
            first_acks.get((sent.message.id, chase.country)),
            delivered.get((sent.message.id, chase.country)),
            reaches.get((sent.message.id, chase.country), NOT_REACHED),
        )
        for sent in facts.messages
        for chase in sorted(chases[sent.message.id], key=lambda c: c.country)
    ]


def _first_acks(events: Sequence[Event]) -> dict[tuple[str, str], Event]:
    """The first acknowledged event of each (message, country)."""
    first: dict[tuple[str, str], Event] = {}
    for e in events:
        if e.kind is EventKind.ACKNOWLEDGED and e.country is not None:
            first.setdefault((e.message_id, e.country), e)
    return first


def _first_deliveries(events: Sequence[Event]) -> dict[tuple[str, str], datetime]:
    """When each (message, country) was first delivered, on any channel."""
    first: dict[tuple[str, str], datetime] = {}
    for e in events:
        if e.kind is EventKind.DELIVERED and e.country is not None:
            key = (e.message_id, e.country)
            if key not in first or e.at < first[key]:
                first[key] = e.at
    return first


def _first_responses(messages: Sequence[SentMessage]) -> dict[tuple[str, str], Message]:
    """The earliest assistance response per (request id, responding country)."""
    first: dict[tuple[str, str], Message] = {}
    for sent in messages:
        m = sent.message
        if m.type is not MessageType.ASSISTANCE_RESPONSE or m.refers_to is None or not m.sender:
            continue
        key = (m.refers_to, m.sender)
        if key not in first or m.sent_at < first[key].sent_at:
            first[key] = m
    return first


def _row(
    exercise: Exercise,
    sent: SentMessage,
    chase: Chase,
    response: Message | None,
    first_ack: Event | None,
    delivered_at: datetime | None = None,
    reached: Reach = NOT_REACHED,
) -> Checked:
    message = sent.message
    target = round(exercise.scenario_seconds(sent.policy.ack_within), 3)
    ack = _seconds(exercise, message.sent_at, chase.acknowledged_at)
    if message.type is not MessageType.ASSISTANCE_REQUEST:
        response = None
    response_seconds = _seconds(exercise, message.sent_at, response.sent_at if response else None)
    row = RecipientRow(
        inject=sent.inject,
        message_id=message.id,
        type=message.type.value,
        country=chase.country,
        sent_at=exercise.scenario_time(message.sent_at),
        acknowledged_at=_at(exercise, chase.acknowledged_at),
        acknowledged_by=chase.acknowledged_by if chase.acknowledged_at is not None else None,
        ack_seconds=ack,
        target_seconds=target,
        within_target=ack is not None and ack <= target,
        reminders=chase.reminders,
        escalations=chase.escalations,
        responded_at=_at(exercise, response.sent_at if response else None),
        response_seconds=response_seconds,
        acknowledged_via=None if first_ack is None else str(first_ack.detail.get("via", "api")),
        delivered_at=_at(exercise, delivered_at),
        simulated=message.simulated
        or (first_ack is not None and bool(first_ack.detail.get("simulated"))),
        reached=reached.reached or chase.acknowledged_at is not None,
        channels=reached.channels,
    )
    request = message.type is MessageType.ASSISTANCE_REQUEST
    respond_within = round(exercise.scenario_seconds(sent.policy.respond_within), 3)
    checks = RowChecks(
        reached=row.reached,
        acknowledged=row.acknowledged_at is not None,
        within_target=row.within_target,
        first_poc=row.acknowledged_at is not None
        and chase.escalations == 0
        and chase.acknowledged_by == chase.pocs[0],
        assistance_request=request,
        answered_in_time=request
        and response_seconds is not None
        and response_seconds <= respond_within,
    )
    return row, checks


def _at(exercise: Exercise, at: datetime | None) -> datetime | None:
    return None if at is None else exercise.scenario_time(at)


def _seconds(exercise: Exercise, start: datetime, end: datetime | None) -> float | None:
    """Scenario seconds from `start` to `end`, rounded as reported (so comparisons agree)."""
    return None if end is None else round(exercise.scenario_seconds(end - start), 3)


def _ack_seconds(rows: Sequence[RecipientRow]) -> AckSeconds:
    return AckSeconds(**summary_seconds([r.ack_seconds for r in rows if r.ack_seconds is not None]))


def _indicators(checked: Sequence[Checked]) -> list[Indicator]:
    return [
        Indicator(
            id=c.id, label=c.label, definition=c.definition, value=c.value, of=c.of, rate=c.rate
        )
        for c in indicators([checks for _, checks in checked])
    ]


def _summary(checked: Sequence[Checked]) -> Summary:
    rows = [row for row, _ in checked]
    acknowledged = sum(r.acknowledged_at is not None for r in rows)
    within = sum(r.within_target for r in rows)
    return Summary(
        recipients=len(rows),
        acknowledged=acknowledged,
        ack_rate=rate(acknowledged, len(rows)),
        within_target=within,
        within_target_rate=rate(within, len(rows)),
        ack_seconds=_ack_seconds(rows),
        reminders=sum(r.reminders for r in rows),
        escalations=sum(r.escalations for r in rows),
        reached=sum(r.reached for r in rows),
        indicators=_indicators(checked),
    )


def _by_country(checked: Sequence[Checked]) -> dict[str, list[Checked]]:
    groups: dict[str, list[Checked]] = defaultdict(list)
    for item in checked:
        groups[item[0].country].append(item)
    return groups


def _country(country: str, checked: Sequence[Checked]) -> CountryResult:
    rows = [row for row, _ in checked]
    return CountryResult(
        country=country,
        recipients=len(rows),
        acknowledged=sum(r.acknowledged_at is not None for r in rows),
        within_target=sum(r.within_target for r in rows),
        ack_seconds=_ack_seconds(rows),
        reached=sum(r.reached for r in rows),
        indicators=[
            IndicatorCount(id=i.id, value=i.value, of=i.of, rate=i.rate)
            for i in _indicators(checked)
        ],
    )

"""Sending and chasing on a real SQLite file, with a manual clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import TypeAdapter

from ians.clock import ManualClock
from ians.domain.chase import ChaseStatus, EventKind
from ians.domain.contacts import Registry
from ians.domain.messages import MessageDraft
from ians.errors import InvalidInput, NotDelivered, UnknownMessage
from ians.store.sqlite import SqliteStore
from ians.tracking import Tracker
from tests.conftest import early_warning, make_tracker

draft = TypeAdapter(MessageDraft).validate_python


async def advance(tracker: Tracker, clock: ManualClock, minutes: float) -> None:
    clock.advance(timedelta(minutes=minutes))
    await tracker.timers.run_due()
    await tracker.dispatcher.drain()


async def by_country(tracker: Tracker, message_id: str):  # type: ignore[no-untyped-def]
    return {c.country: c for c in await tracker.store.chases(message_id)}


async def test_send_reaches_the_first_poc_of_each_country_and_arms_timers(
    tracker: Tracker,
) -> None:
    message, chases = await tracker.send(draft(early_warning()))
    await tracker.dispatcher.drain()
    assert [(c.country, c.reached_pocs) for c in chases] == [
        ("HUN", ("hun-1",)),
        ("ROU", ("rou-1",)),
    ]
    assert len(tracker.timers) == 2
    deliveries = await tracker.store.deliveries(message.id)
    assert {d.poc for d in deliveries} == {"hun-1", "rou-1"}
    kinds = [e.kind for e in await tracker.store.events(message.id)]
    assert kinds.count(EventKind.SENT) == 1  # one for the message
    assert kinds.count(EventKind.DELIVERED) == 2


async def test_reminders_escalation_and_give_up_follow_the_policy(
    tracker: Tracker, clock: ManualClock
) -> None:
    message, _ = await tracker.send(draft(early_warning()))
    await advance(tracker, clock, 15)
    hun = (await by_country(tracker, message.id))["HUN"]
    assert (hun.reminders, hun.reached_pocs) == (1, ("hun-1",))
    await advance(tracker, clock, 15)  # 30m: second reminder, then escalation to hun-2
    hun = (await by_country(tracker, message.id))["HUN"]
    assert (hun.reminders, hun.reached_pocs) == (2, ("hun-1", "hun-2"))
    await advance(tracker, clock, 30)  # 60m: escalation to hun-3
    await advance(tracker, clock, 60)  # 120m: give-up
    chases = await by_country(tracker, message.id)
    assert chases["HUN"].status is ChaseStatus.GAVE_UP
    assert chases["HUN"].escalations == 2
    assert chases["ROU"].status is ChaseStatus.GAVE_UP
    assert chases["ROU"].escalations == 0  # ROU has one PoC
    assert len(tracker.timers) == 0
    reminded = [
        e
        for e in await tracker.store.events(message.id)
        if e.kind is EventKind.REMINDED and e.country == "HUN"
    ]
    assert [(e.poc, e.due_at - message.sent_at) for e in reminded] == [
        ("hun-1", timedelta(minutes=15)),
        ("hun-1", timedelta(minutes=30)),
    ]


async def test_one_countrys_ack_never_touches_anothers_chase(
    tracker: Tracker, clock: ManualClock
) -> None:
    message, _ = await tracker.send(draft(early_warning()))
    clock.advance(timedelta(minutes=5))
    result = await tracker.acknowledge(message.id, "rou-1")
    assert result.acknowledged_at == clock.now()
    assert len(tracker.timers) == 1
    await advance(tracker, clock, 10)
    chases = await by_country(tracker, message.id)
    assert chases["ROU"].status is ChaseStatus.ACKNOWLEDGED
    assert chases["ROU"].reminders == 0
    assert chases["HUN"].status is ChaseStatus.PENDING
    assert chases["HUN"].reminders == 1


async def test_acks_are_idempotent_and_an_escalated_poc_may_ack(
    tracker: Tracker, clock: ManualClock
) -> None:
    message, _ = await tracker.send(draft(early_warning()))
    await advance(tracker, clock, 30)
    with pytest.raises(NotDelivered):
        await tracker.acknowledge(message.id, "hun-3")
    first = await tracker.acknowledge(message.id, "hun-2")
    clock.advance(timedelta(minutes=1))
    again = await tracker.acknowledge(message.id, "hun-2")
    assert again.acknowledged_at == first.acknowledged_at
    assert again.repeated
    late = await tracker.acknowledge(message.id, "hun-1")
    hun = (await by_country(tracker, message.id))["HUN"]
    assert (hun.acknowledged_by, hun.acknowledged_at) == ("hun-2", first.acknowledged_at)
    assert late.acknowledged_at == clock.now()
    acks = [e for e in await tracker.store.events(message.id) if e.kind is EventKind.ACKNOWLEDGED]
    assert [e.poc for e in acks] == ["hun-2", "hun-1"]


async def test_unknown_message_and_stranger_cannot_ack(tracker: Tracker) -> None:
    message, _ = await tracker.send(draft(early_warning()))
    with pytest.raises(UnknownMessage):
        await tracker.acknowledge("ew-nope", "hun-1")
    with pytest.raises(NotDelivered):
        await tracker.acknowledge(message.id, "srb-1")


async def test_an_ack_after_give_up_is_recorded(tracker: Tracker, clock: ManualClock) -> None:
    message, _ = await tracker.send(draft(early_warning(to=["ROU"])))
    await advance(tracker, clock, 121)
    clock.advance(timedelta(minutes=1))
    await tracker.acknowledge(message.id, "rou-1")
    rou = (await by_country(tracker, message.id))["ROU"]
    assert rou.status is ChaseStatus.ACKNOWLEDGED
    assert rou.gave_up_at is not None and rou.acknowledged_at > rou.gave_up_at


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (early_warning(to=["XXX"]), "to[0]"),
        (early_warning(to=["HUN", "HUN"]), "to[1]"),
        (early_warning(to=["SRB"]), "to[0]"),
        (early_warning(sender="XXX"), "from"),
        (early_warning(refers_to="ew-unknown"), "refers_to"),
        (
            {
                "type": "information",
                "mode": "exercise",
                "from": "SRB",
                "to": ["HUN"],
                "content": {"developments": "Plume moving"},
            },
            "refers_to",
        ),
        (
            {
                "type": "assistance_request",
                "mode": "exercise",
                "from": "SRB",
                "to": ["ROU"],
                "content": {"assistance": [{"kind": "experts", "description": "team"}]},
            },
            "to[0]",
        ),
        (
            {
                "type": "early_warning",
                "mode": "exercise",
                "from": None,
                "to": ["HUN"],
                "content": early_warning()["content"],
            },
            "from",
        ),
    ],
)
async def test_bad_routes_and_references_name_the_field(
    tracker: Tracker, body: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await tracker.send(draft(body))
    assert caught.value.details[0]["field"] == field


async def test_references_are_checked_against_the_referred_message(tracker: Tracker) -> None:
    warning, _ = await tracker.send(draft(early_warning()))
    info = {
        "type": "information",
        "mode": "exercise",
        "from": "SRB",
        "to": ["HUN"],
        "refers_to": warning.id,
        "content": {"developments": "Plume moving north-east"},
    }
    await tracker.send(draft(info))
    with pytest.raises(InvalidInput, match="another country"):
        await tracker.send(draft({**info, "from": "HUN", "to": ["SRB"]}))
    with pytest.raises(InvalidInput, match="mode"):
        await tracker.send(draft({**info, "mode": "test"}))
    request, _ = await tracker.send(
        draft(
            {
                "type": "assistance_request",
                "mode": "exercise",
                "from": "SRB",
                "to": ["HUN"],
                "refers_to": warning.id,
                "content": {"assistance": [{"kind": "experts", "description": "Ammonia team"}]},
            }
        )
    )
    response = {
        "type": "assistance_response",
        "mode": "exercise",
        "from": "HUN",
        "to": ["SRB"],
        "refers_to": request.id,
        "content": {"decision": "accept"},
    }
    await tracker.send(draft(response))
    with pytest.raises(InvalidInput, match="not sent to ROU"):
        await tracker.send(draft({**response, "from": "ROU"}))
    with pytest.raises(InvalidInput, match="must name an assistance_request"):
        await tracker.send(draft({**response, "refers_to": warning.id}))


async def test_a_restart_rearms_timers_fires_overdue_ones_once_and_keeps_acks(
    db_path,
    registry: Registry,
    clock: ManualClock,  # type: ignore[no-untyped-def]
) -> None:
    store = await SqliteStore.open(db_path)
    tracker = await make_tracker(store, registry, clock)
    message, _ = await tracker.send(draft(early_warning()))
    clock.advance(timedelta(minutes=10))
    await tracker.acknowledge(message.id, "rou-1")
    await tracker.dispatcher.drain()
    await store.close()  # the server stops mid-chase

    clock.advance(timedelta(minutes=35))  # down through both reminders and an escalation
    store = await SqliteStore.open(db_path)
    tracker = await make_tracker(store, registry, clock)
    assert len(tracker.timers) == 1  # HUN only: ROU had acknowledged
    assert await tracker.timers.run_due() == 1
    assert await tracker.timers.run_due() == 0
    await tracker.fire_due([c.id for c in await store.chases(message.id)], clock.now())  # stale
    await tracker.dispatcher.drain()
    chases = await by_country(tracker, message.id)
    assert (chases["HUN"].reminders, chases["HUN"].escalations) == (2, 1)
    assert chases["ROU"].status is ChaseStatus.ACKNOWLEDGED
    events = await store.events(message.id)
    assert sum(e.kind is EventKind.REMINDED for e in events) == 2
    assert sum(e.kind is EventKind.ESCALATED for e in events) == 1
    await store.close()

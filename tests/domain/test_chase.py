from datetime import UTC, datetime, timedelta

from ians.domain.chase import ChaseStatus, EventKind, acknowledge, fire, start_chase
from ians.domain.policy import AckPolicy

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
POLICY = AckPolicy(reminders=["15m", "30m"], escalate_every="30m", give_up_after="2h")


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def new(pocs: tuple[str, ...] = ("a-1", "a-2", "a-3")):  # type: ignore[no-untyped-def]
    return start_chase("ew-1", "AAA", pocs, T0, POLICY)._replace(id=1)


def kinds(events):  # type: ignore[no-untyped-def]
    return [(e.kind, e.poc) for e in events]


def test_a_new_chase_waits_for_the_first_reminder() -> None:
    chase = new()
    assert chase.next_due_at == m(15)
    assert chase.reached_pocs == ("a-1",)


def test_steps_fire_in_order_and_reminders_reach_every_poc_reached_before() -> None:
    chase, events = fire(new(), POLICY, m(15))
    assert kinds(events) == [(EventKind.REMINDED, "a-1")]
    assert chase.next_due_at == m(30)
    chase, events = fire(chase, POLICY, m(30))
    assert kinds(events) == [(EventKind.REMINDED, "a-1"), (EventKind.ESCALATED, "a-2")]
    assert (chase.reminders, chase.escalations) == (2, 1)
    chase, events = fire(chase, POLICY, m(60))
    assert kinds(events) == [(EventKind.ESCALATED, "a-3")]
    chase, events = fire(chase, POLICY, m(120))
    assert kinds(events) == [(EventKind.GAVE_UP, None)]
    assert chase.status is ChaseStatus.GAVE_UP
    assert chase.next_due_at is None


def test_overdue_steps_all_fire_at_once_with_their_due_times() -> None:
    chase, events = fire(new(), POLICY, m(61))
    assert [(e.kind, e.due_at) for e in events] == [
        (EventKind.REMINDED, m(15)),
        (EventKind.REMINDED, m(30)),
        (EventKind.ESCALATED, m(30)),
        (EventKind.ESCALATED, m(60)),
    ]
    assert all(e.at == m(61) for e in events)
    assert chase.next_due_at == m(120)


def test_a_stale_or_repeated_firing_changes_nothing() -> None:
    chase, _ = fire(new(), POLICY, m(15))
    assert fire(chase, POLICY, m(15)) == (chase, [])
    assert fire(chase, POLICY, m(29)) == (chase, [])


def test_acknowledgement_stops_the_chase_and_later_firings_are_no_ops() -> None:
    chase, events = acknowledge(new(), "a-1", m(5))
    assert chase.status is ChaseStatus.ACKNOWLEDGED
    assert (chase.acknowledged_at, chase.acknowledged_by, chase.next_due_at) == (m(5), "a-1", None)
    assert kinds(events) == [(EventKind.ACKNOWLEDGED, "a-1")]
    assert fire(chase, POLICY, m(200)) == (chase, [])


def test_a_second_poc_acknowledging_keeps_the_first_country_ack() -> None:
    chase, _ = fire(new(), POLICY, m(30))
    chase, _ = acknowledge(chase, "a-2", m(31))
    chase, events = acknowledge(chase, "a-1", m(40))
    assert (chase.acknowledged_at, chase.acknowledged_by) == (m(31), "a-2")
    assert kinds(events) == [(EventKind.ACKNOWLEDGED, "a-1")]


def test_an_ack_after_give_up_is_recorded_and_late() -> None:
    chase, _ = fire(new(("a-1",)), POLICY, m(120))
    chase, _ = acknowledge(chase, "a-1", m(130))
    assert chase.status is ChaseStatus.ACKNOWLEDGED
    assert chase.gave_up_at == m(120)
    assert chase.acknowledged_at == m(130)

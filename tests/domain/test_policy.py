from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from ians.domain.policy import (
    AckPolicy,
    PolicyOverride,
    PolicyTable,
    Step,
    StepKind,
    chase_plan,
    due_steps,
)

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
R, E, G = StepKind.REMIND, StepKind.ESCALATE, StepKind.GIVE_UP


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("policy", "pocs", "plan"),
    [
        # defaults: reminders 15m, 30m; escalate every 30m; give up after 24h
        (AckPolicy(), 1, [(15, R), (30, R), (1440, G)]),
        (AckPolicy(), 2, [(15, R), (30, R), (30, E), (1440, G)]),
        (AckPolicy(), 3, [(15, R), (30, R), (30, E), (60, E), (1440, G)]),
        # steps at or after the give-up are dropped
        (
            AckPolicy(reminders=["10m", "1h"], escalate_every="20m", give_up_after="1h"),
            5,
            [(10, R), (20, E), (40, E), (60, G)],
        ),
        (AckPolicy(reminders=[], escalate_every="1h", give_up_after="2h"), 2, [(60, E), (120, G)]),
    ],
)
def test_chase_plan(policy: AckPolicy, pocs: int, plan: list[tuple[int, StepKind]]) -> None:
    assert chase_plan(policy, T0, pocs) == tuple(Step(m(at), kind) for at, kind in plan)


@pytest.mark.parametrize(
    ("done", "now", "due"),
    [
        (0, 14.99, []),
        (0, 15, [(15, R)]),
        (0, 30, [(15, R), (30, R), (30, E)]),
        (1, 30, [(30, R), (30, E)]),
        (3, 59, []),
        (3, 2000, [(60, E), (1440, G)]),
        (5, 3000, []),
    ],
)
def test_due_steps(done: int, now: float, due: list[tuple[int, StepKind]]) -> None:
    plan = chase_plan(AckPolicy(), T0, 3)
    assert due_steps(plan, done, m(now)) == tuple(Step(m(at), kind) for at, kind in due)


def test_policy_table_most_specific_wins() -> None:
    table = PolicyTable(
        overrides={
            "default": PolicyOverride(ack_within="30m"),
            "test": PolicyOverride(ack_within="10m", give_up_after="2h"),
            "early_warning": PolicyOverride(ack_within="20m"),
            "exercise/early_warning": PolicyOverride(reminders=["5m"]),
        }
    )
    assert table.resolve("information", "actual").ack_within == timedelta(minutes=30)
    assert table.resolve("information", "test").give_up_after == timedelta(hours=2)
    assert table.resolve("early_warning", "test").ack_within == timedelta(minutes=20)
    exercise = table.resolve("early_warning", "exercise")
    assert exercise.reminders == (timedelta(minutes=5),)
    assert exercise.ack_within == timedelta(minutes=20)
    assert exercise.give_up_after == timedelta(hours=24)


@pytest.mark.parametrize(
    "bad",
    [{"escalate_every": "0s"}, {"reminders": ["0m"]}, {"give_up_after": "soon"}, {"other": 1}],
)
def test_bad_policies_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PolicyOverride.model_validate(bad)


def test_reminders_are_sorted_and_unique() -> None:
    assert AckPolicy(reminders=["30m", "15m", "15m"]).reminders == (
        timedelta(minutes=15),
        timedelta(minutes=30),
    )

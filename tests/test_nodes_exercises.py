"""An exercise on several nodes (the real services, twice, on one PostgreSQL schema and
one injected clock): the node that starts it plays it; when that node stops renewing its
lease, another takes it up from the store and plays the rest, each inject once."""

from __future__ import annotations

from datetime import timedelta

from ians.clock import ManualClock
from ians.domain.contacts import Registry
from ians.exercises import ExerciseRequest
from ians.scenarios.loader import load_scenario
from ians.services import AppConfig, open_services
from tests.conftest import ADMIN_TOKEN, TEST_POLICIES

LEASE = timedelta(seconds=10)
DRILL = """\
kind: drill
name: Two warnings
participants: [SRB, HUN, ROU]
injects:
  - id: ew1
    at: 0m
    type: early_warning
    from: SRB
    to: [HUN, ROU]
    content: {event_type: release, occurred_at: start-20m,
              location: {name: Pančevo, lat: 44.87, lon: 20.64}}
  - id: ew2
    at: 10m
    type: early_warning
    from: SRB
    to: [HUN]
    content: {event_type: fire, occurred_at: start-5m,
              location: {name: Pančevo, lat: 44.87, lon: 20.64}}
"""


async def test_an_exercise_passes_to_another_node_when_its_node_stops_renewing(
    pg_url: str, registry: Registry, clock: ManualClock
) -> None:
    config = AppConfig(
        registry=registry,
        db=pg_url,
        admin_token=ADMIN_TOKEN,
        clock=clock,
        run_timers=False,
        policies=TEST_POLICIES,
        lease=LEASE,
    )
    async with open_services(config) as a, open_services(config) as b:
        assert a.nodes is not None and b.nodes is not None
        exercise = await a.exercises.start(ExerciseRequest(load_scenario(DRILL, registry), DRILL))
        await a.tracker.timers.run_due()  # ew1, due at the start
        await b.nodes.poll()
        assert exercise.id in a.exercises.running_here()
        assert exercise.id not in b.exercises.running_here()  # A's lease holds

        clock.advance(timedelta(minutes=11))  # A is gone: no poll renews its lease
        await b.nodes.poll()
        assert exercise.id in b.exercises.running_here()
        await b.tracker.timers.run_due()  # ew2, overdue: B plays it
        await a.nodes.poll()  # A, back, finds its exercise taken: it lets go
        assert exercise.id not in a.exercises.running_here()
        await a.tracker.timers.run_due()  # and does not send ew2 again

        facts = await b.tracker.store.exercise_facts(exercise.id)
        assert sorted(m.inject for m in facts.messages) == ["ew1", "ew2"]

        # A's own timers still hold ew1's chases (armed when A sent it); their steps are
        # B's now, and so are the simulated PoCs those steps reach: A leaves them to B
        ew1 = next(m.message for m in facts.messages if m.inject == "ew1")
        ids = [c.id for c in await a.tracker.store.chases(ew1.id)]
        clock.advance(timedelta(minutes=5))  # the first reminder (15 min) is due
        await b.nodes.poll()  # B renews its lease
        assert await a.tracker.store.fire(ids, clock.now()) == []
        fired = await b.tracker.store.fire(ids, clock.now())
        assert sorted(f.chase.country for f in fired) == ["HUN", "ROU"]

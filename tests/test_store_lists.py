"""The store's list queries, as the Store interface promises them: newest first by a
stable key, `before` as a cursor that must name a visible row, scenario text left out."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from pydantic import TypeAdapter

from ians.clock import ManualClock
from ians.domain.exercise import Exercise
from ians.domain.messages import MessageDraft
from ians.errors import UnknownExercise, UnknownMessage
from ians.store import ExerciseQuery, MessageQuery
from ians.store.sqlite import SqliteStore
from ians.tracking import Tracker
from tests.conftest import T0, early_warning

draft = TypeAdapter(MessageDraft).validate_python


async def test_messages_page_by_sent_at_then_id_and_a_cursor_must_be_visible(
    store: SqliteStore, tracker: Tracker, clock: ManualClock
) -> None:
    to_hun, _ = await tracker.send(draft(early_warning(to=["HUN"])))
    to_rou, _ = await tracker.send(draft(early_warning(to=["ROU"])))  # the same sent_at
    clock.advance(timedelta(seconds=1))
    last, _ = await tracker.send(draft(early_warning(to=["HUN", "ROU"])))
    tied = sorted([to_hun.id, to_rou.id], reverse=True)

    everything = await store.list_messages(MessageQuery(limit=10))
    assert [m.id for m in everything] == [last.id, *tied]
    after = await store.list_messages(MessageQuery(limit=10, before=tied[0]))
    assert [m.id for m in after] == tied[1:]
    for_hun = await store.list_messages(MessageQuery(limit=10, visible_to="HUN"))
    assert [m.id for m in for_hun] == [last.id, to_hun.id]
    with pytest.raises(UnknownMessage):
        await store.list_messages(MessageQuery(limit=10, before=to_rou.id, visible_to="HUN"))
    with pytest.raises(UnknownMessage):
        await store.list_messages(MessageQuery(limit=10, before="ew-none"))


async def test_exercises_page_by_when_they_began_and_leave_out_their_scenario(
    store: SqliteStore,
) -> None:
    base = Exercise(
        id="ex-a",
        name="A",
        kind="drill",
        clock="virtual",
        speed=1.0,
        state="completed",
        started_at=T0 - timedelta(days=3650),  # a scenario set long ago, run last
        wall_started_at=T0 + timedelta(hours=1),
        ended_at=None,
        scenario="name: A\n" * 100,
    )
    await store.add_exercise(base)
    await store.add_exercise(replace(base, id="ex-b", state="running", wall_started_at=T0))
    await store.add_exercise(replace(base, id="ex-c", kind="consultation", wall_started_at=T0))

    listed = await store.list_exercises(ExerciseQuery(limit=10))
    assert [e.id for e in listed] == ["ex-a", "ex-c", "ex-b"]
    assert {e.scenario for e in listed} == {""}
    assert (await store.exercise("ex-a")).scenario == base.scenario
    after = await store.list_exercises(ExerciseQuery(limit=10, before="ex-c"))
    assert [e.id for e in after] == ["ex-b"]
    drills = await store.list_exercises(ExerciseQuery(limit=10, kind="drill", state="running"))
    assert [e.id for e in drills] == ["ex-b"]
    with pytest.raises(UnknownExercise):
        await store.list_exercises(ExerciseQuery(limit=10, before="ex-none"))

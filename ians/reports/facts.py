"""What a report is derived from: the stored facts of one exercise.

The store reads these back at any time after (or during) an exercise, so a report
of an exercise that ran in a server can be produced later by `ians report`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ians.domain.chase import Chase, Event
from ians.domain.exercise import Exercise, SentMessage

__all__ = ["Exercise", "ExerciseFacts", "SentMessage"]


@dataclass(frozen=True, slots=True)
class ExerciseFacts:
    exercise: Exercise
    messages: list[SentMessage]  # in the order sent
    chases: list[Chase]  # one per (message, recipient country)
    events: list[Event]  # in the order recorded

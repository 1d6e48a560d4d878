"""What a report is derived from: the stored facts of one exercise.

The store reads these back at any time after (or during) an exercise, so a report
of an exercise that ran in a server can be produced later by `ians report`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ians.domain.chase import Chase, Event
from ians.domain.exercise import Exercise, SentMessage

__all__ = ["EditedFindings", "Exercise", "ExerciseFacts", "SentMessage"]


@dataclass(frozen=True, slots=True)
class ExerciseFacts:
    exercise: Exercise
    messages: list[SentMessage]  # in the order sent
    chases: list[Chase]  # one per (message, recipient country)
    events: list[Event]  # in the order recorded
    edited_findings: EditedFindings | None = None  # the improvement plan as edited
    details_confirmed: Mapping[str, datetime] = field(default_factory=dict)  # PoC: latest


@dataclass(frozen=True, slots=True)
class EditedFindings:
    """The improvement plan the secretariat stored for an exercise (`PUT …/findings`)."""

    items: list[dict[str, Any]]
    edited_at: datetime

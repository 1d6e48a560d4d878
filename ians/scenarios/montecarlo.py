"""Monte Carlo over virtual runs (`ians simulate`): what to expect of each country.

Per country, over every (message, country) of every run: the share acknowledged,
the share acknowledged within the message's target, and the nearest-rank median
and p90 of the acknowledgement times pooled over all runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ians.reports.stats import nearest_rank, rate
from ians.scenarios.virtual import RunResult, VirtualExercise


@dataclass
class _Tally:
    rows: int = 0
    acknowledged: int = 0
    within_target: int = 0
    seconds: list[float] = field(default_factory=list)


def monte_carlo(
    exercise: VirtualExercise,
    runs: int,
    seed: int,
    on_run: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run `runs` virtual runs (run r has seed "seed-r") and pool their figures.

    The same seed gives the same figures. `on_run` is told after each run (a progress bar).
    """
    tallies: dict[str, _Tally] = {}
    for r in range(runs):
        _pool(exercise.run(f"{seed}-{r}", record_events=False), tallies)
        if on_run is not None:
            on_run(r + 1)
    return {
        "runs": runs,
        "seed": seed,
        "by_country": [
            {
                "country": country,
                "ack_rate": rate(t.acknowledged, t.rows),
                "within_target_rate": rate(t.within_target, t.rows),
                "ack_seconds": {
                    "median": _round(nearest_rank(t.seconds, 0.5)),
                    "p90": _round(nearest_rank(t.seconds, 0.9)),
                },
            }
            for country, t in sorted(tallies.items())
        ],
    }


def _pool(run: RunResult, tallies: dict[str, _Tally]) -> None:
    targets = {s.message.id: s.policy.ack_within.total_seconds() for s in run.messages}
    for chase in run.chases:
        tally = tallies.setdefault(chase.country, _Tally())
        tally.rows += 1
        if chase.acknowledged_at is None:
            continue
        seconds = (chase.acknowledged_at - chase.sent_at).total_seconds()
        tally.acknowledged += 1
        tally.within_target += seconds <= targets[chase.message_id]
        tally.seconds.append(seconds)


def _round(value: float | None) -> float | int | None:
    if value is None:
        return None
    rounded = round(value, 3)
    return int(rounded) if rounded == int(rounded) else rounded

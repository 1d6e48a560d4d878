"""The console's chase-step lines: one each at a human pace, a count past a burst."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ians.console import StepLog


class Seconds:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "test.steps"]


@pytest.fixture
def steps(caplog: pytest.LogCaptureFixture) -> tuple[StepLog, Seconds]:
    caplog.set_level(logging.INFO, logger="test.steps")
    seconds = Seconds()
    return StepLog(logging.getLogger("test.steps"), per_second=3, monotonic=seconds), seconds


def test_every_line_within_the_pace(
    steps: tuple[StepLog, Seconds], caplog: pytest.LogCaptureFixture
) -> None:
    log, seconds = steps
    for n in range(6):
        log.info("acknowledged", "step %d", n)
        seconds.now += 0.4  # 2.5 lines a second: under 3
    log.flush()
    assert lines(caplog) == [f"step {n}" for n in range(6)]


def test_a_burst_is_counted_by_kind_and_the_count_logged_once(
    steps: tuple[StepLog, Seconds], caplog: pytest.LogCaptureFixture
) -> None:
    log, seconds = steps
    for n in range(10):
        log.info("acknowledged" if n % 5 else "reminded", "step %d", n)
    assert lines(caplog) == ["step 0", "step 1", "step 2"]
    seconds.now += 1.0  # the next window: its first line comes after the count
    log.info("gave_up", "step 10")
    log.flush()  # nothing more held: no second count
    assert lines(caplog)[3:] == [
        "chase steps not listed one by one (over 3 lines in 1 s): 6 acknowledged,"
        " 1 reminded; each is in its message's events",
        "step 10",
    ]


async def test_the_count_comes_at_the_end_of_the_second_without_another_line(
    steps: tuple[StepLog, Seconds], caplog: pytest.LogCaptureFixture
) -> None:
    log, seconds = steps
    for n in range(3):
        log.info("acknowledged", "step %d", n)
    seconds.now += 0.998  # the window ends 2 ms from here: the count's timer is set for then
    log.info("acknowledged", "step 3")
    log.info("reminded", "step 4")
    assert lines(caplog) == ["step 0", "step 1", "step 2"]
    for _ in range(100):  # bounded: the event loop's timer is due in 2 ms
        await asyncio.sleep(0.005)
        if len(lines(caplog)) > 3:
            break
    said = lines(caplog)[3]
    assert said.endswith(": 1 acknowledged, 1 reminded; each is in its message's events")


def test_nothing_is_counted_when_info_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="test.steps")
    log = StepLog(logging.getLogger("test.steps"), per_second=1)
    for n in range(5):
        log.info("acknowledged", "step %d", n)
    log.flush()
    assert caplog.records == []

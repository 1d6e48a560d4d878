"""Timer precision: 20,000 reminders falling due within 10 s, each recorded and delivered.

Real parts throughout: SystemClock, the TimerWheel woken by a real AsyncIOScheduler,
a Tracker over a SqliteStore (synchronous=FULL) and its Dispatcher. `test` messages
(from the secretariat, mode test) are sent with an AckPolicy whose one reminder offset
puts their due time on an evenly spread instant of a 10 s window that opens `--lead`
seconds after the sending starts (sending goes in due order, in concurrent batches; the
output says if it overlapped the window). By default each message goes to 10 countries,
so 20,000 reminders fall due at 2,000 instants 5 ms apart, all 10 chases of a message at
its instant, as for a real message to many countries. `--per-message 1` sends 20,000
single-country messages instead (20,000 instants): its setup takes minutes today (see
bench/README.md), so it suits fewer reminders (`--reminders 4000 --per-message 1`).

Lateness of a reminder = its `reminded` event's recorded time (`at`) minus its due time
(`due_at`), both read back from the events table. Delivery is counted by a channel beside
the inbox that records when each reminder notice reached it. The event loop's own floor
(lateness of `asyncio.sleep(0.001)`) is measured idle before, and as a probe running
through the window.

Run: .venv/bin/python bench/timer_precision.py [--reminders 20000] [--per-message 10]
     [--window 10] [--lead 14]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from common import CpuShare, banner, percentile, run, sleep_floor, synthetic_registry, tmp_db
from pydantic import TypeAdapter

from ians.clock import SystemClock
from ians.delivery import Dispatcher, Notice, NoticeKind
from ians.domain.contacts import PointOfContact
from ians.domain.messages import MessageDraft
from ians.domain.policy import AckPolicy
from ians.scheduler import TimerWheel
from ians.store.sqlite import SqliteStore
from ians.tracking import Tracker

BATCH = 250  # sends in flight at once (they share group commits)
COUNTRIES = 100


class ReminderLog:
    """A delivery channel beside the inbox: notes when each reminder reached it."""

    name = "bench-log"

    def __init__(self) -> None:
        self.reached: dict[tuple[str, str], datetime] = {}

    def reaches(self, poc: PointOfContact, notice: Notice | None = None) -> bool:
        return True

    async def deliver(self, notice: Notice, poc: PointOfContact) -> None:
        if notice.kind is NoticeKind.REMINDER:
            self.reached[(notice.message_id, notice.country)] = datetime.now(UTC)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def describe(name: str, late: list[float]) -> None:
    print(
        f"   {name}: p50 {ms(percentile(late, 0.5))}, p99 {ms(percentile(late, 0.99))},"
        f" max {ms(max(late))} (n={len(late):,})"
    )


async def probe(stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.001)
        out.append(time.perf_counter() - start - 0.001)


async def main(args: argparse.Namespace) -> None:
    banner(f"timer_precision: {args.reminders:,} reminders due within {args.window:g} s")
    registry = synthetic_registry(COUNTRIES, 1, via_yaml=True)
    codes = list(registry.countries)
    db = tmp_db("timers")
    store = await SqliteStore.open(db)
    clock = SystemClock()
    timers = TimerWheel(clock)
    log = ReminderLog()
    dispatcher = Dispatcher(store, registry, clock, [log])
    tracker = Tracker(store, registry, clock, timers, dispatcher)
    timers.start(AsyncIOScheduler(timezone="UTC"))

    idle_floor = await sleep_floor(1000)
    describe("event-loop floor, idle: asyncio.sleep(0.001) lateness", idle_floor)

    k = args.per_message
    messages = args.reminders // k
    drafts = TypeAdapter(list[MessageDraft]).validate_python(
        [
            {
                "type": "test",
                "mode": "test",
                "from": None,
                "to": [codes[(i * k + j) % COUNTRIES] for j in range(k)],
                "content": {"text": f"communication test {i}"},
            }
            for i in range(messages)
        ]
    )
    base_policy = AckPolicy(
        ack_within=timedelta(hours=1),
        escalate_every=timedelta(hours=1),
        give_up_after=timedelta(hours=2),
    )
    start = clock.now()
    window_start = start + timedelta(seconds=args.lead)
    step = timedelta(seconds=args.window) / messages
    dues = [window_start + step * i for i in range(messages)]

    share = CpuShare()
    sent_at = time.perf_counter()
    for first in range(0, messages, BATCH):
        batch = range(first, min(first + BATCH, messages))
        now = clock.now()
        await asyncio.gather(
            *(
                tracker.send(
                    drafts[i],
                    policy=base_policy.model_copy(
                        update={"reminders": (max(dues[i] - now, timedelta(microseconds=1)),)}
                    ),
                )
                for i in batch
            )
        )
    sending = time.perf_counter() - sent_at
    overlap = (clock.now() - window_start).total_seconds()
    print(
        f"   sent {messages:,} messages to {k} countries each ({messages * k:,} chases, one"
        f" reminder each, at {messages:,} instants {step.total_seconds() * 1e3:g} ms apart)"
        f" in {sending:.1f} s; the window opened"
        f" {args.lead:g} s after sending began"
        + (
            f": sending overlapped its first {overlap:.1f} s"
            if overlap > 0
            else f", {-overlap:.1f} s after sending ended"
        )
    )

    stop = asyncio.Event()
    busy_floor: list[float] = []
    probing = asyncio.create_task(probe(stop, busy_floor))
    end = window_start + timedelta(seconds=args.window)
    await asyncio.sleep(max(0.0, clock.seconds_until(end)) + 1.0)
    stop.set()
    await probing
    await dispatcher.drain()
    print(f"   {share}")
    head = timers.next_due()  # the earliest armed timer: overdue if a wake was lost
    overdue = (clock.now() - head).total_seconds() if head is not None else 0.0
    timers.shutdown()
    await store.close()

    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT message_id, country, at, due_at FROM events WHERE kind = 'reminded'"
        ).fetchall()
        sends = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    late = [(at - due) / 1e6 for _, _, at, due in rows]
    print(
        f"   recorded: {len(rows):,} `reminded` events for {sends:,} messages;"
        f" delivered to the channel: {len(log.reached):,}"
    )
    if len(rows) < messages * k:
        print(
            f"   LOST: {messages * k - len(rows):,} reminders due in the window never fired;"
            f" 1 s after it closed the wheel's earliest timer was {overdue:.1f} s overdue"
            " (its wake was lost)"
        )
    if late:
        describe("reminder lateness (at - due_at)", late)
        print(
            "      targets: p99 <= 20 ms, max <= 100 ms;"
            f" {sum(x > 0.020 for x in late):,} later than 20 ms,"
            f" {sum(x > 0.100 for x in late):,} later than 100 ms"
        )
        reached = [
            log.reached[m, c].timestamp() - due / 1e6
            for m, c, _, due in rows
            if (m, c) in log.reached
        ]
        if reached:
            describe("delivery lateness (channel reached - due_at, after the commit)", reached)
    describe("event-loop floor during the window (probe)", busy_floor)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reminders", type=int, default=20_000)
    parser.add_argument(
        "--per-message", type=int, default=10, help="recipient countries per message (at most 100)"
    )
    parser.add_argument("--window", type=float, default=10.0, help="seconds")
    parser.add_argument(
        "--lead",
        type=float,
        default=14.0,
        help="seconds from the start of sending to the opening of the window",
    )
    run(lambda: main(parser.parse_args()))

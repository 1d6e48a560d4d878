"""The running parts of IANS, assembled in one place for the server and the CLI."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from ians.clock import Clock, SystemClock
from ians.consultations import Consultations
from ians.delivery import Channel, Dispatcher
from ians.domain.contacts import Registry
from ians.domain.policy import PolicyTable
from ians.exercises import Exercises, SimulatedPocChannel
from ians.scheduler import TimerWheel
from ians.settings import Settings, load_policy_table
from ians.store.sqlite import SqliteStore
from ians.tokens import Tokens
from ians.tracking import Tracker

log = logging.getLogger(__name__)


@dataclass
class AppConfig:
    """What the services need; `clock` and `run_timers` let tests drive time themselves."""

    registry: Registry
    db: str
    admin_token: str | None = None
    policies: PolicyTable = field(default_factory=PolicyTable)
    clock: Clock = field(default_factory=SystemClock)
    channels: list[Channel] = field(default_factory=list)  # beside the inbox
    run_timers: bool = True
    synchronous: str = "FULL"
    body_timeout: float = 15.0

    @classmethod
    def from_settings(cls, settings: Settings, registry: Registry) -> AppConfig:
        """The configuration that `settings` (variables, flags, settings file) describe."""
        token = settings.admin_token
        return cls(
            registry=registry,
            db=str(settings.db),
            admin_token=token.get_secret_value() if token is not None else None,
            policies=load_policy_table(settings.settings_file),
            synchronous=settings.synchronous,
            body_timeout=settings.body_timeout,
        )


@dataclass
class Services:
    tracker: Tracker
    exercises: Exercises
    consultations: Consultations
    tokens: Tokens


@asynccontextmanager
async def open_services(config: AppConfig) -> AsyncIterator[Services]:
    """Open the store, take up what was pending in it, and start the timers.

    On exit: timers stop, pending deliveries finish, the store closes.
    """
    store = await SqliteStore.open(config.db, synchronous=config.synchronous)
    timers = TimerWheel(config.clock)
    dispatcher = Dispatcher(store, config.registry, config.clock, config.channels)
    try:
        tracker = Tracker(store, config.registry, config.clock, timers, dispatcher, config.policies)
        tokens = Tokens(store, config.registry, config.clock)
        generated = await tokens.load(config.admin_token)
        if generated is not None:
            # on stderr: stdout may be a report (`ians drill … > report.json`)
            print(f"IANS admin token (shown once, stored hashed): {generated}", file=sys.stderr)
        consultations = Consultations(store, dispatcher, timers, config.registry, config.clock)
        exercises = Exercises(tracker, config.policies, consultations)
        dispatcher.add_channel(SimulatedPocChannel(exercises))
        armed = await tracker.recover()
        running = await exercises.recover() + await consultations.recover()
        # the registry's models and the armed timers live as long as the server: keep the
        # collector from walking them again and again (full collections took seconds)
        gc.collect()
        gc.freeze()
        timers.start(AsyncIOScheduler(timezone="UTC") if config.run_timers else None)
        log.info(
            "IANS ready: %d countries, %d timers armed, %d exercises running",
            len(config.registry),
            armed,
            running,
        )
        yield Services(tracker, exercises, consultations, tokens)
    finally:
        timers.shutdown()
        await dispatcher.drain()
        await store.close()

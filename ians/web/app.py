"""The application factory: one place that assembles the server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from ians.clock import Clock, SystemClock
from ians.delivery import Channel, Dispatcher, InboxChannel
from ians.domain.contacts import Registry
from ians.domain.policy import PolicyTable
from ians.scheduler import TimerWheel
from ians.store.sqlite import SqliteStore
from ians.tracking import Tracker
from ians.web.auth import Tokens
from ians.web.http import MAX_BODY, errors_middleware
from ians.web.keys import registry_key, tokens_key, tracker_key
from ians.web.openapi import openapi
from ians.web.routes import add_routes

log = logging.getLogger(__name__)


@dataclass
class AppConfig:
    """What the factory needs; `clock` and `run_timers` let tests drive time themselves."""

    registry: Registry
    db: str
    admin_token: str | None = None
    policies: PolicyTable = field(default_factory=PolicyTable)
    clock: Clock = field(default_factory=SystemClock)
    channels: list[Channel] = field(default_factory=lambda: [InboxChannel()])
    run_timers: bool = True
    synchronous: str = "FULL"


def create_app(config: AppConfig) -> web.Application:
    app = web.Application(middlewares=[errors_middleware], client_max_size=MAX_BODY)
    app[registry_key] = config.registry
    app.cleanup_ctx.append(_services(config))
    add_routes(app)
    spec = openapi()

    async def openapi_json(request: web.Request) -> web.Response:
        return web.json_response(spec)

    app.router.add_get("/api/openapi.json", openapi_json)
    return app


def _services(config: AppConfig):  # type: ignore[no-untyped-def]
    async def services(app: web.Application) -> AsyncIterator[None]:
        store = await SqliteStore.open(config.db, synchronous=config.synchronous)
        timers = TimerWheel(config.clock)
        dispatcher = Dispatcher(store, config.registry, config.clock, config.channels)
        tracker = Tracker(store, config.registry, config.clock, timers, dispatcher, config.policies)
        tokens = Tokens(store, config.registry, config.clock)
        generated = await tokens.load(config.admin_token)
        if generated is not None:
            print(f"IANS admin token (shown once, stored hashed): {generated}", flush=True)
        app[tracker_key] = tracker
        app[tokens_key] = tokens
        armed = await tracker.recover()
        scheduler = AsyncIOScheduler(timezone="UTC") if config.run_timers else None
        timers.start(scheduler)
        log.info("IANS ready: %d countries, %d timers armed", len(config.registry), armed)
        try:
            yield
        finally:
            timers.shutdown()
            await dispatcher.drain()
            await store.close()

    return services

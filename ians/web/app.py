"""The application factory: one place that assembles the HTTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from ians.services import AppConfig, open_services
from ians.sessions import Sessions
from ians.settings import Settings
from ians.web import render
from ians.web.admin_pages import add_admin_pages
from ians.web.consultation_pages import add_consultation_pages
from ians.web.dashboard import add_dashboard
from ians.web.exercise_pages import add_exercise_pages
from ians.web.form_pages import add_form_pages
from ians.web.http import MAX_BODY, errors_middleware
from ians.web.keys import (
    body_timeout_key,
    consultations_key,
    exercises_key,
    links_key,
    registry_key,
    services_key,
    sessions_key,
    tokens_key,
    tracker_key,
)
from ians.web.openapi import openapi
from ians.web.pages import add_pages
from ians.web.poc_pages import add_poc_pages
from ians.web.routes import add_routes
from ians.web.signing import add_signing
from ians.web.streams import add_streams

__all__ = ["AppConfig", "connection_options", "create_app"]

# seconds the rest of a refused body (408, broken) is read and dropped before the close,
# so that the client can read the answer (aiohttp's lingering close; its default is 10 s)
LINGER = 1.0


def connection_options(settings: Settings) -> dict[str, Any]:
    """How the HTTP server treats connections (web.run_app / web.AppRunner keywords):
    one idle, or whose request headers are not in, for `keepalive_timeout` is closed."""
    return {"keepalive_timeout": settings.keepalive_timeout, "lingering_time": LINGER}


def create_app(config: AppConfig) -> web.Application:
    app = web.Application(middlewares=[errors_middleware], client_max_size=MAX_BODY)
    app[registry_key] = config.registry
    app[body_timeout_key] = config.body_timeout
    app.cleanup_ctx.append(_services(config))
    add_routes(app)
    render.setup(app)
    add_pages(app)
    add_signing(app)
    add_poc_pages(app)
    add_consultation_pages(app)  # before /consultations/{id}: `start` is no id
    add_exercise_pages(app, config.scenarios)
    add_form_pages(app)
    add_dashboard(app)
    add_streams(app)
    add_admin_pages(app)
    spec = openapi()

    async def openapi_json(request: web.Request) -> web.Response:
        return web.json_response(spec)

    app.router.add_get("/api/openapi.json", openapi_json)
    return app


def _services(config: AppConfig) -> Callable[[web.Application], AsyncIterator[None]]:
    async def services(app: web.Application) -> AsyncIterator[None]:
        async with open_services(config) as running:
            app[tracker_key] = running.tracker
            app[tokens_key] = running.tokens
            app[exercises_key] = running.exercises
            app[consultations_key] = running.consultations
            app[links_key] = running.links
            app[services_key] = running
            app[sessions_key] = Sessions(
                running.tracker.store, running.tokens, config.registry, running.tracker.clock
            )
            yield

    return services

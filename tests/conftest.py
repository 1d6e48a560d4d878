"""Shared fixtures: a small registry on disk, a manual clock, a real SQLite store,
the tracker over them, and the real app on a loopback server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from ians.clock import ManualClock
from ians.contacts import load_registry
from ians.delivery import Dispatcher
from ians.domain.contacts import Registry
from ians.domain.policy import PolicyOverride, PolicyTable
from ians.scheduler import TimerWheel
from ians.store.backends import open_store
from ians.store.sqlite import SqliteStore
from ians.tracking import Tracker
from ians.web.app import AppConfig, create_app
from tests import pg

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # a Friday
ADMIN_TOKEN = "test-admin-token"
JSON = {"Content-Type": "application/json"}  # for raw bodies (json= sets it itself)

REGISTRY_YAML = """\
countries:
  SRB:
    name: Serbia
    timezone: Europe/Belgrade
    points_of_contact:
      - {id: srb-1, roles: [notification, assistance], email: ian@srb.example, hours: "24/7"}
      - {id: srb-2, roles: [notification], hours: "Mon-Fri 08:00-16:00"}
  HUN:
    name: Hungary
    timezone: Europe/Budapest
    points_of_contact:
      - {id: hun-1, roles: [notification], hours: "Mon-Fri 08:00-16:00"}
      - {id: hun-2, roles: [notification, assistance], hours: "24/7"}
      - {id: hun-3, roles: [notification]}
  ROU:
    name: Romania
    timezone: Europe/Bucharest
    points_of_contact:
      - {id: rou-1, roles: [notification]}
"""

# reminders at 15m and 30m, escalation every 30m, give-up after 2h
TEST_POLICIES = PolicyTable(overrides={"default": PolicyOverride(give_up_after="2h")})


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    path = tmp_path / "contacts.yaml"
    path.write_text(REGISTRY_YAML)
    return load_registry([path])


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ians.db"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    """This session's PostgreSQL database (its URL), None when PostgreSQL is not reachable."""
    url = pg.create_database()
    yield url
    if url is not None:
        pg.drop_database(url)


@pytest.fixture
def pg_url(pg_database: str | None) -> str:
    """A fresh schema of its own on PostgreSQL, as a `--db` URL (skips without PostgreSQL)."""
    if pg_database is None:
        pytest.skip("PostgreSQL is not reachable at " + pg.SERVER)
    return pg.new_schema(pg_database)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test of the store runs on each backend (unless its module sets `SQLITE_ONLY =
    True`: tests of SQLite's writer); one of the API only in a module that sets
    `BOTH_BACKENDS = True` (every API test twice would double the suite's time)."""
    if "db" not in metafunc.fixturenames:
        return
    module = metafunc.module
    both = getattr(module, "BOTH_BACKENDS", False) or (
        "store" in metafunc.fixturenames and not getattr(module, "SQLITE_ONLY", False)
    )
    metafunc.parametrize("backend", ["sqlite", "postgres"] if both else ["sqlite"])


@pytest.fixture
def db(backend: str, request: pytest.FixtureRequest, db_path: Path) -> str:
    """The database of a test on `backend`: a SQLite file, or a fresh PostgreSQL schema."""
    if backend == "sqlite":
        return str(db_path)
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def store(db: str) -> AsyncIterator[SqliteStore]:
    """The store of a contract test, on each backend (typed as SQLite's for the tests)."""
    store = await open_store(db)
    yield store  # type: ignore[misc]
    await store.close()


async def make_tracker(store: SqliteStore, registry: Registry, clock: ManualClock) -> Tracker:
    timers = TimerWheel(clock)
    dispatcher = Dispatcher(store, registry, clock, [])
    tracker = Tracker(store, registry, clock, timers, dispatcher, TEST_POLICIES)
    timers.start()
    await tracker.recover()
    return tracker


@pytest.fixture
async def tracker(
    store: SqliteStore, registry: Registry, clock: ManualClock
) -> AsyncIterator[Tracker]:
    tracker = await make_tracker(store, registry, clock)
    yield tracker
    await tracker.dispatcher.drain()


def early_warning(sender: str = "SRB", to: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "early_warning",
        "mode": "exercise",
        "from": sender,
        "to": to or ["HUN", "ROU"],
        "content": {
            "event_type": "release",
            "occurred_at": "2026-11-27T08:45:00+01:00",
            "location": {"name": "Pančevo", "lat": 44.87, "lon": 20.64},
        },
        **extra,
    }


class Api:
    """A test client that knows the admin token and issues PoC tokens on demand."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self._tokens: dict[str, str] = {}

    @property
    def app(self):  # type: ignore[no-untyped-def]
        return self.client.server.app

    async def token(self, poc: str) -> str:
        if poc not in self._tokens:
            response = await self.call("POST", f"/api/pocs/{poc}/token")
            assert response.status == 201, await response.text()
            self._tokens[poc] = (await response.json())["token"]
        return self._tokens[poc]

    async def call(self, method: str, path: str, as_: str | None = "admin", **kwargs: Any):  # type: ignore[no-untyped-def]
        headers = dict(kwargs.pop("headers", {}))
        if as_ == "admin":
            headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        elif as_ is not None:
            headers["Authorization"] = f"Bearer {await self.token(as_)}"
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def json(
        self, method: str, path: str, as_: str | None = "admin", status: int = 200, **kwargs: Any
    ) -> Any:
        response = await self.call(method, path, as_, **kwargs)
        body = await response.json()
        assert response.status == status, body
        return body


AppFactory = Callable[..., Awaitable[Api]]


@pytest.fixture
def make_api(aiohttp_client: Any, registry: Registry, clock: ManualClock, db: str) -> AppFactory:
    """The real app on a loopback server, on each backend (`db`)."""

    async def make(**config: Any) -> Api:
        settings = {
            "registry": registry,
            "db": db,
            "admin_token": ADMIN_TOKEN,
            "clock": clock,
            "run_timers": False,
            "policies": TEST_POLICIES,
            **config,
        }
        return Api(await aiohttp_client(create_app(AppConfig(**settings))))

    return make


@pytest.fixture
async def api(make_api: AppFactory) -> Api:
    return await make_api()

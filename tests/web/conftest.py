"""The browser tests' fixtures: a real IANS server on a loopback port in a thread of its
own (its own event loop, a real SQLite file, a manual clock), and a headless Debian
Chromium driven by Playwright for Python (no browser download: `executable_path`). The
browser tests live in one module, which shares one browser (the sync API holds the event
loop of its thread while open). Each test gets fresh contexts, so cookies never leak
between tests. `IANS_SCREENSHOTS=1` writes the pages' screenshots into docs/screenshots/."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ians.clock import ManualClock
from ians.contacts import load_registry
from ians.web.app import AppConfig, create_app
from ians.web.streams import streams_key
from tests.conftest import ADMIN_TOKEN, REGISTRY_YAML, T0, TEST_POLICIES

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


class LiveServer:
    """`ians`'s app on 127.0.0.1, port 0, served from a thread with its own event loop."""

    def __init__(self, root: Path) -> None:
        contacts = root / "contacts.yaml"
        contacts.write_text(REGISTRY_YAML)
        self.registry = load_registry([contacts])
        self.clock = ManualClock(T0)
        self.config = AppConfig(
            registry=self.registry,
            db=str(root / "ians.db"),
            admin_token=ADMIN_TOKEN,
            clock=self.clock,
            run_timers=False,
            policies=TEST_POLICIES,
        )
        self.app = create_app(self.config)
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ians-server", daemon=True)
        self._tokens: dict[str, str] = {}

    def __enter__(self) -> LiveServer:
        self._thread.start()
        if not self._ready.wait(60) or self._error is not None:
            raise RuntimeError(f"the server did not start: {self._error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # surfaced by __enter__
            self._error = error
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = web.AppRunner(self.app, shutdown_timeout=1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def on_loop(self, call: Callable[[], object]) -> None:
        """Run `call` on the server's event loop (its objects are that thread's)."""
        assert self._loop is not None
        done = threading.Event()
        self._loop.call_soon_threadsafe(lambda: (call(), done.set()))
        assert done.wait(10)

    def run(self, work: Coroutine[Any, Any, Any]) -> Any:
        """Run `work` on the server's event loop (its clock, its timers) and wait for it."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(30)

    def watchers(self) -> int:
        """How many live streams are open."""
        return len(self.app[streams_key])

    def call(self, method: str, path: str, as_: str = "admin", body: Any = None) -> Any:
        """The API as a program would call it; returns the JSON answer."""
        token = ADMIN_TOKEN if as_ == "admin" else self.token(as_)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{method} {path}: {error.code} {error.read()!r}") from None

    def token(self, poc: str) -> str:
        if poc not in self._tokens:
            self._tokens[poc] = self.call("POST", f"/api/pocs/{poc}/token")["token"]
        return self._tokens[poc]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("web")) as running:
        yield running


@pytest.fixture(scope="module")  # not session: Playwright's sync API holds the thread's
def browser() -> Iterator[Any]:  # event loop while open, and the async tests need it after
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium: `apt-get install -y chromium` (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def contexts(browser: Any) -> Iterator[Any]:
    """Make browser contexts (`contexts(javascript=False)`); all closed after the test."""
    made: list[Any] = []

    def make(javascript: bool = True, phone: bool = False, axe: bool = False) -> Any:
        options: dict[str, Any] = {"java_script_enabled": javascript, "bypass_csp": axe}
        if phone:
            options.update(viewport={"width": 390, "height": 800}, device_scale_factor=2)
        else:
            options.update(viewport={"width": 1100, "height": 900})
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


def sign_in(page: Any, server: LiveServer, who: str) -> None:
    """Sign in through the form, as a person would."""
    page.goto(server.url + "/")
    token = ADMIN_TOKEN if who == "admin" else server.token(who)
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def axe_problems(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    page.add_script_tag(path=str(AXE))
    found: list[str] = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => `${v.impact} ${v.id}: ${v.help} at `
                          + v.nodes.map(n => n.target).join(' '));
        }"""
    )
    return found


def screenshot(page: Any, name: str) -> None:
    """Keep the page's picture for the README when IANS_SCREENSHOTS=1."""
    if os.environ.get("IANS_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

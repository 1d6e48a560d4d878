"""The server process killed with SIGKILL mid-chase: acks answered 200 survive, timers resume,
nothing fires twice. Real process, real SQLite file, real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ians.store.rows import to_us
from tests.conftest import ADMIN_TOKEN, REGISTRY_YAML, early_warning

SETTINGS = """\
policies:
  default: {reminders: [2s, 4s], escalate_every: 3s, give_up_after: 1h}
"""


ACKED = 150  # messages acknowledged by two PoCs each; the kill comes after ACKED answers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


TIMEOUT = aiohttp.ClientTimeout(total=10)  # a hung server fails the test, not the whole run


class Server:
    def __init__(self, tmp_path: Path) -> None:
        (tmp_path / "contacts.yaml").write_text(REGISTRY_YAML)
        (tmp_path / "settings.yaml").write_text(SETTINGS)
        self.db = tmp_path / "ians.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable,
            "-m",
            "ians",
            "serve",
            "--port",
            str(self.port),
            "--db",
            str(self.db),
            "--contacts",
            str(tmp_path / "contacts.yaml"),
            "--settings",
            str(tmp_path / "settings.yaml"),
        ]
        self.log = tmp_path / "server.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {**os.environ, "IANS_ADMIN_TOKEN": ADMIN_TOKEN}
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.args, env=env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 20
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            while time.monotonic() < deadline:
                assert self.process.returncode is None, self.log.read_text()
                try:
                    async with session.get(f"{self.url}/api/health") as response:
                        if response.status == 200:
                            return
                except (aiohttp.ClientConnectionError, TimeoutError):
                    pass
                await _pause()
        raise AssertionError(f"server did not start: {self.log.read_text()}")

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), 10)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 10)


async def _pause() -> None:
    await asyncio.sleep(0.05)  # a polling interval, bounded by the caller's deadline


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    server = Server(tmp_path)
    yield server
    await server.stop()


async def call(method: str, url: str, token: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as session,
        session.request(
            method, url, json=body, headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        return response.status, await response.json()


async def test_sigkill_mid_chase_loses_no_ack_and_fires_nothing_twice(server: Server) -> None:
    await server.start()
    _, issued = await call("POST", f"{server.url}/api/pocs/rou-1/token", ADMIN_TOKEN)
    status, message = await call("POST", f"{server.url}/api/messages", ADMIN_TOKEN, early_warning())
    assert status == 201
    status, ack = await call(
        "POST", f"{server.url}/api/messages/{message['id']}/ack", issued["token"]
    )
    assert status == 200
    await server.kill()  # right after the 200: no graceful shutdown

    await server.start()
    status, seen = await call("GET", f"{server.url}/api/messages/{message['id']}", ADMIN_TOKEN)
    rou = next(r for r in seen["recipients"] if r["country"] == "ROU")
    assert (rou["status"], rou["acknowledged_at"]) == ("acknowledged", ack["acknowledged_at"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # HUN: reminders at 2s and 4s, escalations at 3s, 6s
        _, seen = await call("GET", f"{server.url}/api/messages/{message['id']}", ADMIN_TOKEN)
        hun = next(r for r in seen["recipients"] if r["country"] == "HUN")
        if hun["escalations"] == 2:
            break
        await _pause()
    assert (hun["reminders"], hun["escalations"], hun["reached"]) == (
        2,
        2,
        ["hun-1", "hun-2", "hun-3"],
    )
    await server.stop()

    with sqlite3.connect(server.db) as db:
        steps = db.execute(
            "SELECT kind, country, poc, due_at FROM events"
            " WHERE kind IN ('reminded', 'escalated', 'acknowledged')"
        ).fetchall()
    assert len(steps) == len(set(steps))  # no step recorded twice
    assert sum(kind == "reminded" for kind, *_ in steps) == 2 + 1  # 2 for hun-1, 1 for hun-2
    assert [c for kind, c, *_ in steps if kind == "acknowledged"] == ["ROU"]


async def test_sigkill_under_concurrent_acks_keeps_every_answered_one(server: Server) -> None:
    """Many acks at once, SIGKILL when half are answered: after a restart every ack answered
    200 is stored with its time, no chase step is recorded twice, and every inbox entry has
    its `delivered` event."""
    await server.start()
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with aiohttp.ClientSession(
        timeout=TIMEOUT, connector=aiohttp.TCPConnector(limit=32)
    ) as session:
        tokens = {}
        for poc in ("hun-1", "rou-1"):
            async with session.post(f"{server.url}/api/pocs/{poc}/token", headers=admin) as r:
                tokens[poc] = (await r.json())["token"]

        async def send() -> str:
            async with session.post(
                f"{server.url}/api/messages", json=early_warning(), headers=admin
            ) as r:
                assert r.status == 201, await r.text()
                return str((await r.json())["id"])

        control, *messages = await asyncio.gather(*(send() for _ in range(ACKED + 1)))
        answered: dict[tuple[str, str], str] = {}  # (message, poc) -> acknowledged_at
        half = asyncio.Event()

        async def ack(message_id: str, poc: str) -> None:
            url = f"{server.url}/api/messages/{message_id}/ack"
            try:
                async with session.post(
                    url, headers={"Authorization": f"Bearer {tokens[poc]}"}
                ) as r:
                    if r.status == 200:
                        answered[(message_id, poc)] = (await r.json())["acknowledged_at"]
            except (aiohttp.ClientError, TimeoutError):
                return  # cut off by the kill: not answered, so not promised
            if len(answered) >= ACKED:  # of 2 * ACKED
                half.set()

        acks = [asyncio.create_task(ack(m, p)) for m in messages for p in tokens]
        await asyncio.wait_for(half.wait(), 30)
        await server.kill()
        await asyncio.gather(*acks)
    assert ACKED <= len(answered) < 2 * ACKED  # killed mid-way

    await server.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the control message is chased to hun-3 (6 s)
        _, seen = await call("GET", f"{server.url}/api/messages/{control}", ADMIN_TOKEN)
        if next(r for r in seen["recipients"] if r["country"] == "HUN")["escalations"] == 2:
            break
        await _pause()
    await server.stop()

    with sqlite3.connect(server.db) as db:
        stored = {
            (m, p): at
            for m, p, at in db.execute(
                "SELECT message_id, poc, acknowledged_at FROM deliveries"
                " WHERE acknowledged_at IS NOT NULL"
            )
        }
        steps = db.execute(
            "SELECT kind, message_id, country, poc, due_at FROM events"
            " WHERE kind IN ('reminded', 'escalated', 'gave_up', 'acknowledged')"
        ).fetchall()
        entries = db.execute("SELECT message_id, poc, delivered_at FROM deliveries").fetchall()
        delivered = db.execute(
            "SELECT message_id, poc, at FROM events WHERE kind = 'delivered'"
        ).fetchall()
    for key, at in answered.items():
        assert stored.get(key) == to_us(datetime.fromisoformat(at)), key
    assert len(steps) == len(set(steps))  # no step recorded twice
    assert any(kind == "reminded" for kind, *_ in steps)  # and steps did fire around the kill
    assert sorted(delivered) == sorted(entries)
    # each step is a line on the console of `ians serve`
    assert f"chase {control} HUN: escalated to hun-3 (escalation 2)" in server.log.read_text()

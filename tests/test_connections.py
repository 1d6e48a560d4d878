"""`ians serve` closes connections that hold a slot for nothing: idle ones, ones whose
request never completes, ones whose body trickles. A real server process with 1-second
timeouts, raw sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ians.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.test_restart import Server

TIMEOUT = 1.0  # the server's keep-alive and body timeouts in these tests
BOUND = 8.0  # a connection still open after this long fails the test


@pytest.fixture
async def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Server]:
    monkeypatch.setenv("IANS_KEEPALIVE_TIMEOUT", str(TIMEOUT))
    monkeypatch.setenv("IANS_BODY_TIMEOUT", str(TIMEOUT))
    server = Server(tmp_path)
    await server.start()
    yield server
    await server.stop()


async def until_closed(server: Server, sent: bytes) -> tuple[bytes, float]:
    """Send `sent`, then read until the server closes: what came back, and after how long."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(sent)
        await writer.drain()
        start = time.monotonic()
        received = await asyncio.wait_for(reader.read(), BOUND)
        return received, time.monotonic() - start
    finally:
        writer.close()


async def test_a_connection_that_sends_nothing_is_closed(server: Server) -> None:
    received, after = await until_closed(server, b"")
    assert received == b""
    assert after >= TIMEOUT * 0.8  # not before its time


async def test_a_request_whose_headers_never_end_is_closed(server: Server) -> None:
    received, _ = await until_closed(server, b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
    assert received == b""


async def test_an_idle_keep_alive_connection_is_closed_after_its_answer(server: Server) -> None:
    received, after = await until_closed(server, b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert received.endswith(b'{"status": "ok"}') or received.endswith(b'{"status":"ok"}')
    assert after >= TIMEOUT * 0.8


async def test_a_body_that_does_not_arrive_in_time_is_a_408_and_the_connection_closes(
    server: Server,
) -> None:
    head = (
        "POST /api/messages HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {ADMIN_TOKEN}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    received, _ = await until_closed(server, head.encode() + b'{"type": ')
    assert received.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b'"code": "request_timeout"' in received
    assert b"within 1 s" in received


async def test_the_server_answers_while_idle_connections_pile_up(server: Server) -> None:
    idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(50)]
    try:
        received, _ = await until_closed(
            server, b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert received.startswith(b"HTTP/1.1 200 OK\r\n")
        # every idle one is closed by the server: reading each ends
        for reader, _ in idle:
            assert await asyncio.wait_for(reader.read(), BOUND) == b""
    finally:
        for _, writer in idle:
            writer.close()


def test_the_timeouts_default_to_what_the_readme_says() -> None:
    settings = Settings()
    assert (settings.keepalive_timeout, settings.body_timeout) == (15.0, 15.0)

"""A server killed with SIGKILL while its e-mail relay is down: after the restart, each
pending notice is delivered once. Real process, real SQLite file, real SMTP on 127.0.0.1."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN, early_warning
from tests.smtp_sink import SmtpSink
from tests.test_restart import Server, _pause, call


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    server = Server(tmp_path)
    yield server
    await server.stop()


def outbox(db: Path) -> list[tuple[str, int, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT poc, attempts, state FROM outbox ORDER BY id").fetchall()


async def until(check: object, what: str, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        await _pause()
    raise AssertionError(f"timed out waiting for {what}")


async def test_sigkill_with_the_relay_down_then_each_notice_is_delivered_once(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = SmtpSink()
    monkeypatch.setenv("IANS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("IANS_SMTP_PORT", str(sink.port))
    monkeypatch.setenv("IANS_EMAIL_FROM", "IAN System <ians@secretariat.test>")
    monkeypatch.setenv("IANS_DELIVERY_RETRIES", ",".join(["1s"] * 30))
    await server.start()
    status, message = await call(
        "POST", f"{server.url}/api/messages", ADMIN_TOKEN, early_warning("HUN", ["SRB"])
    )
    assert status == 201
    await until(lambda: [r[1] > 0 for r in outbox(server.db)] == [True], "a failed attempt")
    await server.kill()
    assert outbox(server.db)[0][2] == "pending"

    await sink.start()
    try:
        await server.start()
        await until(lambda: outbox(server.db)[0][2] == "delivered", "the delivery recorded")
        await server.stop()  # every burst has ended: nothing more can arrive
        first = f"<n1.{message['id']}@secretariat.test>"  # reminders follow: other notices
        [mail] = [m for m in sink.received if m.message["Message-ID"] == first]
        assert mail.message["X-IANS-Message"] == message["id"]
        assert mail.rcpt_tos == ["ian@srb.example"]
    finally:
        await sink.stop()

"""A real SMTP peer for tests: aiosmtpd on 127.0.0.1 that keeps what it accepts.

It can be told to answer DATA with given replies first (`451 ...` then the normal 250),
to refuse some recipients at RCPT (`550 ...`), and it can be stopped and started again
on the same port (the relay is down, then back).
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed: EmailMessage = message_from_bytes(self.data, policy=policy.default)  # type: ignore[assignment]
        return parsed


@dataclass
class SinkHandler:
    received: list[Received] = field(default_factory=list)
    refused: list[Received] = field(default_factory=list)  # answered 4xx/5xx at DATA
    data_answers: deque[str] = field(default_factory=deque)
    refuse_rcpt: dict[str, str] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        got = Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(envelope.content))  # type: ignore[arg-type]
        self.changed.set()
        if self.data_answers:
            self.refused.append(got)
            return self.data_answers.popleft()
        self.received.append(got)
        return "250 2.0.0 Ok: queued"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpSink:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.handler = SinkHandler()
        self._server: asyncio.Server | None = None
        self._sessions: list[SMTP] = []

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def session() -> SMTP:
            smtp = SMTP(self.handler, hostname="sink.test", loop=loop)
            self._sessions.append(smtp)
            return smtp

        self._server = await loop.create_server(session, "127.0.0.1", self.port, reuse_address=True)

    async def stop(self) -> None:
        """Close the listener and every session: the relay is down."""
        if self._server is None:
            return
        self._server.close()
        for smtp in self._sessions:
            if smtp.transport is not None:
                smtp.transport.close()
        self._sessions.clear()
        await self._server.wait_closed()
        self._server = None

    async def wait_for(self, count: int, within: float = 10.0) -> list[Received]:
        """Wait until `count` e-mails were accepted; raises TimeoutError."""

        async def enough() -> None:
            while len(self.received) < count:
                self.handler.changed.clear()
                await self.handler.changed.wait()

        await asyncio.wait_for(enough(), within)
        return self.received

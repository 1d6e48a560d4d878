"""SMTP out with aiosmtplib: a few sessions to the relay, reused across a burst.

A send answers what the peer said: delivered (2xx), a temporary failure (4xx, a
refused or dropped connection, a timeout: tried again later) or a permanent one (5xx).
A session that the relay dropped between two mails is opened again once before the
mail counts as failed, so a long-idle session costs no attempt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import aiosmtplib

from ians.channels.config import EmailConfig
from ians.domain.outbox import Answer

log = logging.getLogger(__name__)
UNREACHABLE_FOR = 5.0  # real seconds a failed connection stands for the relay being down


class SmtpSender:
    def __init__(self, config: EmailConfig) -> None:
        self._config = config
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(config.connections)
        self.sessions_opened = 0  # for tests and benchmarks: sessions are reused
        # why the relay could not be reached: the notices behind are not attempted (each
        # would wait for its own timeout) and fail at once the same way, until the outbox
        # is idle or UNREACHABLE_FOR has passed
        self._unreachable: str | None = None
        self._unreachable_at = 0.0

    async def send(self, sender: str, recipients: Sequence[str], data: bytes) -> Answer:
        """Send one e-mail; never raises for what the peer or the network did."""
        async with self._slots:
            for fresh in (False, True):
                if self._unreachable is not None:
                    if time.monotonic() - self._unreachable_at < UNREACHABLE_FOR:
                        return Answer(False, self._unreachable)
                    self._unreachable = None
                try:
                    smtp = await self._session(fresh)
                except (aiosmtplib.SMTPException, OSError) as exc:
                    self._unreachable = f"cannot connect to {self._where}: {_why(exc)}"
                    self._unreachable_at = time.monotonic()
                    return Answer(False, self._unreachable)
                try:
                    errors, response = await smtp.sendmail(sender, list(recipients), data)
                except aiosmtplib.SMTPServerDisconnected as exc:
                    if not fresh:
                        continue  # the relay closed an idle session: open another, once
                    return Answer(False, f"{self._where} disconnected: {_why(exc)}")
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    self._idle.append(smtp)
                    refused = exc.recipients[0]
                    return _answer(refused.code, refused.message)
                except aiosmtplib.SMTPResponseException as exc:
                    await self._reset(smtp)
                    return _answer(exc.code, exc.message)
                except (aiosmtplib.SMTPException, OSError) as exc:
                    await _quietly_close(smtp)
                    return Answer(False, f"{self._where}: {_why(exc)}")
                self._idle.append(smtp)
                if errors:  # some of several recipients refused: the first tells
                    code, text = next(iter(errors.values()))
                    return _answer(code, text)
                return Answer(True, f"250 {response}")  # DATA succeeds only with 250
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        """Close the idle sessions (the outbox is idle); the next notice tries the relay again."""
        self._unreachable = None
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_quit(s) for s in idle))

    @property
    def _where(self) -> str:
        return f"{self._config.smtp_host}:{self._config.smtp_port}"

    async def _session(self, fresh: bool) -> aiosmtplib.SMTP:
        if not fresh and self._idle:
            return self._idle.pop()
        config = self._config
        smtp = aiosmtplib.SMTP(
            hostname=config.smtp_host,
            port=config.smtp_port,
            timeout=config.timeout.total_seconds(),
            start_tls=config.starttls,
            username=config.username,
            password=config.password,
        )
        await smtp.connect()
        self.sessions_opened += 1
        return smtp

    async def _reset(self, smtp: aiosmtplib.SMTP) -> None:
        """After a refused transaction the session may go on, once reset."""
        try:
            await smtp.rset()
        except (aiosmtplib.SMTPException, OSError):
            await _quietly_close(smtp)
            return
        self._idle.append(smtp)


def _answer(code: int, text: str) -> Answer:
    said = f"{code} {text}".strip()
    return Answer(False, said, permanent=500 <= code < 600)


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    try:
        await smtp.quit()
    except (aiosmtplib.SMTPException, OSError):
        await _quietly_close(smtp)


async def _quietly_close(smtp: aiosmtplib.SMTP) -> None:
    try:
        smtp.close()
    except Exception:  # closing a broken session: nothing more to learn from it
        log.debug("closing an SMTP session failed", exc_info=True)

"""What the e-mail tests share: a registry with addresses, the e-mail settings pointing at
a real SMTP sink on 127.0.0.1, and ways to read what arrived."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib

from ians.channels.config import ChannelsConfig, EmailConfig, InboundSettings
from ians.contacts import load_registry
from ians.domain.contacts import Registry
from ians.services import Services
from tests.conftest import Api

EMAIL_REGISTRY = """\
countries:
  SRB:
    name: Serbia
    timezone: Europe/Belgrade
    points_of_contact:
      - {id: srb-1, roles: [notification, assistance], email: ian@srb.example}
      - {id: srb-2, roles: [notification], email: duty@srb.example}
  HUN:
    name: Hungary
    timezone: Europe/Budapest
    points_of_contact:
      - {id: hun-1, roles: [notification, assistance], email: ian@hun.example}
      - {id: hun-2, roles: [notification], email: duty@hun.example}
  ROU:
    name: Romania
    timezone: Europe/Bucharest
    points_of_contact:
      - {id: rou-1, roles: [notification, assistance], email: ian@rou.example}
  AUT:
    name: Austria
    timezone: Europe/Vienna
    points_of_contact:
      - {id: aut-1, roles: [notification, assistance]}
"""
EMAIL_DRILL = """\
kind: drill
name: Danube drill by e-mail
mode: exercise
participants: [SRB, HUN, ROU, AUT]
policy: {ack_within: 30m, reminders: [10m], escalate_every: 20m, give_up_after: 2h}
injects:
  - id: ew1
    at: 0m
    type: early_warning
    from: SRB
    to: [HUN, ROU, AUT]
    content:
      event_type: release
      occurred_at: start
      location: {name: Pančevo, lat: 44.87, lon: 20.64}
"""
"""One early warning to three countries of EMAIL_REGISTRY, one of them (AUT) without an
e-mail address."""

PUBLIC_URL = "http://ians.test"
RETRIES = (timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=5))


def email_registry(tmp_path: Path) -> Registry:
    path = tmp_path / "contacts-email.yaml"
    path.write_text(EMAIL_REGISTRY)
    return load_registry([path])


def channels(
    smtp_port: int, inbound_port: int | None = None, retries: tuple[timedelta, ...] = RETRIES
) -> ChannelsConfig:
    timeout = timedelta(seconds=5)
    inbound = None if inbound_port is None else InboundSettings(host="127.0.0.1", port=inbound_port)
    return ChannelsConfig(
        PUBLIC_URL,
        retries,
        timeout,
        EmailConfig(
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            starttls=False,
            username=None,
            password=None,
            connections=2,
            sender="IAN System <ians@secretariat.test>",
            reply_to="ack@secretariat.test",
            inbound=inbound,
            public_url=PUBLIC_URL,
            timeout=timeout,
        ),
    )


def services(api: Api) -> Services:
    from ians.web.keys import services_key

    return api.app[services_key]


async def settle(api: Api) -> None:
    """Run what is due on the manual clock and wait until the outbox is idle."""
    running = services(api)
    await running.tracker.timers.run_due()
    await running.tracker.dispatcher.drain()
    assert running.outbox is not None
    await running.outbox.drain()


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def ack_link(message: EmailMessage) -> str:
    found = re.search(rf"{re.escape(PUBLIC_URL)}(/ack/[A-Za-z0-9_.-]+)", text_part(message))
    assert found, text_part(message)
    return found[1]


async def events(api: Api, message_id: str, kind: str | None = None) -> list[dict[str, Any]]:
    found = await services(api).tracker.store.events(message_id)
    return [
        {"kind": e.kind.value, "poc": e.poc, "country": e.country, **e.detail}
        for e in found
        if kind is None or e.kind.value == kind
    ]


def reply_to(
    notice: EmailMessage,
    body: str,
    sender: str = "ian@hun.example",
    *,
    threaded: bool = True,
    **headers: str,
) -> EmailMessage:
    """A person's reply to a notice e-mail, with the notice quoted below `body`."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = str(notice["Reply-To"])
    reply["Subject"] = f"Re: {notice['Subject']}"
    reply["Message-ID"] = make_msgid(domain="hun.example")
    if threaded:
        reply["In-Reply-To"] = str(notice["Message-ID"])
        reply["References"] = str(notice["Message-ID"])
    for name, value in headers.items():
        reply[name.replace("_", "-")] = value
    quoted = "\n".join(f"> {line}" for line in text_part(notice).splitlines()[:5])
    reply.set_content(f"{body}\n\nOn Fri, 27 Nov 2026, IAN System wrote:\n{quoted}\n")
    return reply


async def deliver_in(
    port: int, mail: EmailMessage | bytes, rcpt: str, mail_from: str = "ian@hun.example"
) -> str:
    """Send a mail to the inbound listener; its answer (raises SMTPResponseException on 4xx/5xx)."""
    data = mail if isinstance(mail, bytes) else mail.as_bytes()
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10) as smtp:
        _, said = await smtp.sendmail(mail_from, [rcpt], data)
    return said

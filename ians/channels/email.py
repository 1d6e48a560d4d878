"""The e-mail channel: a stored notice becomes an e-mail to the PoC's registered address."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from ians.channels.compose import (
    Attachments,
    Envelope,
    Rendered,
    envelope_bytes,
    render,
    render_consultation,
)
from ians.channels.config import EmailConfig
from ians.channels.renderings import Renderings
from ians.channels.smtp import SmtpSender
from ians.clock import Clock
from ians.domain.contacts import Registry
from ians.domain.outbox import Answer, OutboxNotice, notice_message_id
from ians.links import Links
from ians.store import Store

ConsultationInfo = Callable[[str], Awaitable[tuple[str, datetime]]]
"""A consultation's name and deadline, by its id."""

Prepared = tuple[Rendered, datetime | None, str]  # the e-mail, the give-up, the mode


class EmailChannel:
    name = "email"

    def __init__(
        self,
        config: EmailConfig,
        store: Store,
        registry: Registry,
        clock: Clock,
        links: Links,
        consultation: ConsultationInfo,
        attachments: Attachments | None = None,
    ) -> None:
        self.config = config
        self._store = store
        self._registry = registry
        self._clock = clock
        self._links = links
        self._consultation = consultation
        self._attachments = attachments  # the hook where CAP 1.2 (`<id>.cap.xml`) plugs in
        self.sender = SmtpSender(config)
        self._rendered = Renderings(self._prepare)  # a message's e-mail, once for a burst
        address = config.reply_address
        self._plus = f"{address.username}+{{}}@{address.domain}"

    def reply_address(self, notice_id: int) -> str:
        """The Reply-To of a notice: the reply address plus-addressed with its signed tag."""
        return self._plus.format(self._links.notice_tag(notice_id))

    def notice_of_tag(self, tag: str) -> int | None:
        return self._links.notice_of_tag(tag)

    def message_id(self, notice_id: int, message_id: str) -> str:
        return notice_message_id(notice_id, message_id, self.config.domain)

    async def deliver(self, notice: OutboxNotice) -> Answer:
        poc = self._registry.pocs.get(notice.poc)
        if poc is None or not poc.email:
            return Answer(False, f"{notice.poc} has no e-mail address in the registry", True)
        rendered, give_up_at, mode = await self._rendered.of(notice)
        link = None
        if give_up_at is not None:
            link = self._links.ack_url(notice.message_id, notice.poc, give_up_at)
        data = envelope_bytes(
            rendered,
            Envelope(
                sender=self.config.sender,
                to=poc.email,
                reply_to=self.reply_address(notice.id),
                message_id=self.message_id(notice.id, notice.message_id),
                link=link,
                now=self._clock.now(),
                ians_message=notice.message_id,
                mode=mode,
            ),
        )
        # the envelope sender names the notice too (VERP): a bounce says which one failed
        return await self.sender.send(self.reply_address(notice.id), [poc.email], data)

    async def idle(self) -> None:
        await self.sender.close()

    async def close(self) -> None:
        await self.sender.close()

    async def _prepare(self, message_id: str, reminder: bool) -> Prepared:
        key = (message_id, reminder)
        message = await self._store.find_message(message_id)
        if message is None:  # a consultation's invitation or reminder
            name, deadline = await self._consultation(message_id)
            url = f"{self._links.public_url}/api/consultations/{message_id}"
            made: Prepared = (
                render_consultation(message_id, name, deadline, url, key[1]),
                None,
                "consultation",
            )
        else:
            policy = await self._store.message_policy(message.id)
            sender = (
                self._registry.countries[message.sender].name
                if message.sender in self._registry.countries
                else "the secretariat"
            )
            attachments = await self._attachments(message) if self._attachments else ()
            made = (
                render(message, sender, key[1], attachments=attachments),
                message.sent_at + policy.give_up_after,
                message.mode.value,
            )
        return made

"""The mailbox of a simulated PoC: it answers its notice e-mail with ACK, through the
reply listener, as the PoC's own mail server would deliver a person's reply. So a
scaled drill with simulated countries runs the whole e-mail loop: notice out through
the relay, reply in through the listener, acknowledgement recorded `via: email`."""

from __future__ import annotations

import dataclasses
import logging
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from ians.channels.compose import subject
from ians.channels.email import EmailChannel
from ians.channels.smtp import SmtpSender
from ians.clock import Clock
from ians.domain.contacts import Registry
from ians.domain.outbox import NoticeState
from ians.store import Store

log = logging.getLogger(__name__)


class SimulatedMailbox:
    def __init__(
        self, store: Store, registry: Registry, clock: Clock, email: EmailChannel, port: int
    ) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        self._email = email
        inbound = email.config.inbound
        host = inbound.host if inbound is not None else "127.0.0.1"
        listener = dataclasses.replace(
            email.config,
            smtp_host="127.0.0.1" if host in ("0.0.0.0", "::", "") else host,
            smtp_port=port,
            starttls=False,
            username=None,
            password=None,
        )
        self.sender = SmtpSender(listener)

    async def reply(self, message_id: str, poc_id: str) -> bool:
        """Reply ACK to the PoC's notice e-mail of the message; False when none reached it
        (the caller acknowledges another way) or the listener did not record the ack."""
        poc = self._registry.pocs.get(poc_id)
        message = await self._store.find_message(message_id)
        if poc is None or not poc.email or message is None:
            return False
        reached = [
            n
            for n in await self._store.notices(message_id)
            if n.poc == poc_id
            and n.channel == self._email.name
            and n.state is NoticeState.DELIVERED
        ]
        if not reached:
            return False
        notice = reached[0]
        country = self._registry.countries.get(message.sender or "")
        reply = EmailMessage()
        reply["From"] = poc.email
        reply["To"] = self._email.reply_address(notice.id)
        reply["Subject"] = "Re: " + subject(
            message, country.name if country else "the secretariat", False
        )
        reply["Date"] = format_datetime(self._clock.now())
        reply["Message-ID"] = make_msgid(domain=poc.email.rpartition("@")[2])
        reply["In-Reply-To"] = self._email.message_id(notice.id, message_id)
        reply["References"] = reply["In-Reply-To"]
        reply.set_content("ACK\n\n(a simulated point of contact, played by IANS)\n")
        answer = await self.sender.send(poc.email, [str(reply["To"])], reply.as_bytes())
        if not answer.delivered or "acknowledged" not in answer.text:
            log.warning(
                "the simulated reply of %s to %s was not recorded: %s",
                poc_id,
                message_id,
                answer.text,
            )
            return False
        return True

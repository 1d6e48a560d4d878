"""The SMTP listener for replies (aiosmtpd), on the server's own event loop.

It takes mail only for the reply address and its plus-addressed forms (`ack+n12@…`);
other recipients are refused at RCPT (550). Mail over the size limit is refused at DATA
(552, by aiosmtpd, before IANS reads any of it). Each accepted mail is handed to
`Replies`, whose answer is the reply to DATA. A session's failure never stops the
listener: aiosmtpd answers that one session with an error and goes on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from ians.channels.config import EmailConfig, InboundSettings
from ians.replies import Replies

log = logging.getLogger(__name__)


class ReplyHandler:
    def __init__(self, replies: Replies, config: EmailConfig) -> None:
        self._replies = replies
        address = config.reply_address
        self._local = address.username.lower()
        self._domain = address.domain.lower()

    def accepts(self, address: str) -> bool:
        """The reply address itself, or it plus a tag."""
        local, _, domain = address.strip().lower().rpartition("@")
        return domain == self._domain and local.partition("+")[0] == self._local

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if not self.accepts(address):
            return "550 5.1.1 no such mailbox here: IANS takes only replies to its notices"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else content.encode("utf-8", "replace")
        return await self._replies.receive(
            str(envelope.mail_from or ""), list(envelope.rcpt_tos), data
        )


async def listen(handler: ReplyHandler, settings: InboundSettings) -> asyncio.Server:
    """Start the listener; raises OSError if the address cannot be bound."""
    loop = asyncio.get_running_loop()

    def session() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=settings.max_size,
            hostname="ians",
            ident="IANS reply listener",
            timeout=60,
            loop=loop,
        )

    return await loop.create_server(session, settings.host, settings.port)


def port_of(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])

"""Sign-in links by e-mail: a PoC asks with its address and gets a one-time link, valid
15 minutes, at that address. The answer is the same whether or not the address is
registered (nobody learns who is in the registry), and the e-mail is sent in the
background, so the answer's timing tells nothing either. A few requests per address
per quarter hour are sent; more are dropped, so the form cannot flood a mailbox."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import defaultdict, deque
from datetime import datetime

from ians.channels.compose import answer
from ians.channels.email import EmailChannel
from ians.clock import Clock
from ians.domain.contacts import Registry
from ians.links import SIGNIN_VALID, Links

log = logging.getLogger(__name__)

PER_ADDRESS = 3  # sign-in e-mails per address within SIGNIN_VALID


class SignIn:
    def __init__(
        self, links: Links, registry: Registry, clock: Clock, email: EmailChannel | None
    ) -> None:
        self._links = links
        self._registry = registry
        self._clock = clock
        self._email = email
        self._recent: dict[str, deque[datetime]] = defaultdict(deque)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def on(self) -> bool:
        return self._email is not None

    def request(self, address: str) -> None:
        """Send sign-in links to the PoCs registered with `address`, if any; returns at once."""
        address = address.strip().lower()
        pocs = [p for p in self._registry.pocs.values() if (p.email or "").lower() == address]
        if not pocs or self._email is None or not self._allowed(address):
            return
        now = self._clock.now()
        lines = [
            f"{p.id} ({p.organization or p.country}): {self._links.signin_url(p.id, now)}"
            for p in pocs
        ]
        text = (
            "Sign in to the IAN System with this link, valid 15 minutes, once:\n\n"
            + "\n".join(lines)
            + "\n\nIf you did not ask for it, ignore this e-mail.\n"
        )
        email = self._email
        data = answer(
            email.config.sender,
            pocs[0].email or address,
            "Your sign-in link to the IAN System",
            text,
            message_id=f"<s{secrets.token_hex(10)}@{email.config.domain}>",
            in_reply_to=None,
            now=now,
        )

        async def send() -> None:
            said = await email.sender.send(email.config.reply_address.addr_spec, [address], data)
            if not said.delivered:
                log.warning("the sign-in link to %s was not sent: %s", address, said.text)

        task = asyncio.create_task(send())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _allowed(self, address: str) -> bool:
        now = self._clock.now()
        recent = self._recent[address]
        while recent and recent[0] <= now - SIGNIN_VALID:
            recent.popleft()
        if len(recent) >= PER_ADDRESS:
            return False
        recent.append(now)
        return True

"""Acknowledgement links and sign-in links: their key, their URLs, what they allow.

The key comes from the settings (`IANS_LINK_KEY`) or is generated at the first start
and kept in the database, so links stay valid across restarts. An acknowledgement link
names a message and a PoC and expires 7 days after the message's give-up. Opening it
(GET) is recorded as `link_opened` and changes nothing else; acknowledging is a POST.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ians.clock import Clock
from ians.domain.chase import Event, EventKind, Via
from ians.domain.links import Claims, LinkSigner, Purpose
from ians.domain.messages import Message
from ians.errors import NotFound
from ians.store import AckResult, Store
from ians.tracking import Tracker

LINK_KEY = "link_key"
ACK_VALID_AFTER_GIVE_UP = timedelta(days=7)
SIGNIN_VALID = timedelta(minutes=15)


class BadLink(NotFound):
    def __init__(self) -> None:
        super().__init__("this link is not valid, or has expired")


@dataclass(frozen=True)
class Opened:
    """An acknowledgement link's message and PoC, and whether that PoC acknowledged it."""

    message: Message
    poc: str
    country: str
    acknowledged_at: datetime | None


class Links:
    def __init__(self, signer: LinkSigner, public_url: str, tracker: Tracker) -> None:
        self._signer = signer
        self.public_url = public_url.rstrip("/")
        self._tracker = tracker
        self._store: Store = tracker.store
        self._clock: Clock = tracker.clock

    @classmethod
    async def load(cls, key: str | None, public_url: str, tracker: Tracker) -> Links:
        """With `key` from the settings, or the stored one, or a new one stored now."""
        if key is None:
            key = await tracker.store.meta_value_or(LINK_KEY, secrets.token_urlsafe(32))
        return cls(LinkSigner([key.encode()]), public_url, tracker)

    def ack_url(self, message_id: str, poc: str, give_up_at: datetime, via: Via = Via.LINK) -> str:
        """The link that acknowledges the message as the PoC; a POST to it is recorded with
        `via` (`link` in e-mails, `webhook` in webhook notices)."""
        expires = give_up_at + ACK_VALID_AFTER_GIVE_UP
        nonce = "" if via is Via.LINK else via.value
        claims = Claims(Purpose.ACK, message_id, poc, expires, nonce)
        return f"{self.public_url}/ack/{self._signer.sign(claims)}"

    def notice_tag(self, notice_id: int) -> str:
        """The plus tag naming a notice in its Reply-To and bounce address: `n12-<mac>`, so a
        reply names a notice only with a tag IANS gave out (ids alone are guessable)."""
        return f"n{notice_id}-{self._signer.short_tag(str(notice_id))}"

    def notice_of_tag(self, tag: str) -> int | None:
        """The notice a plus tag names, None for a tag IANS did not make."""
        number, _, mac = tag.removeprefix("n").partition("-")
        if not tag.startswith("n") or not number.isdigit() or len(number) > 18:
            return None
        return int(number) if self._signer.tag_ok(number, mac) else None

    def signin_url(self, poc: str, now: datetime) -> str:
        claims = Claims(Purpose.SIGNIN, "", poc, now + SIGNIN_VALID, secrets.token_urlsafe(9))
        return f"{self.public_url}/signin/{self._signer.sign(claims)}"

    def claims(self, token: str, purpose: Purpose) -> Claims:
        """Raises BadLink for a token that is not sound, for another purpose, or expired."""
        claims = self._signer.verify(token, purpose, self._clock.now())
        if claims is None:
            raise BadLink()
        return claims

    def signin_claims(self, token: str) -> Claims:
        """A sign-in link's claims without using it up (its page). Raises BadLink."""
        return self.claims(token, Purpose.SIGNIN)

    async def redeem_signin(self, token: str) -> str:
        """The PoC a sign-in link signs in, once: a second use raises BadLink, as does a
        token that is not sound or is older than 15 minutes."""
        claims = self.claims(token, Purpose.SIGNIN)
        if not await self._store.claim_once(f"signin:{claims.nonce}"):
            raise BadLink()
        return claims.poc

    async def open(self, token: str) -> Opened:
        """What an acknowledgement link shows; records `link_opened`. Raises BadLink."""
        claims = self.claims(token, Purpose.ACK)
        message = await self._store.find_message(claims.subject)
        reached = {d.poc: d for d in await self._store.deliveries(claims.subject)}
        if message is None or claims.poc not in reached:
            raise BadLink()
        delivery = reached[claims.poc]
        await self._store.record_events(
            [
                Event(
                    self._clock.now(),
                    EventKind.LINK_OPENED,
                    message.id,
                    delivery.country,
                    claims.poc,
                )
            ]
        )
        return Opened(message, claims.poc, delivery.country, delivery.acknowledged_at)

    async def acknowledge(self, token: str) -> tuple[Opened, AckResult]:
        """Acknowledge as the link's PoC (`via: link`, or `webhook` for the link of a
        webhook notice). Raises BadLink, Conflict."""
        claims = self.claims(token, Purpose.ACK)
        message = await self._store.find_message(claims.subject)
        if message is None:
            raise BadLink()
        via = Via.WEBHOOK if claims.nonce == Via.WEBHOOK.value else Via.LINK
        result = await self._tracker.acknowledge(message.id, claims.poc, via=via)
        opened = Opened(message, claims.poc, result.chase.country, result.acknowledged_at)
        return opened, result

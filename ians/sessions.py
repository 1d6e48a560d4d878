"""Sessions of the web pages: who a browser signed in as, kept in the database.

A session begins with a token (the admin's or a PoC's) or a sign-in link, and ends when
its holder signs out, after `LIFETIME`, or when the PoC is no longer in the registry.
The browser holds a random key; the store keeps only its SHA-256 (like tokens), with
the session's CSRF token, so a stolen database opens no session. Services never import
aiohttp: the cookie itself is the web layer's business.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from ians.clock import Clock
from ians.domain.contacts import Registry
from ians.store import Store
from ians.store.base import WebSession
from ians.tokens import ADMIN, Principal, Tokens, token_hash

LIFETIME = timedelta(hours=12)  # a duty officer's shift, and then some


@dataclass(frozen=True, slots=True)
class Session:
    """A live session: who it is, and the token its forms must carry."""

    who: Principal
    csrf: str
    key_hash: str


class Sessions:
    def __init__(self, store: Store, tokens: Tokens, registry: Registry, clock: Clock) -> None:
        self._store = store
        self._tokens = tokens
        self._registry = registry
        self._clock = clock

    async def sign_in(self, token: str) -> tuple[str, Session]:
        """A new session for the holder of `token`; returns the browser's key with it.

        Raises Unauthorized for a token that is unknown or replaced.
        """
        who = self._tokens.authenticate(f"Bearer {token.strip()}")
        return await self.open(who)

    async def open(self, who: Principal) -> tuple[str, Session]:
        """A new session for `who` (signed in some other way: a sign-in link)."""
        key = secrets.token_urlsafe(32)
        now = self._clock.now()
        stored = WebSession(
            token_hash(key),
            None if who.poc is None else who.poc.id,
            secrets.token_urlsafe(24),
            now,
            now + LIFETIME,
        )
        await self._store.add_session(stored)
        return key, Session(who, stored.csrf, stored.key_hash)

    async def find(self, key: str) -> Session | None:
        """The live session of this browser key; None when it is unknown, ended or expired."""
        try:
            hashed = token_hash(key)
        except UnicodeEncodeError:
            return None
        stored = await self._store.web_session(hashed)
        if stored is None or stored.expires_at <= self._clock.now():
            return None
        if stored.poc is None:
            return Session(ADMIN, stored.csrf, hashed)
        poc = self._registry.pocs.get(stored.poc)
        return None if poc is None else Session(Principal(poc), stored.csrf, hashed)

    async def sign_out(self, session: Session) -> None:
        await self._store.end_session(session.key_hash)

"""Bearer tokens: the admin's and one per PoC, stored as SHA-256 hashes.

Tokens are 256-bit random strings, so a fast hash is enough to store them; the
hash of a presented token is compared in constant time with the admin's, and
looked up among the PoCs' (a dictionary lookup on the hash reveals nothing of
the token itself).

An `Authorization` header found good is kept in memory with its caller, so that the
next request with it is a dictionary lookup (hashing and checking it again cost ~4 us
of an acknowledgement's ~60 under load). Python hashes strings with a key drawn at
start, so that lookup tells nothing of the token either. Every change to the table
(a token issued, the table reloaded) forgets them all; only good headers are kept, at
most CALLERS_KEPT.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from ians.clock import Clock
from ians.domain.contacts import PointOfContact, Registry
from ians.errors import Forbidden, Unauthorized
from ians.store import Store

CALLERS_KEPT = 10_000  # more PoCs than the Convention has, with room for replaced tokens


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the admin (secretariat), or a PoC."""

    poc: PointOfContact | None = None

    @property
    def is_admin(self) -> bool:
        return self.poc is None

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("only the secretariat (admin token) may do this")

    def require_poc(self) -> PointOfContact:
        if self.poc is None:
            raise Forbidden("only a point of contact (PoC token) may do this")
        return self.poc


ADMIN = Principal()


class Tokens:
    """The live token table, loaded from the store and written through to it."""

    def __init__(self, store: Store, registry: Registry, clock: Clock) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        self._admin_hash = ""
        self._pocs: dict[str, str] = {}  # token hash → PoC id
        self._hash_of: dict[str, str] = {}  # PoC id → its token's hash
        self._reloading = asyncio.Lock()
        self._reloaded_at = 0.0
        self._callers: dict[str, Principal] = {}  # good Authorization headers → caller

    async def load(self, admin_token: str | None) -> str | None:
        """Load the stored hashes; set the admin token from `admin_token`, or make one.

        Returns the admin token when it was generated now (to be shown once), else None.
        """
        generated = None
        if admin_token:
            self._admin_hash = token_hash(admin_token)
            if await self._store.admin_token_hash() != self._admin_hash:
                await self._store.set_admin_token_hash(self._admin_hash)
        else:
            stored = await self._store.admin_token_hash()
            if stored is None:
                generated = new_token()
                stored = token_hash(generated)
                await self._store.set_admin_token_hash(stored)
            self._admin_hash = stored
        self._pocs = await self._store.poc_token_hashes()
        self._hash_of = {poc: hashed for hashed, poc in self._pocs.items()}
        self._callers.clear()
        return generated

    async def issue(self, poc_id: str) -> str:
        """A new token for the PoC; its previous one stops working.

        Raises UnknownPointOfContact.
        """
        self._registry.poc(poc_id)
        token = new_token()
        hashed = token_hash(token)
        await self._store.set_poc_token_hash(poc_id, hashed, self._clock.now())
        old = self._hash_of.get(poc_id)
        if old is not None:
            self._pocs.pop(old, None)
        self._pocs[hashed] = poc_id
        self._hash_of[poc_id] = hashed
        self._callers.clear()
        return token

    async def reload(self) -> None:
        """Read the PoCs' token hashes again (another node shares the store)."""
        self._reloaded_at = time.monotonic()
        self._pocs = await self._store.poc_token_hashes()
        self._hash_of = {poc: hashed for hashed, poc in self._pocs.items()}
        self._callers.clear()

    async def caller(self, authorization: str | None) -> Principal:
        """As `authenticate`; on a shared store, a token unknown here is looked for again
        in the store once (another node may have issued it a moment ago)."""
        try:
            return self.authenticate(authorization)
        except Unauthorized:
            if not self._store.shared:
                raise
            failed_at = time.monotonic()
        async with self._reloading:  # one reload at a time serves every caller before it
            if self._reloaded_at <= failed_at:
                await self.reload()
        return self.authenticate(authorization)

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller behind an `Authorization: Bearer` header. Raises Unauthorized."""
        if not authorization:
            raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
        caller = self._callers.get(authorization)
        if caller is None:
            caller = self._check(authorization)
            if len(self._callers) >= CALLERS_KEPT:
                self._callers.clear()
            self._callers[authorization] = caller
        return caller

    def _check(self, authorization: str) -> Principal:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use Authorization: Bearer <token>")
        try:
            hashed = token_hash(token.strip())
        except UnicodeEncodeError:  # a header may carry bytes that are no text at all
            raise Unauthorized("unknown or replaced token") from None
        if hmac.compare_digest(hashed, self._admin_hash):
            return ADMIN
        poc_id = self._pocs.get(hashed)
        if poc_id is None or poc_id not in self._registry.pocs:
            raise Unauthorized("unknown or replaced token")
        return Principal(self._registry.pocs[poc_id])

"""Signed links: acknowledgement links in notices, one-time sign-in links.

A token is `<key id>.<claims>.<signature>`: the claims (purpose, subject, PoC, expiry,
nonce) as base64url JSON, and an HMAC-SHA256 over the key id and the claims. The key id
names the key that signed it, so a key can be replaced while older links still verify
with the previous one. Signatures are compared in constant time; a token that is
malformed, tampered with, signed by an unknown key, for another purpose or expired is
refused without saying which (a 404 page for people). Pure: time is passed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple


class Purpose(StrEnum):
    ACK = "ack"  # acknowledge `subject` (a message) as `poc`
    SIGNIN = "signin"  # sign in as `poc`, once


class Claims(NamedTuple):
    purpose: Purpose
    subject: str  # the message id for an ack; "" for a sign-in
    poc: str
    expires_at: datetime
    nonce: str = ""  # a sign-in link's one-time id


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"ians-link-key:" + key).hexdigest()[:8]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_json_string = json.JSONEncoder(ensure_ascii=False).encode
"""A string as JSON. json.dumps with options builds an encoder per call, and an encoder
builds its C part for every list: the claims are written string by string instead, the
same text as `json.dumps(claims, separators=(",", ":"), ensure_ascii=False)`."""


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


HEADS_KEPT = 256  # subjects whose shared part of the links is kept (see LinkSigner._head)


class LinkSigner:
    """Signs with the first key, verifies with any of them."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a link signer needs a key")
        # an HMAC keyed once per key, copied per MAC: a thousand links of a burst
        self._keys = {key_id(k): hmac.new(k, digestmod=hashlib.sha256) for k in keys}
        self._current = key_id(keys[0])
        self._heads: dict[tuple[Purpose, str], tuple[str, bytes, hmac.HMAC]] = {}

    def sign(self, claims: Claims) -> str:
        head, rest, mac = self._head(claims.purpose, claims.subject)
        q = _json_string
        expires = int(claims.expires_at.timestamp())
        tail = _b64(rest + f"{q(claims.poc)},{expires},{q(claims.nonce)}]".encode())
        mac = mac.copy()
        mac.update(tail.encode())
        return f"{self._current}.{head}{tail}.{_b64(mac.digest())}"

    def _head(self, purpose: Purpose, subject: str) -> tuple[str, bytes, hmac.HMAC]:
        """What the links of one subject share, worked out once: the claims' JSON up to the
        PoC, in base64 as far as a whole number of 3-byte groups goes (base64 of the rest
        follows it seamlessly), the bytes left over, and the MAC fed with all before them.
        A warning's thousand links differ only in their PoC."""
        key = (purpose, subject)
        head = self._heads.get(key)
        if head is None:
            claims = f"[{_json_string(purpose.value)},{_json_string(subject)},".encode()
            cut = len(claims) - len(claims) % 3
            encoded = _b64(claims[:cut])
            mac = self._keys[self._current].copy()
            mac.update(f"{self._current}.{encoded}".encode())
            if len(self._heads) >= HEADS_KEPT:
                self._heads.clear()
            head = self._heads[key] = (encoded, claims[cut:], mac)
        return head

    def verify(self, token: str, purpose: Purpose, now: datetime) -> Claims | None:
        """The token's claims if it is sound, for `purpose` and not expired at `now`."""
        parts = token.split(".")
        if len(parts) != 3 or len(token) > 2000:
            return None
        kid, body, signature = parts
        key = self._keys.get(kid)
        if key is None:
            return None
        if not hmac.compare_digest(self._mac(key, f"{kid}.{body}"), signature):
            return None
        try:
            fields = json.loads(_unb64(body))
            kind, subject, poc, expires, nonce = fields
            claims = Claims(
                Purpose(kind), str(subject), str(poc), datetime.fromtimestamp(expires, UTC),
                str(nonce),
            )  # fmt: skip
        except (ValueError, TypeError, binascii.Error, OverflowError):
            return None  # signed by us yet unreadable: never happens unless the key leaked
        if claims.purpose is not purpose or now >= claims.expires_at:
            return None
        return claims

    def short_tag(self, text: str) -> str:
        """A short MAC of `text` with the current key (a plus address's tag: 10 characters,
        60 bits, enough against guessing, short enough for a local part)."""
        return self._mac(self._keys[self._current], f"tag:{text}")[:10]

    def tag_ok(self, text: str, tag: str) -> bool:
        """Whether `tag` is `short_tag(text)` under any of the keys (constant time)."""
        return any(
            hmac.compare_digest(self._mac(key, f"tag:{text}")[:10], tag)
            for key in self._keys.values()
        )

    @staticmethod
    def _mac(key: hmac.HMAC, signed: str) -> str:
        mac = key.copy()
        mac.update(signed.encode())
        return _b64(mac.digest())

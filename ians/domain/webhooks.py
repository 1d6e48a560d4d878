"""Webhooks as Standard Webhooks (standardwebhooks.com) sign them, and what an answer means.

A notice is signed over `<webhook-id>.<webhook-timestamp>.<body>` with HMAC-SHA256 and the
PoC's secret (`whsec_` + base64 of 32 random bytes); the signature header is `v1,` + the
base64 of the MAC. Pure: times are passed in.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MAX_RETRY_AFTER = timedelta(days=1)
"""A peer's `Retry-After` postpones the next attempt by this much at most."""


def new_secret() -> str:
    """A fresh signing secret, as it is shown once to the PoC's administrators."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The key bytes of a `whsec_…` secret. Raises ValueError for one that is not base64."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret is whsec_ and base64") from None
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def webhook_id(notice_id: int, message_id: str) -> str:
    """The `webhook-id` of a notice: the same on every attempt, unique per notice (the
    local part of the notice's e-mail `Message-ID`)."""
    return f"n{notice_id}.{message_id}"


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: `v1,` + base64(HMAC-SHA256(key, id.timestamp.body))."""
    signed = b"%s.%d.%s" % (msg_id.encode(), timestamp, body)
    return "v1," + base64.b64encode(hmac.digest(key, signed, "sha256")).decode()


def signed_headers(key: bytes, msg_id: str, at: datetime, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of a body sent at `at`."""
    timestamp = int(at.timestamp())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, msg_id, timestamp, body),
    }


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """How long a `Retry-After` header (seconds, or an HTTP date) asks to wait from `now`:
    None when absent or unreadable, at most MAX_RETRY_AFTER, never negative."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        wait = timedelta(seconds=int(value[:7]))  # 7 digits is over 100 days already
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None  # HTTP dates are GMT; one without a zone is not one
        wait = when - now
    return min(max(wait, timedelta(0)), MAX_RETRY_AFTER)


class Outcome(StrEnum):
    """What an HTTP status means for a notice."""

    DELIVERED = "delivered"
    GONE = "gone"  # 410: the receiver is gone for good; the PoC's webhook is switched off
    TEMPORARY = "temporary"  # 429, 5xx: tried again
    PERMANENT = "permanent"  # any other answer (other 4xx, 1xx, 3xx: redirects not followed)


def outcome(status: int) -> Outcome:
    """The Outcome of an answer with HTTP `status`."""
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status == 410:
        return Outcome.GONE
    if status == 429 or 500 <= status < 600:
        return Outcome.TEMPORARY
    return Outcome.PERMANENT

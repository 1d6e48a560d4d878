"""Notices for external channels (e-mail, webhooks): what is waiting to be attempted, what an
attempt answered, and when to try again. Pure: times are passed in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple


class NoticeState(StrEnum):
    PENDING = "pending"  # to be attempted at `next_attempt_at`
    DELIVERED = "delivered"  # the peer accepted it
    FAILED = "failed"  # a permanent failure, or the retries ran out


class OutboxNotice(NamedTuple):
    """One notice for one channel of one PoC, as stored. `id` is the outbox row, which
    names the notice for good (its `Message-ID`), so every retry carries the same id."""

    id: int
    kind: str  # a NoticeKind: message (first send or escalation), reminder, invitation
    message_id: str  # the message, or the consultation
    poc: str
    country: str
    channel: str
    attempts: int  # made so far
    created_at: datetime
    state: NoticeState = NoticeState.PENDING
    due_at: datetime | None = None  # when its next attempt falls due (None once final)


class Answer(NamedTuple):
    """What the peer answered one delivery: `delivered`, or a failure `permanent` or not.

    `retry_after`: the peer asked to wait this long before the next attempt (HTTP 429 or
    503 with `Retry-After`). `gone`: the peer said the address is gone for good (HTTP 410),
    so the PoC's channel is switched off; a gone answer is permanent.
    """

    delivered: bool
    text: str
    permanent: bool = False
    retry_after: timedelta | None = None
    gone: bool = False


class Attempt(NamedTuple):
    """The outcome of attempt number `number` of notice `notice_id`, made at `at`.

    `retry_at` is when to try again (a temporary failure with retries left); a failure
    without it is final (`permanent`: the peer refused for good, or the retries ran out).
    `gone`: the PoC's channel is to be switched off (Answer.gone).
    """

    notice_id: int
    number: int
    at: datetime
    delivered: bool
    answer: str
    permanent: bool = False
    retry_at: datetime | None = None
    gone: bool = False


def retry_at(
    retries: Sequence[timedelta],
    attempts: int,
    now: datetime,
    speed: float = 1.0,
    not_before: timedelta | None = None,
) -> datetime | None:
    """When to make the next attempt after `attempts` failed temporarily, or None when the
    schedule is used up. A scaled exercise (speed N) retries N times faster, like its chase;
    `not_before` (the peer's `Retry-After`) puts the attempt off to at least `now` + it.
    """
    if attempts < 1 or attempts > len(retries):
        return None
    at = now + retries[attempts - 1] / speed
    if not_before is not None:
        at = max(at, now + not_before)
    return at


def notice_message_id(notice_id: int, message_id: str, domain: str) -> str:
    """The `Message-ID` of a notice: the same for every attempt, unique per notice."""
    return f"<n{notice_id}.{message_id}@{domain}>"


def parse_notice_message_id(value: str, domain: str) -> tuple[int, str] | None:
    """(notice id, message id) from a `Message-ID` made by `notice_message_id`, else None."""
    value = value.strip()
    if not (value.startswith("<") and value.endswith(">")):
        return None
    local, _, host = value[1:-1].rpartition("@")
    if host.lower() != domain.lower() or not local.startswith("n"):
        return None
    number, _, message_id = local[1:].partition(".")
    if not number.isdigit() or not message_id or len(number) > 18:
        return None
    return int(number), message_id

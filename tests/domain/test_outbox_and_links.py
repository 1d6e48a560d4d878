"""Pure rules of external delivery: the retry schedule, notice ids, signed links, and the
escalation a failed delivery causes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from ians.domain.chase import Chase, ChaseStatus, EventKind, escalate_now, fire, start_chase
from ians.domain.links import Claims, LinkSigner, Purpose, key_id
from ians.domain.outbox import notice_message_id, parse_notice_message_id, retry_at
from ians.domain.policy import AckPolicy

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)
RETRIES = (10 * S, 60 * S, 300 * S)


@pytest.mark.parametrize(
    ("attempts", "speed", "expected"),
    [
        (1, 1.0, T0 + 10 * S),
        (2, 1.0, T0 + 60 * S),
        (3, 1.0, T0 + 300 * S),
        (4, 1.0, None),  # the schedule is used up: the failure is final
        (0, 1.0, None),
        (1, 10.0, T0 + 1 * S),  # a drill at speed 10 retries 10 times faster
        (3, 60.0, T0 + 5 * S),
    ],
)
def test_retry_at(attempts: int, speed: float, expected: datetime | None) -> None:
    assert retry_at(RETRIES, attempts, T0, speed) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<n12.ew-abc@secretariat.test>", (12, "ew-abc")),
        (" <n12.ew-abc@SECRETARIAT.test> ", (12, "ew-abc")),
        ("<n12.cn-1f@secretariat.test>", (12, "cn-1f")),
        ("<n12.ew-abc@elsewhere.test>", None),  # not ours
        ("<x12.ew-abc@secretariat.test>", None),
        ("<n.ew-abc@secretariat.test>", None),
        ("<n12@secretariat.test>", None),
        ("n12.ew-abc@secretariat.test", None),
        ("<n1234567890123456789.ew@secretariat.test>", None),
        ("", None),
    ],
)
def test_parse_notice_message_id(value: str, expected: tuple[int, str] | None) -> None:
    assert parse_notice_message_id(value, "secretariat.test") == expected


def test_a_notice_message_id_reads_back() -> None:
    made = notice_message_id(7, "ew-0123", "secretariat.test")
    assert parse_notice_message_id(made, "secretariat.test") == (7, "ew-0123")


SIGNER = LinkSigner([b"key-one"])
CLAIMS = Claims(Purpose.ACK, "ew-1", "hun-1", T0 + timedelta(days=8))


def test_a_signed_link_verifies_until_it_expires() -> None:
    token = SIGNER.sign(CLAIMS)
    assert SIGNER.verify(token, Purpose.ACK, T0) == CLAIMS
    assert SIGNER.verify(token, Purpose.ACK, CLAIMS.expires_at - S) == CLAIMS
    assert SIGNER.verify(token, Purpose.ACK, CLAIMS.expires_at) is None
    assert SIGNER.verify(token, Purpose.SIGNIN, T0) is None  # not for another purpose


def test_an_old_key_still_verifies_after_a_new_one_signs() -> None:
    token = SIGNER.sign(CLAIMS)
    rotated = LinkSigner([b"key-two", b"key-one"])
    assert rotated.verify(token, Purpose.ACK, T0) == CLAIMS
    assert LinkSigner([b"key-two"]).verify(token, Purpose.ACK, T0) is None


@pytest.mark.parametrize("subject", ["", "e", "ew", "ew-", "ew-1", "ew-0123456789abcdef"])
@pytest.mark.parametrize("poc", ["h", "hun-1", 'é"\\\u2028'])
def test_a_link_is_the_plain_json_claims_and_their_mac(subject: str, poc: str) -> None:
    """Each subject's shared part is worked out once (LinkSigner._head): whatever the
    lengths, a link is `<key id>.<base64url JSON claims>.<base64url HMAC of the two>`."""
    claims = Claims(Purpose.ACK, subject, poc, T0 + timedelta(days=8), "webhook")
    fields = [claims.purpose.value, subject, poc, int(claims.expires_at.timestamp()), "webhook"]
    body = _b64(json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode())
    kid = key_id(b"key-one")
    mac = _b64(hmac.new(b"key-one", f"{kid}.{body}".encode(), hashlib.sha256).digest())
    assert SIGNER.sign(claims) == SIGNER.sign(claims) == f"{kid}.{body}.{mac}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        SIGNER.sign(CLAIMS)[:-1] + "A",
        SIGNER.sign(CLAIMS).replace(".", ".x", 1),
        "." * 2,
        "x" * 2001,
    ],
)
def test_a_bad_token_is_refused(token: str) -> None:
    assert SIGNER.verify(token, Purpose.ACK, T0) is None


POLICY = AckPolicy(
    reminders=(), escalate_every=timedelta(minutes=30), give_up_after=timedelta(hours=2)
)


def _chase(pocs: tuple[str, ...] = ("hun-1", "hun-2", "hun-3")) -> Chase:
    return start_chase("ew-1", "HUN", pocs, T0, POLICY, chase_id=1)


@pytest.mark.parametrize(
    ("chase", "failed", "reaches"),
    [
        (_chase(), "hun-1", "hun-2"),
        (_chase()._replace(reached=2), "hun-2", "hun-3"),
        (_chase()._replace(reached=2), "hun-1", None),  # escalated past it already
        (_chase()._replace(reached=3), "hun-3", None),  # no further PoC
        (_chase(("hun-1",)), "hun-1", None),
        (_chase()._replace(status=ChaseStatus.ACKNOWLEDGED), "hun-1", None),
    ],
)
def test_escalate_now(chase: Chase, failed: str, reaches: str | None) -> None:
    after, events = escalate_now(chase, failed, T0, "email delivery failed")
    if reaches is None:
        assert (after, events) == (chase, [])
        return
    [event] = events
    assert (event.kind, event.poc, event.detail["because"]) == (
        EventKind.ESCALATED,
        reaches,
        "email delivery failed",
    )
    assert after.reached == chase.reached + 1
    assert after.next_due_at == chase.next_due_at  # the plan keeps its times


def test_a_planned_escalation_after_an_early_one_reaches_the_next_and_then_no_one() -> None:
    chase, _ = escalate_now(_chase(), "hun-1", T0, "email delivery failed")  # hun-2
    chase, events = fire(chase, POLICY, T0 + timedelta(minutes=30))
    assert [e.poc for e in events if e.kind is EventKind.ESCALATED] == ["hun-3"]
    chase, events = fire(chase, POLICY, T0 + timedelta(minutes=60))
    assert [e for e in events if e.kind is EventKind.ESCALATED] == []
    assert chase.reached == 3


def test_a_short_tag_is_checked_with_every_key() -> None:
    tag = SIGNER.short_tag("12")
    assert len(tag) == 10
    assert SIGNER.tag_ok("12", tag)
    assert not SIGNER.tag_ok("13", tag)
    assert not SIGNER.tag_ok("12", tag[:-1] + ("A" if tag[-1] != "A" else "B"))
    assert LinkSigner([b"key-two", b"key-one"]).tag_ok("12", tag)
    assert not LinkSigner([b"key-two"]).tag_ok("12", tag)

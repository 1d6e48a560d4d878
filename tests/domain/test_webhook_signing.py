"""Standard Webhooks signing, checked against the independent `standardwebhooks` package,
and what a receiver's answer and its Retry-After mean."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from ians.domain.outbox import retry_at
from ians.domain.webhooks import (
    MAX_RETRY_AFTER,
    Outcome,
    new_secret,
    outcome,
    retry_after,
    secret_key,
    signed_headers,
    webhook_id,
)

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("body", [b"{}", '{"name": "Pančevo"}'.encode(), b"<alert/>" * 1000])
def test_the_signature_is_the_one_standardwebhooks_computes(body: bytes) -> None:
    secret = new_secret()
    headers = signed_headers(secret_key(secret), "n7.ew-1", NOW, body)
    assert headers["webhook-id"] == "n7.ew-1"
    assert headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert headers["webhook-signature"] == Webhook(secret).sign("n7.ew-1", NOW, body.decode())


def test_a_secret_is_whsec_and_32_random_bytes() -> None:
    one, two = new_secret(), new_secret()
    assert one.startswith("whsec_") and one != two
    assert len(base64.b64decode(one.removeprefix("whsec_"))) == 32
    with pytest.raises(ValueError):
        secret_key("whsec_not base64!")


def test_the_webhook_id_is_the_notice_s() -> None:
    assert webhook_id(12, "ew-abc") == "n12.ew-abc"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, Outcome.DELIVERED),
        (202, Outcome.DELIVERED),
        (204, Outcome.DELIVERED),
        (410, Outcome.GONE),
        (429, Outcome.TEMPORARY),
        (500, Outcome.TEMPORARY),
        (503, Outcome.TEMPORARY),
        (599, Outcome.TEMPORARY),
        (400, Outcome.PERMANENT),
        (401, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        (408, Outcome.PERMANENT),
        (301, Outcome.PERMANENT),
        (308, Outcome.PERMANENT),
        (100, Outcome.PERMANENT),
    ],
)
def test_what_an_answer_means(status: int, expected: Outcome) -> None:
    assert outcome(status) is expected


@pytest.mark.parametrize(
    ("value", "wait"),
    [
        (None, None),
        ("", None),
        ("120", timedelta(seconds=120)),
        (" 0 ", timedelta(0)),
        ("Fri, 27 Nov 2026 09:01:30 GMT", timedelta(seconds=90)),
        ("Fri, 27 Nov 2026 08:59:00 GMT", timedelta(0)),  # in the past: at once
        ("99999999999", MAX_RETRY_AFTER),
        ("Sat, 27 Nov 2027 09:00:00 GMT", MAX_RETRY_AFTER),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("Fri, 27 Nov 2026 09:01:30", None),  # no zone: not an HTTP date
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date(
    value: str | None, wait: timedelta | None
) -> None:
    assert retry_after(value, NOW) == wait


@pytest.mark.parametrize(
    ("not_before", "expected"),
    [
        (None, NOW + timedelta(seconds=10)),
        (timedelta(seconds=5), NOW + timedelta(seconds=10)),  # the schedule is later
        (timedelta(seconds=120), NOW + timedelta(seconds=120)),
    ],
)
def test_retry_after_puts_the_schedule_off_never_forward(
    not_before: timedelta | None, expected: datetime
) -> None:
    retries = [timedelta(seconds=10), timedelta(minutes=1)]
    assert retry_at(retries, 1, NOW, 1.0, not_before) == expected
    assert retry_at(retries, 3, NOW, 1.0, not_before) is None  # used up: final all the same

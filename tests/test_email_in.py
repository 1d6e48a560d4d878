"""Replies in, through the real SMTP listener on 127.0.0.1: acknowledgements by e-mail,
automatic answers, bounces, and every kind of bad input refused or recorded clearly."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest

from ians.clock import ManualClock
from tests.conftest import T0, Api, AppFactory, early_warning
from tests.email_fixtures import (
    EMAIL_REGISTRY,
    channels,
    deliver_in,
    events,
    reply_to,
    services,
    settle,
    text_part,
)
from tests.smtp_sink import SmtpSink

REGISTRY = EMAIL_REGISTRY  # what the `registry` fixture loads (tests/conftest.py)


@pytest.fixture
async def api(make_api: AppFactory, sink: SmtpSink) -> Api:
    return await make_api(delivery=channels(sink.port, inbound_port=0))


def port(api: Api) -> int:
    found = services(api).inbound_port
    assert found is not None
    return found


async def notice_to_hun(api: Api, sink: SmtpSink) -> tuple[str, EmailMessage]:
    sent = await api.json(
        "POST", "/api/messages", json=early_warning(sender="SRB", to=["HUN"]), status=201
    )
    await settle(api)
    [mail] = await sink.wait_for(1)
    return sent["id"], mail.message


async def answered(api: Api, sink: SmtpSink, count: int) -> list[EmailMessage]:
    replies = services(api).replies
    assert replies is not None
    await replies.drain()
    return [m.message for m in (await sink.wait_for(count))[1:]]


async def state(api: Api, message_id: str) -> dict[str, Any]:
    body = await api.json("GET", f"/api/messages/{message_id}")
    recipient: dict[str, Any] = body["recipients"][0]
    return recipient


async def refused(port_: int, mail: EmailMessage | bytes, rcpt: str, **kw: Any) -> tuple[int, str]:
    try:
        said = await deliver_in(port_, mail, rcpt, **kw)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        return exc.recipients[0].code, exc.recipients[0].message
    except aiosmtplib.SMTPResponseException as exc:
        return exc.code, exc.message
    raise AssertionError(f"accepted: {said}")


@pytest.mark.parametrize("first", ["ACK", "получено"])  # the grammar: tests/domain
async def test_a_reply_from_the_registered_address_acknowledges_and_is_answered(
    api: Api, sink: SmtpSink, first: str
) -> None:
    message_id, notice = await notice_to_hun(api, sink)
    said = await deliver_in(port(api), reply_to(notice, first), str(notice["Reply-To"]))
    assert "recorded: acknowledged" in said
    recipient = await state(api, message_id)
    assert (recipient["status"], recipient["acknowledged_by"]) == ("acknowledged", "hun-1")
    [ack] = await events(api, message_id, "acknowledged")
    assert ack["via"] == "email"
    [answer] = await answered(api, sink, 2)
    assert answer["To"] == "ian@hun.example"
    assert answer["Auto-Submitted"] == "auto-replied"
    assert answer["Subject"].startswith("Re: ")
    assert "recorded the acknowledgement" in text_part(answer)
    assert sink.received[1].mail_from in ("", "<>")  # a null sender: an answer never loops


async def test_a_reply_from_another_address_does_not_acknowledge(api: Api, sink: SmtpSink) -> None:
    message_id, notice = await notice_to_hun(api, sink)
    code, text = await refused(
        port(api), reply_to(notice, "ACK", sender="someone@else.example"), str(notice["Reply-To"])
    )
    assert code == 550 and "not the registered address" in text
    code, _ = await refused(  # a PoC of another country: the message never reached it
        port(api), reply_to(notice, "ACK", sender="ian@rou.example"), str(notice["Reply-To"])
    )
    assert code == 550
    assert (await state(api, message_id))["status"] == "pending"
    assert await events(api, message_id, "acknowledged") == []


async def test_a_forged_from_header_is_refused(api: Api, sink: SmtpSink) -> None:
    message_id, notice = await notice_to_hun(api, sink)
    for sender in ('"ian@hun.example" <attacker@evil.example>', "ian@hun.example, x@evil.example"):
        code, _ = await refused(
            port(api), reply_to(notice, "ACK", sender=sender), str(notice["Reply-To"])
        )
        assert code == 550
    double = (
        reply_to(notice, "ACK")
        .as_bytes()
        .replace(b"From: ian@hun.example", b"From: ian@hun.example\r\nFrom: x@evil.example", 1)
    )  # a second From header
    code, _ = await refused(port(api), double, str(notice["Reply-To"]))
    assert code == 550
    assert (await state(api, message_id))["status"] == "pending"


async def test_a_reply_found_by_its_plus_address_or_subject_alone(api: Api, sink: SmtpSink) -> None:
    message_id, notice = await notice_to_hun(api, sink)
    by_plus = reply_to(notice, "OK", threaded=False)
    del by_plus["Subject"]
    by_plus["Subject"] = "got it"
    assert "acknowledged" in await deliver_in(port(api), by_plus, str(notice["Reply-To"]))
    second, notice2 = await _second_notice(api, sink)
    by_subject = reply_to(notice2, "ACK", threaded=False)
    said = await deliver_in(port(api), by_subject, "ack@secretariat.test")
    assert "acknowledged" in said
    assert (await state(api, second))["status"] == "acknowledged"
    assert (await state(api, message_id))["status"] == "acknowledged"


async def _second_notice(api: Api, sink: SmtpSink) -> tuple[str, EmailMessage]:
    before = len(sink.received)
    sent = await api.json(
        "POST", "/api/messages", json=early_warning(sender="ROU", to=["HUN"]), status=201
    )
    await settle(api)
    mails = await sink.wait_for(before + 1)
    [mail] = [m for m in mails if m.message["X-IANS-Message"] == sent["id"]]
    return sent["id"], mail.message


@pytest.mark.parametrize(
    "header",
    [{"Auto_Submitted": "auto-replied"}, {"Precedence": "bulk"}],  # the rest: tests/domain
)
async def test_an_auto_reply_is_recorded_never_acknowledges_and_is_never_answered(
    api: Api, sink: SmtpSink, header: dict[str, str]
) -> None:
    message_id, notice = await notice_to_hun(api, sink)
    mail = reply_to(notice, "ACK — I am out of the office until Monday", **header)
    assert "recorded: auto_reply" in await deliver_in(port(api), mail, str(notice["Reply-To"]))
    [auto] = await events(api, message_id, "auto_reply")
    assert auto["poc"] == "hun-1"
    assert (await state(api, message_id))["status"] == "pending"
    replies = services(api).replies
    assert replies is not None
    await replies.drain()
    assert len(sink.received) == 1  # no answer


def bounce(notice: EmailMessage, status: str, action: str = "failed") -> bytes:
    return (
        "From: MAILER-DAEMON@relay.hun.example\r\n"
        f"To: {notice['Reply-To']}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        "\r\n--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; relay.hun.example\r\n\r\n"
        "Final-Recipient: rfc822; ian@hun.example\r\n"
        f"Action: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {status[0]}50 {status} User unknown\r\n\r\n"
        "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {notice['Message-ID']}\r\nSubject: {notice['Subject']}\r\n"
        "--b1--\r\n"
    ).encode()


async def test_a_permanent_bounce_fails_the_delivery_and_escalates_at_once(
    api: Api, sink: SmtpSink
) -> None:
    message_id, notice = await notice_to_hun(api, sink)
    said = await deliver_in(
        port(api), bounce(notice, "5.1.1"), str(notice["Reply-To"]), mail_from=""
    )
    assert "recorded: delivery_failed" in said
    [failed] = await events(api, message_id, "delivery_failed")
    assert failed["permanent"] is True and failed["answer"].startswith("5.1.1")
    [escalated] = await events(api, message_id, "escalated")
    assert escalated["poc"] == "hun-2"
    await settle(api)
    mails = await sink.wait_for(2)
    assert mails[1].rcpt_tos == ["duty@hun.example"]


async def test_a_delay_notification_is_a_temporary_failure(api: Api, sink: SmtpSink) -> None:
    message_id, notice = await notice_to_hun(api, sink)
    mail = bounce(notice, "4.4.7", action="delayed")
    await deliver_in(port(api), mail, "ack@secretariat.test", mail_from="")
    [failed] = await events(api, message_id, "delivery_failed")
    assert failed["permanent"] is False
    assert await events(api, message_id, "escalated") == []


async def test_a_reply_that_is_no_ack_is_recorded_and_answered_with_help(
    api: Api, sink: SmtpSink
) -> None:
    message_id, notice = await notice_to_hun(api, sink)
    said = await deliver_in(
        port(api), reply_to(notice, "Who is this? Please call me."), str(notice["Reply-To"])
    )
    assert "reply_unparsed" in said
    [unparsed] = await events(api, message_id, "reply_unparsed")
    assert unparsed["first_line"] == "Who is this? Please call me."
    [answer] = await answered(api, sink, 2)
    assert "reply to the notice with ACK" in text_part(answer)
    assert (await state(api, message_id))["status"] == "pending"


async def test_ack_only_in_the_quoted_text_does_not_acknowledge(api: Api, sink: SmtpSink) -> None:
    message_id, notice = await notice_to_hun(api, sink)
    mail = reply_to(notice, "")  # nothing written above "On … wrote:" and the quote
    assert "reply_unparsed" in await deliver_in(port(api), mail, str(notice["Reply-To"]))
    assert (await state(api, message_id))["status"] == "pending"


# --- bad input -------------------------------------------------------------------------


async def test_mail_for_an_unknown_local_part_is_refused_at_rcpt(api: Api, sink: SmtpSink) -> None:
    _, notice = await notice_to_hun(api, sink)
    for rcpt in ("postmaster@secretariat.test", "ack@other.test", "acknowledge@secretariat.test"):
        code, text = await refused(port(api), reply_to(notice, "ACK"), rcpt)
        assert code == 550 and "no such mailbox" in text


async def test_a_message_over_the_size_limit_is_refused_at_data(api: Api, sink: SmtpSink) -> None:
    message_id, notice = await notice_to_hun(api, sink)
    huge = reply_to(notice, "ACK\n" + "x" * 80 * 14_000)  # over 1 MiB
    code, _ = await refused(port(api), huge, str(notice["Reply-To"]))
    assert code == 552
    assert (await state(api, message_id))["status"] == "pending"
    said = await deliver_in(port(api), reply_to(notice, "ACK"), str(notice["Reply-To"]))
    assert "acknowledged" in said  # the listener goes on


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\xff\xfe garbage without headers\r\n",
        b"From: ian@hun.example\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n--\r\n",
        b"From: ian@hun.example\r\nSubject: =?utf-8?b?!!!?=\r\nIn-Reply-To: <<<>>>\r\n\r\nACK\r\n",
        b"From: \r\nTo: ack@secretariat.test\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@\r\n",
        b"From: ian@hun.example\r\nContent-Type: text/plain; charset=nope\r\n\r\nACK\r\n",
    ],
    ids=["binary", "broken multipart", "broken headers", "empty from", "unknown charset"],
)
async def test_malformed_mime_is_refused_and_the_listener_goes_on(
    api: Api, sink: SmtpSink, data: bytes
) -> None:
    message_id, notice = await notice_to_hun(api, sink)
    code, _ = await refused(port(api), data, str(notice["Reply-To"]))
    assert code == 550
    assert (await state(api, message_id))["status"] == "pending"
    said = await deliver_in(port(api), reply_to(notice, "ACK"), str(notice["Reply-To"]))
    assert "acknowledged" in said


async def test_a_reply_to_an_unknown_notice_is_refused(api: Api, sink: SmtpSink) -> None:
    message_id, notice = await notice_to_hun(api, sink)
    mail = reply_to(notice, "ACK", threaded=False)
    mail.replace_header("Subject", "Re: [ew-0000000000000000]")
    mail["In-Reply-To"] = str(notice["Message-ID"]).replace("<n1.", "<n999.")
    code, text = await refused(port(api), mail, "ack@secretariat.test")
    assert code == 550 and "names no IANS notice" in text
    tampered = reply_to(notice, "ACK", threaded=False)  # a real notice id, another message
    tampered.replace_header("Subject", "Re: hello")
    tampered["In-Reply-To"] = str(notice["Message-ID"]).replace(message_id, "ew-0123456789abcdef")
    code, _ = await refused(port(api), tampered, "ack@secretariat.test")
    assert code == 550
    assert (await state(api, message_id))["status"] == "pending"


async def test_a_reply_to_an_expired_notice_is_refused(
    api: Api, sink: SmtpSink, clock: ManualClock
) -> None:
    message_id, notice = await notice_to_hun(api, sink)
    clock.set(T0 + timedelta(hours=2, days=7))  # 7 days after the give-up
    code, text = await refused(port(api), reply_to(notice, "ACK"), str(notice["Reply-To"]))
    assert code == 550 and "expired" in text
    assert await events(api, message_id, "acknowledged") == []


async def test_an_unmatched_auto_reply_or_bounce_is_accepted_and_dropped(
    api: Api, sink: SmtpSink
) -> None:
    _, notice = await notice_to_hun(api, sink)
    stray = reply_to(notice, "Out of office", sender="nobody@else.example", threaded=False)
    stray.replace_header("Subject", "Out of office")
    stray["Auto-Submitted"] = "auto-replied"
    assert "ignored" in await deliver_in(port(api), stray, "ack@secretariat.test")
    tag = str(notice["Reply-To"]).partition("@")[0].encode()
    bad = bounce(notice, "5.1.1").replace(b"<n1.", b"<n777.").replace(tag, b"ack")
    assert "ignored" in await deliver_in(port(api), bad, "ack@secretariat.test", mail_from="")


async def test_a_guessed_plus_tag_names_no_notice(api: Api, sink: SmtpSink) -> None:
    message_id, notice = await notice_to_hun(api, sink)
    mail = reply_to(notice, "ACK", threaded=False)
    mail.replace_header("Subject", "Re: hello")
    for forged in ("ack+n1@secretariat.test", "ack+n1-AAAAAAAAAA@secretariat.test"):
        code, text = await refused(port(api), mail, forged)
        assert code == 550 and "names no IANS notice" in text
    assert (await state(api, message_id))["status"] == "pending"


CONSULTATION = """\
kind: consultation
name: Contact details check
audience: {roles: [notification], countries: [HUN]}
deadline: 14d
questions:
  - {id: q1, text: Are your details up to date?, type: yes_no, required: true}
"""


async def test_a_reply_to_a_consultation_invitation_is_answered_with_help(
    api: Api, sink: SmtpSink
) -> None:
    created = await api.json("POST", "/api/exercises", json={"scenario": CONSULTATION}, status=201)
    await settle(api)
    invitation = next(
        m.message for m in await sink.wait_for(2) if m.rcpt_tos == ["ian@hun.example"]
    )
    said = await deliver_in(port(api), reply_to(invitation, "ACK"), str(invitation["Reply-To"]))
    assert "reply_unparsed" in said  # a consultation is answered, not acknowledged
    [unparsed] = await events(api, created["id"], "reply_unparsed")
    assert unparsed["poc"] == "hun-1"
    mails = await answered(api, sink, 3)
    [answer] = [m for m in mails if m["Auto-Submitted"] == "auto-replied"]
    assert answer["To"] == "ian@hun.example"
    assert f"answer at http://ians.test/api/consultations/{created['id']}" in text_part(answer)

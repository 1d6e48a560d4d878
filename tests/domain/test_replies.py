"""The rules for mail that comes back: the notice it names, the first line of new text,
the ACK grammar, automatic answers and delivery status notifications."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from ians.domain.replies import (
    defects,
    is_ack,
    is_auto_reply,
    new_text_first_line,
    notice_refs,
    reply_text,
    sender,
    status_report,
)

DOMAIN = "secretariat.test"


def parse(text: str) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(text.replace("\n", "\r\n").encode())
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize(
    ("line", "ack"),
    [
        ("ACK", True),
        ("ack", True),
        ("Ack!", True),
        ("OK", True),
        ("ok, thanks", True),
        ("Received.", True),
        ("RECEIVED with thanks", True),
        ("Reçu", True),
        ("REÇU", True),
        ("получено", True),
        ("ПОЛУЧЕНО, спасибо", True),
        ("  ACK  ", True),
        ("*ACK*", True),
        ("Okay", False),  # a word that starts with OK is not OK
        ("acknowledged", False),
        ("Not received", False),
        ("Thanks, ACK", False),  # the line must start with it
        ("", False),
        (None, False),
    ],
)
def test_the_ack_grammar(line: str | None, ack: bool) -> None:
    assert is_ack(line) is ack


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("ACK\n\nOn Fri, 27 Nov 2026, IAN System wrote:\n> ACK", "ACK"),
        ("\n\n  OK, received  \n", "OK, received"),
        ("> ACK\n> quoted only", None),
        ("On Fri, 27 Nov 2026 at 09:00, IAN System <ians@x> wrote:\n> ACK", None),
        ("Le ven. 27 nov. 2026, IAN System a écrit :\n> ACK", None),
        ("-----Original Message-----\nFrom: IAN System\nACK", None),
        ("________________________________\nFrom: IAN System\nSent: Friday", None),
        ("From: IAN System <ians@x>\nACK", None),
        ("Please call me\nACK", "Please call me"),
        ("", None),
    ],
)
def test_the_first_line_of_new_text(text: str, first: str | None) -> None:
    assert new_text_first_line(text) == first


@pytest.mark.parametrize(
    ("headers", "auto"),
    [
        ("Auto-Submitted: auto-replied", True),
        ("Auto-Submitted: auto-generated", True),
        ("Auto-Submitted: auto-notified; owner-email=x@y", True),
        ("Auto-Submitted: no", False),
        ("Auto-Submitted: No", False),
        ("Precedence: bulk", True),
        ("Precedence: list", True),
        ("Precedence: junk", True),
        ("Precedence: auto_reply", True),
        ("Precedence: first-class", False),
        ("X-Autoreply: yes", True),
        ("X-Autorespond: vacation", True),
        ("X-Mailer: Outlook", False),
    ],
)
def test_automatic_answers(headers: str, auto: bool) -> None:
    assert is_auto_reply(parse(f"From: a@b.example\n{headers}\n\nbody\n")) is auto


def test_the_notice_comes_from_in_reply_to_references_plus_tags_and_the_subject() -> None:
    mail = parse(
        "From: a@b.example\n"
        "In-Reply-To: <n5.ew-aa@secretariat.test>\n"
        "References: <x@else.example> <n3.ew-bb@secretariat.test> <n4.ew-cc@secretariat.test>\n"
        "Subject: Re: [EXERCISE] Early warning from Serbia [ew-dd] [ew-dd]\n\nACK\n"
    )
    tags = {"n9-good": 9, "n5-good": 5}
    refs = notice_refs(
        mail,
        ["ack+n9-good@secretariat.test", "ack+n5-good@secretariat.test", "ack+n8-bad@x.test"],
        DOMAIN,
        tags.get,
    )
    assert refs.notices == ((5, "ew-aa"), (4, "ew-cc"), (3, "ew-bb"), (9, None))
    assert refs.message_ids == ("ew-dd",)


@pytest.mark.parametrize(
    "rcpt",
    ["ack@secretariat.test", "ack+@secretariat.test", "ack+n9-forged@secretariat.test"],
)
def test_a_plus_tag_that_is_no_notice_names_nothing(rcpt: str) -> None:
    mail = parse("From: a@b.example\n\nACK\n")
    assert notice_refs(mail, [rcpt], DOMAIN, {"n9-good": 9}.get).notices == ()


@pytest.mark.parametrize(
    ("from_", "address"),
    [
        ("IAN Hungary <IAN@hun.example>", "ian@hun.example"),
        ("ian@hun.example", "ian@hun.example"),
        ("a@b.example, c@d.example", None),
        ("", None),
        ("not an address", None),
    ],
)
def test_the_sender_is_the_one_from_address(from_: str, address: str | None) -> None:
    assert sender(parse(f"From: {from_}\n\nACK\n")).address == address


def test_two_from_headers_name_no_sender() -> None:
    assert sender(parse("From: a@b.example\nFrom: c@d.example\n\nACK\n")).address is None


def test_the_text_of_an_html_only_reply() -> None:
    mail = parse(
        "From: a@b.example\nContent-Type: text/html; charset=utf-8\n\n"
        "<div>ACK<br>thanks</div><blockquote>quoted ACK</blockquote>\n"
    )
    assert new_text_first_line(reply_text(mail)) == "ACK"


DSN = """\
From: MAILER-DAEMON@relay.example
Content-Type: multipart/report; report-type=delivery-status; boundary="b"
MIME-Version: 1.0

--b
Content-Type: text/plain

Undeliverable.
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example

Final-Recipient: rfc822; ian@hun.example
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 5.1.1 User
 unknown

--b
Content-Type: text/rfc822-headers

Message-ID: <n7.ew-aa@secretariat.test>
Subject: hello
--b--
"""


@pytest.mark.parametrize(
    ("action", "status", "permanent", "failed"),
    [
        ("failed", "5.1.1", True, True),
        ("failed", "5.7.1 (policy)", True, True),
        ("delayed", "4.4.7", False, True),
        ("delivered", "2.0.0", False, False),
    ],
)
def test_a_delivery_status_notification(
    action: str, status: str, permanent: bool, failed: bool
) -> None:
    report = status_report(parse(DSN.format(action=action, status=status)))
    assert report is not None
    assert (report.permanent, report.failed) == (permanent, failed)
    assert report.status == status.split()[0]
    assert report.recipient == "ian@hun.example"
    assert report.diagnostic == "smtp; 550 5.1.1 User unknown"
    assert report.original_message_id == "<n7.ew-aa@secretariat.test>"


def test_a_plain_reply_is_no_status_report() -> None:
    assert status_report(parse("From: a@b.example\n\nACK\n")) is None


@pytest.mark.parametrize(
    ("text", "broken"),
    [
        ("From: a@b.example\n\nACK\n", False),
        ("From: a@b.example\nIn-Reply-To: <<<>>>\n\nACK\n", True),
        ("From: a@b.example\nContent-Type: text/plain; charset=nope\n\nACK\n", True),
        ("From: a@b.example\nContent-Type: multipart/mixed; boundary=\n\n--\n", True),
    ],
)
def test_defects(text: str, broken: bool) -> None:
    assert bool(defects(parse(text))) is broken

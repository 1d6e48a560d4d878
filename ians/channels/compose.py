"""The e-mail of a notice, as bytes ready for SMTP.

One notice e-mail: the subject (the mode first for exercise and test traffic, then
`Reminder: ` for a reminder, the report in words, the sending country and the message
id in brackets), a text and an HTML part with the mode as a banner, the content for
people, the acknowledgement link and "or reply ACK to this e-mail", and the headers
(`Message-ID` of the notice, `Auto-Submitted: auto-generated`, `X-IANS-Message`,
`X-IANS-Mode`). A message is rendered once and each recipient's copy is that text with
its own link and headers: a warning to 10,000 PoCs is composed in milliseconds.

Attachments come from `Attachments` hooks (the CAP 1.2 rendering of a message plugs in
there as `<id>.cap.xml`).
"""

from __future__ import annotations

import base64
import functools
import html
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

from ians.domain.messages import Message, MessageType, Mode

REPORT_WORDS = {
    MessageType.EARLY_WARNING: "Early warning",
    MessageType.INFORMATION: "Information",
    MessageType.ASSISTANCE_REQUEST: "Request for assistance",
    MessageType.ASSISTANCE_RESPONSE: "Response to a request for assistance",
    MessageType.TEST: "Communication test",
}
BANNERS = {
    Mode.ACTUAL: "ACTUAL — a real notification under the Convention",
    Mode.EXERCISE: "EXERCISE — EXERCISE — EXERCISE: this is not a real accident",
    Mode.TEST: "TEST — a communication test: this is not a real accident",
}
_LINK = "\x00LINK\x00"  # where each recipient's link goes in the rendered text


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


Attachments = Callable[[Message], Awaitable[Sequence[Attachment]]]
"""What to attach to a message's e-mails (the server attaches its CAP 1.2 alert,
`<id>.cap.xml`: `services.cap_attachment`)."""


def subject(message: Message, sender_name: str, reminder: bool) -> str:
    mode = {Mode.EXERCISE: "[EXERCISE] ", Mode.TEST: "[TEST] "}.get(message.mode, "")
    again = "Reminder: " if reminder else ""
    return f"{mode}{again}{REPORT_WORDS[message.type]} from {sender_name} [{message.id}]"


def content_lines(message: Message) -> list[tuple[str, str]]:
    """The content as (label, text) pairs for people, in the order of its fields."""
    data = message.content.model_dump(mode="json", exclude_none=True)
    return [(_label(k), _words(v, k)) for k, v in data.items() if v not in ([], "", None)]


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _words(value: Any, key: str = "") -> str:
    if isinstance(value, dict):
        if {"name", "lat", "lon"} <= value.keys():
            return f"{value['name']} ({value['lat']}, {value['lon']})"
        head = value.get("name") or value.get("kind")
        rest = [
            f"{k.upper() if len(k) <= 3 else k.replace('_', ' ')} {_words(v, k)}"
            for k, v in value.items()
            if v != head
        ]
        return f"{head} ({', '.join(rest)})" if head and rest else str(head or ", ".join(rest))
    if isinstance(value, list):
        return "; ".join(_words(v) for v in value)
    if key.endswith(("_at", "_by")) and isinstance(value, str):
        try:
            return _utc(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


@dataclass(frozen=True)
class Rendered:
    """A message's e-mail for one kind of notice, before it gets a recipient."""

    subject: str  # encoded for the header
    text: str
    html: str
    attachments: tuple[Attachment, ...]


def render(
    message: Message,
    sender_name: str,
    reminder: bool,
    *,
    with_link: bool = True,
    attachments: Sequence[Attachment] = (),
) -> Rendered:
    """The e-mail of `message` for people (a reminder if `reminder`)."""
    words = REPORT_WORDS[message.type]
    banner = BANNERS[message.mode]
    lines = content_lines(message)
    head = [
        banner,
        "",
        ("Reminder: not acknowledged yet. " if reminder else "")
        + f"{words} from {sender_name}, sent {_utc(message.sent_at)}.",
        f"Message: {message.id}"
        + (f" (exercise {message.exercise_id})" if message.exercise_id else ""),
    ]
    body = [f"{label}: {text}" for label, text in lines]
    how = (
        [f"Acknowledge receipt: {_LINK}", "or reply ACK to this e-mail."]
        if with_link
        else ["Reply ACK to this e-mail to acknowledge receipt."]
    )
    text = "\n".join([*head, "", *body, "", *how, "", banner, ""])
    rows = "".join(
        f"<tr><th align='left' valign='top'>{html.escape(label)}</th>"
        f"<td>{html.escape(value)}</td></tr>"
        for label, value in lines
    )
    link = (
        f"<p><a href='{_LINK}' style='display:inline-block;padding:10px 18px;"
        "background:#1f5fa8;color:#fff;text-decoration:none;border-radius:4px'>"
        "Acknowledge receipt</a></p><p>or reply ACK to this e-mail.</p>"
        if with_link
        else "<p>Reply ACK to this e-mail to acknowledge receipt.</p>"
    )
    colour = {Mode.ACTUAL: "#a40000", Mode.EXERCISE: "#8a5a00", Mode.TEST: "#2d5f2d"}[message.mode]
    page = (
        "<!doctype html><html><body style='font-family:sans-serif'>"
        f"<p style='background:{colour};color:#fff;padding:8px;font-weight:bold'>"
        f"{html.escape(banner)}</p>"
        f"<p>{html.escape(head[2])}<br>{html.escape(head[3])}</p>"
        f"<table cellpadding='4'>{rows}</table>{link}"
        f"<p style='color:{colour};font-weight:bold'>{html.escape(banner)}</p></body></html>"
    )
    return Rendered(
        _header(subject(message, sender_name, reminder)), text, page, tuple(attachments)
    )


def render_consultation(
    consultation_id: str, name: str, deadline: datetime, answer_url: str, reminder: bool
) -> Rendered:
    """An invitation to a consultation (or a reminder to a PoC that has not answered)."""
    again = "Reminder: " if reminder else ""
    first = f"{again}You are invited to answer the consultation “{name}” by {_utc(deadline)}."
    text = f"{first}\nAnswer here: {answer_url}\nConsultation: {consultation_id}\n"
    page = (
        "<!doctype html><html><body style='font-family:sans-serif'>"
        f"<p>{html.escape(first)}</p><p><a href='{html.escape(answer_url)}'>Answer</a></p>"
        f"<p>Consultation: {html.escape(consultation_id)}</p></body></html>"
    )
    return Rendered(_header(f"{again}Consultation: {name} [{consultation_id}]"), text, page, ())


def answer(
    sender: str,
    to: str,
    subject_: str,
    text: str,
    *,
    message_id: str,
    in_reply_to: str | None,
    now: datetime,
) -> bytes:
    """A short plain-text e-mail from IANS (the answer to a reply, a sign-in link)."""
    headers = [
        ("From", _address_header(sender)),
        ("To", to),
        ("Subject", _header(subject_)),
        ("Date", format_datetime(now)),
        ("Message-ID", message_id),
        ("Auto-Submitted", "auto-replied" if in_reply_to else "auto-generated"),
    ]
    if in_reply_to:
        headers += [("In-Reply-To", in_reply_to), ("References", in_reply_to)]
    headers += [
        ("MIME-Version", "1.0"),
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("Content-Transfer-Encoding", "base64"),
    ]
    return _join(headers, _base64(text))


@dataclass(frozen=True, slots=True)
class Envelope:
    """One recipient's copy of a rendered e-mail."""

    sender: str  # From
    to: str
    reply_to: str
    message_id: str
    link: str | None
    now: datetime
    ians_message: str
    mode: str


def envelope_bytes(rendered: Rendered, envelope: Envelope) -> bytes:
    """The whole e-mail for one recipient, ready for SMTP DATA."""
    link = envelope.link or ""
    headers = [
        ("From", _address_header(envelope.sender)),
        ("To", envelope.to),
        ("Reply-To", envelope.reply_to),
        ("Subject", rendered.subject),
        ("Date", format_datetime(envelope.now)),
        ("Message-ID", envelope.message_id),
        ("Auto-Submitted", "auto-generated"),
        ("X-IANS-Message", envelope.ians_message),
        ("X-IANS-Mode", envelope.mode),
        ("MIME-Version", "1.0"),
    ]
    alternative = _boundary("alternative")
    parts = (
        f"--{alternative}\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        f"{_base64(rendered.text.replace(_LINK, link))}"
        f"--{alternative}\r\n"
        'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        f"{_base64(rendered.html.replace(_LINK, html.escape(link)))}"
        f"--{alternative}--\r\n"
    )
    if not rendered.attachments:
        headers.append(("Content-Type", f'multipart/alternative; boundary="{alternative}"'))
        return _join(headers, parts)
    mixed = _boundary("mixed")
    headers.append(("Content-Type", f'multipart/mixed; boundary="{mixed}"'))
    body = f'--{mixed}\r\nContent-Type: multipart/alternative; boundary="{alternative}"\r\n\r\n'
    body += parts
    for a in rendered.attachments:
        body += (
            f'--{mixed}\r\nContent-Type: {a.content_type}; name="{a.filename}"\r\n'
            f'Content-Disposition: attachment; filename="{a.filename}"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{_base64_bytes(a.data)}"
        )
    body += f"--{mixed}--\r\n"
    return _join(headers, body)


def _join(headers: list[tuple[str, str]], body: str) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n" + body).encode("ascii")


def _boundary(kind: str) -> str:
    # "=_" never occurs in base64 (every part is base64) nor in the parts' own headers, so a
    # fixed boundary is safe (RFC 2045 §6.7's trick) and costs no randomness per e-mail
    return f"=_ians_{kind}"


def _base64(text: str) -> str:
    return _base64_bytes(text.encode("utf-8"))


def _base64_bytes(data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return "".join(encoded[i : i + 76] + "\r\n" for i in range(0, len(encoded), 76))


def _header(text: str) -> str:
    """A header value, RFC 2047-encoded when it is not plain ASCII."""
    if text.isascii():
        return text
    return Header(text, "utf-8", maxlinelen=998).encode(linesep="\r\n")


@functools.lru_cache(maxsize=64)
def _address_header(value: str) -> str:
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8") if name else address


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")

"""Reading mail that comes back: which notice it answers, whether it is an acknowledgement,
an automatic answer or a delivery status notification. Pure: a parsed message in, facts out.

- **The notice** is named by `In-Reply-To`/`References` (the notice's own `Message-ID`),
  by the signed plus tag of the address it was sent to (`ack+n12-<mac>@…`, also the
  bounce address; the caller checks the tag),
  or by the message id in brackets in the subject (`[ew-…]`).
- **An acknowledgement** is a reply whose first line of new text (above the quoted
  message and its "On … wrote:" line) starts with one of ACK_WORDS, in any case.
- **An automatic answer**: `Auto-Submitted` other than `no`, `Precedence: bulk|list|junk|
  auto_reply`, or an `X-Autoreply`/`X-Autorespond` header.
- **A delivery status notification** (RFC 3464, `multipart/report;
  report-type=delivery-status`): its `Status` is `5.x.x` for a permanent failure.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses

from ians.domain.outbox import parse_notice_message_id

ACK_WORDS = ("ack", "ok", "received", "reçu", "получено")
_ACK = re.compile(r"^\W*(" + "|".join(ACK_WORDS) + r")(\W|$)", re.IGNORECASE)
_MESSAGE_ID_IN = re.compile(r"<[^<>\s]+>")
_SUBJECT_ID = re.compile(r"\[((?:ew|ir|ar|as|te)-[0-9a-z]{1,32}|cn-[0-9a-f]{1,32})\]")
_ATTRIBUTION = re.compile(
    r"^(on\b.*\bwrote:?$"  # On Fri, 27 Nov 2026, IAN System wrote:
    r"|le\b.*\ba écrit\s*:?$"
    r"|am\b.*\bschrieb.*:?$"
    r"|-{2,}\s*(original message|ursprüngliche nachricht|message d'origine)\s*-{2,}"
    r"|_{5,}$"  # Outlook's rule above the quoted header block
    r"|from:\s.*$)",  # a quoted header block without '>' (Outlook)
    re.IGNORECASE,
)
_AUTO_PRECEDENCE = {"bulk", "list", "junk", "auto_reply"}


@dataclass(frozen=True)
class NoticeRefs:
    """Everything in a mail that may name a notice, most reliable first."""

    notices: tuple[tuple[int, str | None], ...] = ()  # (notice id, message id if stated)
    message_ids: tuple[str, ...] = ()  # from the subject


@dataclass(frozen=True)
class StatusReport:
    """A delivery status notification about one of our notices."""

    status: str  # "5.1.1"
    permanent: bool
    action: str  # failed, delayed, delivered, relayed, expanded
    recipient: str
    diagnostic: str
    original_message_id: str | None = None

    @property
    def failed(self) -> bool:
        return self.action in ("failed", "delayed") or self.permanent


@dataclass(frozen=True)
class Sender:
    address: str | None  # None: no single From address (none, several, or unreadable)
    problems: list[str] = field(default_factory=list)


def notice_refs(
    message: Message,
    rcpt_tos: Sequence[str],
    domain: str,
    tag: Callable[[str], int | None] = lambda _: None,
) -> NoticeRefs:
    """What names the notice, in order: `In-Reply-To`, `References` (newest first), the plus
    tags of the envelope recipients that `tag` reads as a notice id, the subject's
    `[<message id>]`."""
    found: list[tuple[int, str | None]] = []
    headers = [str(message.get("In-Reply-To", ""))]
    references = _MESSAGE_ID_IN.findall(str(message.get("References", "")))
    for value in [*_MESSAGE_ID_IN.findall(headers[0]), *reversed(references)]:
        parsed = parse_notice_message_id(value, domain)
        if parsed is not None and (parsed[0], parsed[1]) not in found:
            found.append(parsed)
    for address in rcpt_tos:
        local = address.rpartition("@")[0]
        _, plus, text = local.partition("+")
        number = tag(text) if plus and text else None
        if number is not None and all(n != number for n, _ in found):
            found.append((number, None))
    subject_ids = tuple(dict.fromkeys(_SUBJECT_ID.findall(str(message.get("Subject", "")))))
    return NoticeRefs(tuple(found), subject_ids)


def sender(message: Message) -> Sender:
    """The one From address, lower-cased; a mail with none or several names no sender."""
    values = message.get_all("From") or []
    if len(values) != 1:
        return Sender(None, [f"{len(values)} From headers"])
    addresses = [a for _, a in getaddresses([str(values[0])]) if a]
    if len(addresses) != 1 or "@" not in addresses[0]:
        return Sender(None, ["no single From address"])
    return Sender(addresses[0].strip().lower())


def is_auto_reply(message: Message) -> bool:
    auto = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return True
    if str(message.get("Precedence", "")).strip().lower() in _AUTO_PRECEDENCE:
        return True
    return any(message.get(h) is not None for h in ("X-Autoreply", "X-Autorespond"))


def new_text_first_line(text: str) -> str | None:
    """The first non-empty line of what the sender wrote, above the quoted message."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(">") or _ATTRIBUTION.match(stripped):
            return None  # the quoted part begins: nothing new was written above it
        return stripped
    return None


def is_ack(first_line: str | None) -> bool:
    return first_line is not None and _ACK.match(first_line) is not None


def reply_text(message: EmailMessage) -> str:
    """The plain text of a reply: its text part, or its HTML part with the tags dropped."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = str(part.get_content())
    except (LookupError, ValueError, AttributeError):  # an unknown charset, a broken part
        return ""
    if part.get_content_subtype() == "html":
        content = re.sub(r"(?is)<(script|style|blockquote).*?</\1>", "\n", content)
        content = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", content)
        content = re.sub(r"<[^>]+>", "", content)
    return content


def status_report(message: Message) -> StatusReport | None:
    """The first failed recipient of a delivery status notification, None if it is not one."""
    if message.get_content_type() != "multipart/report":
        return None
    if str(message.get_param("report-type", "")).lower() != "delivery-status":
        return None
    blocks: list[Message] = []
    original: str | None = None
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            blocks += [p for p in _payloads(part) if isinstance(p, Message)]
        elif kind in ("message/rfc822", "text/rfc822-headers") and original is None:
            original = _original_message_id(part)
    for block in blocks:
        status = str(block.get("Status", "")).strip()
        if not status:
            continue
        action = str(block.get("Action", "")).strip().lower()
        return StatusReport(
            status=status.split()[0],
            permanent=status.startswith("5"),
            action=action,
            recipient=str(block.get("Final-Recipient", "")).partition(";")[2].strip(),
            diagnostic=" ".join(str(block.get("Diagnostic-Code", "")).split()),
            original_message_id=original,
        )
    return None


def _payloads(part: Message) -> Iterable[object]:
    payload = part.get_payload()
    return payload if isinstance(payload, list) else []


def _original_message_id(part: Message) -> str | None:
    if part.get_content_type() == "message/rfc822":
        inner = _payloads(part)
        for m in inner:
            if isinstance(m, Message) and m.get("Message-ID"):
                return str(m["Message-ID"]).strip()
        return None
    text = part.get_payload(decode=True)
    if not isinstance(text, bytes):
        return None
    found = re.search(rb"(?im)^message-id:\s*(<[^>]+>)", text)
    return found[1].decode("ascii", "replace") if found else None


_CHECKED_HEADERS = ("From", "Subject", "In-Reply-To", "References", "Content-Type")


def defects(message: EmailMessage) -> list[str]:
    """What is broken in the mail's structure or in the headers these rules read: a mail with
    any is refused rather than guessed at (it must never acknowledge)."""
    found: list[str] = []
    for part in message.walk():
        found += [type(d).__name__ for d in part.defects]
        for name in _CHECKED_HEADERS:
            for value in part.get_all(name) or []:
                found += [type(d).__name__ for d in getattr(value, "defects", ())]
        for name in ("In-Reply-To", "References"):
            value = str(part.get(name, "")).strip()
            if part is message and value and not _MESSAGE_ID_IN.search(value):
                found.append(f"{name} names no message id")
        charset = part.get_content_charset()
        if charset is not None and part.get_content_maintype() == "text":
            try:
                codecs.lookup(charset)
            except LookupError:
                found.append(f"unknown charset {charset!r}")
    return list(dict.fromkeys(found))

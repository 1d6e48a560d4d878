"""Mail that comes back to the reply address: acknowledgements, automatic answers, bounces.

`Replies.receive` takes one mail as the inbound listener got it and answers the SMTP
reply to give at DATA: `250` when it was recorded (or deliberately ignored), `550` when
it is refused, with the reason in words. What it records (rules in domain/replies.py):

- a reply from the registered address of a PoC that the message reached, naming the
  notice, whose first line of new text is an ACK word: `acknowledged` (`via: email`),
  answered with a short e-mail saying what was recorded;
- an automatic answer from such a PoC: `auto_reply` (reachable, not acknowledged),
  never answered;
- a delivery status notification for a notice: `delivery_failed`, and a permanent one
  escalates the country at once;
- any other reply from such a PoC: `reply_unparsed`, answered with help.

Refused (550, nothing recorded): mail that cannot be read, names no notice, names one
whose acknowledgement link would have expired, or comes from an address that is not a
PoC the message reached. An automatic answer or a bounce is never refused (that would
send mail back to a machine): it is accepted and dropped when it names nothing of ours.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr

from ians.channels.compose import REPORT_WORDS, answer
from ians.channels.email import EmailChannel
from ians.delivery import Notice, NoticeKind
from ians.domain.chase import Event, EventKind, Via
from ians.domain.contacts import PointOfContact
from ians.domain.messages import Message
from ians.domain.outbox import OutboxNotice, parse_notice_message_id
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
from ians.errors import IansError
from ians.links import ACK_VALID_AFTER_GIVE_UP
from ians.tracking import Tracker

log = logging.getLogger(__name__)

HELP = (
    "IANS could not read your e-mail as an acknowledgement.\n\n"
    "To acknowledge, reply to the notice with ACK (or OK, RECEIVED, REÇU, ПОЛУЧЕНО) on the"
    " first line, above the quoted text, or open the acknowledgement link in the notice"
    " and press Acknowledge.\n"
)


@dataclass(frozen=True)
class Target:
    """What a mail answers: a message (and the notice, when the mail names it), or, for
    a consultation's notice, only the notice."""

    message: Message | None
    notice: OutboxNotice | None

    @property
    def subject_id(self) -> str:
        if self.message is not None:
            return self.message.id
        assert self.notice is not None
        return self.notice.message_id


class Replies:
    def __init__(
        self,
        tracker: Tracker,
        email: EmailChannel,
        simulated: Callable[[str, str], bool] | None = None,
    ) -> None:
        """`simulated(message_id, country)`: whether IANS plays that country's PoCs for
        the message (their replies come from the simulated mailbox: marked simulated)."""
        self._simulated = simulated
        self._tracker = tracker
        self._store = tracker.store
        self._registry = tracker.registry
        self._clock = tracker.clock
        self._email = email
        self._domain = email.config.domain
        self._ours = {
            a.lower() for a in (email.config.reply_address.addr_spec, _address(email.config.sender))
        }
        self._answers: set[asyncio.Task[None]] = set()

    async def drain(self) -> None:
        """Wait for the answers being sent."""
        while self._answers:
            await asyncio.gather(*list(self._answers), return_exceptions=True)

    async def receive(self, mail_from: str, rcpt_tos: list[str], data: bytes) -> str:
        """Record what one inbound mail says; the SMTP answer to give at DATA. Never raises."""
        try:
            parsed = BytesParser(policy=policy.default).parsebytes(data)
        except Exception:  # the parser is lenient; anything it still cannot take is refused
            log.info("inbound mail from %s refused: not readable as MIME", mail_from)
            return "550 5.6.0 the message could not be read as MIME"
        assert isinstance(parsed, EmailMessage)
        try:
            broken = defects(parsed)
            if broken:
                log.info("inbound mail from %s refused: %s", mail_from, ", ".join(broken))
                return f"550 5.6.0 malformed message ({', '.join(broken[:3])})"
            return await self._receive(parsed, mail_from, rcpt_tos)
        except IansError as error:  # the store refused (closed, say): the sender tries again
            log.warning("inbound mail from %s not recorded: %s", mail_from, error.message)
            return "451 4.3.0 IANS could not record this message now; try again later"
        except Exception:  # a defect in a header or part that the rules did not expect
            log.exception("inbound mail from %s could not be read", mail_from)
            return "550 5.6.0 the message could not be read"

    async def _receive(self, mail: EmailMessage, mail_from: str, rcpt_tos: list[str]) -> str:
        refs = notice_refs(mail, rcpt_tos, self._domain, self._email.notice_of_tag)
        report = status_report(mail)
        if report is not None:
            notice = await self._notice(refs.notices, report.original_message_id)
            if notice is None or not report.failed:
                return "250 2.0.0 accepted and ignored: it reports on no IANS notice"
            escalations = await self._store.record_bounce(
                notice.id,
                self._clock.now(),
                f"{report.status} {report.diagnostic}".strip(),
                report.permanent,
            )
            self._dispatch(escalations)
            return "250 2.0.0 recorded: delivery_failed"
        automatic = is_auto_reply(mail) or mail_from in ("", "<>")
        who = sender(mail)
        if who.address in self._ours:
            return "250 2.0.0 accepted and ignored: IANS's own mail"
        target = await self._target(refs.notices, refs.message_ids)
        if target is None:
            if automatic:
                return "250 2.0.0 accepted and ignored: it answers no IANS notice"
            return (
                "550 5.7.1 this e-mail names no IANS notice: reply to the notice e-mail,"
                " keeping its subject"
            )
        if await self._expired(target):
            if automatic:
                return "250 2.0.0 accepted and ignored: the notice has expired"
            return f"550 5.7.1 the notice of {target.subject_id} has expired"
        poc = await self._poc(who.address, target)
        if poc is None:
            if automatic:
                return "250 2.0.0 accepted and ignored: not from a point of contact reached"
            return (
                f"550 5.7.1 the sender is not the registered address of a point of contact"
                f" that {target.subject_id} reached"
            )
        country = poc.country
        subject = str(mail.get("Subject", ""))[:200]
        if automatic:
            await self._record(EventKind.AUTO_REPLY, target, poc, {"subject": subject})
            return "250 2.0.0 recorded: auto_reply"
        first = new_text_first_line(reply_text(mail))
        their_id = str(mail.get("Message-ID", "")).strip() or None
        if target.message is not None and is_ack(first):
            try:
                played = self._simulated is not None and self._simulated(target.message.id, country)
                result = await self._tracker.acknowledge(
                    target.message.id, poc.id, simulated=played, via=Via.EMAIL
                )
            except IansError as refused:
                self._answer(
                    poc, who.address, subject, f"Not recorded: {refused.message}\n", their_id
                )
                return f"250 2.0.0 accepted, not recorded: {refused.message}"
            words = REPORT_WORDS[target.message.type].lower()
            at = f"{result.acknowledged_at:%Y-%m-%d %H:%M:%S} UTC"
            said = (
                f"{poc.id} ({country}) had already acknowledged the {words} {target.message.id}"
                f" at {at}; nothing more was recorded.\n"
                if result.repeated
                else f"IANS recorded the acknowledgement of the {words} {target.message.id} by"
                f" {poc.id} ({country}) at {at}.\n"
            )
            self._answer(poc, who.address, subject, said, their_id)
            return "250 2.0.0 recorded: acknowledged"
        await self._record(
            EventKind.REPLY_UNPARSED,
            target,
            poc,
            {"subject": subject, "first_line": (first or "")[:200]},
        )
        help_ = HELP
        if target.message is None:  # a consultation's notice: answered elsewhere
            url = f"{self._email.config.public_url}/api/consultations/{target.subject_id}"
            help_ = f"IANS does not take answers to a consultation by e-mail: answer at {url}\n"
        self._answer(poc, who.address, subject, help_, their_id)
        return "250 2.0.0 recorded: reply_unparsed"

    async def _notice(
        self, notices: tuple[tuple[int, str | None], ...], original: str | None
    ) -> OutboxNotice | None:
        candidates = list(notices)
        if original is not None:
            parsed = parse_notice_message_id(original, self._domain)
            if parsed is not None:
                candidates.insert(0, parsed)
        for notice_id, message_id in candidates:
            notice = await self._store.notice(notice_id)
            if notice is not None and message_id in (None, notice.message_id):
                return notice
        return None

    async def _target(
        self, notices: tuple[tuple[int, str | None], ...], message_ids: tuple[str, ...]
    ) -> Target | None:
        notice = await self._notice(notices, None)
        if notice is not None:
            return Target(await self._store.find_message(notice.message_id), notice)
        for message_id in message_ids:
            message = await self._store.find_message(message_id)
            if message is not None:
                return Target(message, None)
        return None

    async def _expired(self, target: Target) -> bool:
        if target.message is None:
            return False  # a consultation's notice: only ever answered with help
        policy_ = await self._store.message_policy(target.message.id)
        until = target.message.sent_at + policy_.give_up_after + ACK_VALID_AFTER_GIVE_UP
        return self._clock.now() >= until

    async def _poc(self, address: str | None, target: Target) -> PointOfContact | None:
        """The PoC with this registered address that the message (or notice) reached."""
        if address is None:
            return None
        matching = [p for p in self._registry.pocs.values() if (p.email or "").lower() == address]
        if target.message is None:
            assert target.notice is not None
            return next((p for p in matching if p.id == target.notice.poc), None)
        reached = {d.poc for d in await self._store.deliveries(target.message.id)}
        if target.notice is not None and target.notice.poc in reached:
            first = [p for p in matching if p.id == target.notice.poc]
            matching = first + [p for p in matching if p.id != target.notice.poc]
        return next((p for p in matching if p.id in reached), None)

    async def _record(
        self, kind: EventKind, target: Target, poc: PointOfContact, detail: dict[str, object]
    ) -> None:
        now = self._clock.now()
        event = Event(
            now, kind, target.subject_id, poc.country, poc.id, None, {"channel": "email", **detail}
        )
        await self._store.record_events([event])

    def _dispatch(self, escalations: list[Event]) -> None:
        self._tracker.dispatcher.submit(
            [
                Notice(NoticeKind.MESSAGE, e.message_id, e.poc, e.country or "", e.at)
                for e in escalations
                if e.poc is not None
            ]
        )

    def _answer(
        self, poc: PointOfContact, to: str | None, subject: str, text: str, in_reply_to: str | None
    ) -> None:
        """Send a short answer in the background (once: a lost answer is not retried)."""
        if to is None:
            return
        config = self._email.config
        data = answer(
            config.sender,
            to,
            subject if subject.lower().startswith("re:") else f"Re: {subject}",
            text,
            message_id=f"<a{secrets.token_hex(10)}@{self._domain}>",
            in_reply_to=in_reply_to,
            now=self._clock.now(),
        )

        async def send() -> None:
            said = await self._email.sender.send("", [to], data)  # null sender: no loops
            if not said.delivered:
                log.warning("the answer to %s (%s) was not sent: %s", poc.id, to, said.text)

        task = asyncio.create_task(send())
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)


def _address(value: str) -> str:
    return parseaddr(value)[1]

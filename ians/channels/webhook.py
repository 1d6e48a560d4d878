"""The webhook channel: a stored notice becomes a signed POST to the PoC's registered URL.

The body is JSON (`{"type", "timestamp", "data": {"message", "ack_url"}}`) or, for a PoC
with `webhook_format: cap`, the message as a CAP 1.2 alert; it is signed as Standard
Webhooks sign (ians/domain/webhooks.py) with the PoC's secret, issued by the admin. Only
the URL the registry names is called: one shared aiohttp session, no proxy from the
environment, no redirect followed, the `delivery.timeout` for the whole exchange.
2xx is delivered; 410 switches the PoC's webhook off; 429, 5xx, a timeout or a refused
connection is tried again (after `Retry-After` when given); any other answer is final.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import BytesPayload
from yarl import URL

from ians.cap import MEDIA_TYPE as CAP_MEDIA_TYPE
from ians.cap import message_cap
from ians.channels.email import ConsultationInfo
from ians.channels.renderings import Renderings
from ians.clock import Clock
from ians.domain.chase import Via
from ians.domain.contacts import Registry, WebhookFormat
from ians.domain.outbox import Answer, OutboxNotice
from ians.domain.webhooks import (
    Outcome,
    new_secret,
    outcome,
    retry_after,
    secret_key,
    signed_headers,
    webhook_id,
)
from ians.errors import Conflict
from ians.links import Links
from ians.store import Store
from ians.web.views import MessageOut

log = logging.getLogger(__name__)

CONNECTIONS = 64  # open connections the channel keeps to all receivers together
_ANSWER_BYTES = 200  # of a receiver's answer, kept with the attempt
JSON_MEDIA_TYPE = "application/json"
ACK_URL_HEADER = "IANS-Ack-URL"  # beside a CAP body, which has no place for it


class Prepared:
    """What every notice of one message (or consultation) shares: the parts of its body."""

    __slots__ = ("cap", "give_up_at", "heads", "kind", "message")

    def __init__(
        self, kind: str, message: bytes, cap: bytes | None, give_up_at: datetime | None
    ) -> None:
        self.kind = kind  # "message" or "consultation"
        self.message = message  # the `data` member as JSON text, without `ack_url`
        self.cap = cap
        self.give_up_at = give_up_at
        self.heads: dict[datetime, bytes] = {}  # the body's start, by the notices' time


class WebhookChannel:
    name = "webhook"

    def __init__(
        self,
        store: Store,
        registry: Registry,
        clock: Clock,
        links: Links,
        consultation: ConsultationInfo,
        timeout: timedelta,
    ) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        self._links = links
        self._consultation = consultation
        self._timeout = aiohttp.ClientTimeout(total=timeout.total_seconds())
        self._keys: dict[str, bytes] = {}
        self._urls: dict[str, URL] = {}  # each registry URL parsed once, not per request
        self.issued_at: dict[str, datetime] = {}
        self.disabled_at: dict[str, datetime] = {}
        self._session: aiohttp.ClientSession | None = None
        # at most CONNECTIONS requests at once, each signed as it gets its connection (the
        # outbox attempts no more than that at a time; this keeps it so if that changes)
        self._slots = asyncio.Semaphore(CONNECTIONS)
        self._rendered = Renderings(self._render)  # a message's body, once for its notices

    async def load(self) -> list[str]:
        """Read the secrets and the switched-off webhooks; the PoCs to queue notices for
        (a webhook in the registry, a secret, not switched off)."""
        secrets = await self._store.webhook_secrets()
        self._keys = {poc: secret_key(secret) for poc, (secret, _) in secrets.items()}
        self.issued_at = {poc: at for poc, (_, at) in secrets.items()}
        disabled = await self._store.disabled_channels()
        self.disabled_at = {
            poc: at for (poc, channel), at in disabled.items() if channel == self.name
        }
        on = []
        for poc in self._registry.pocs.values():
            if poc.webhook is None:
                continue
            if poc.id not in self._keys:
                log.warning(
                    "%s has a webhook but no secret: nothing is sent to it until the admin"
                    " issues one (POST /api/pocs/%s/webhook-secret)",
                    poc.id,
                    poc.id,
                )
            elif poc.id in self.disabled_at:
                log.warning("the webhook of %s is off since it answered 410", poc.id)
            else:
                on.append(poc.id)
        return on

    async def issue_secret(self, poc_id: str) -> str:
        """A new signing secret for the PoC's webhook, which replaces the old one and
        switches the webhook (back) on. Raises UnknownPointOfContact, or Conflict when the
        registry gives the PoC no webhook."""
        poc = self._registry.poc(poc_id)
        if poc.webhook is None:
            raise Conflict(f"{poc_id} has no webhook in the registry: add `webhook: <URL>` first")
        secret = new_secret()
        now = self._clock.now()
        await self._store.set_webhook_secret(poc_id, secret, now)
        self._keys[poc_id] = secret_key(secret)
        self.issued_at[poc_id] = now
        self.disabled_at.pop(poc_id, None)
        return secret

    async def deliver(self, notice: OutboxNotice) -> Answer:
        poc = self._registry.pocs.get(notice.poc)
        if poc is None or poc.webhook is None:
            return Answer(False, f"{notice.poc} has no webhook in the registry", True)
        key = self._keys.get(poc.id)
        if key is None:
            return Answer(False, f"{poc.id} has no webhook secret", True)
        if poc.id in self.disabled_at:
            return Answer(False, f"the webhook of {poc.id} is off (it answered 410)", True)
        prepared = await self._rendered.of(notice)
        link = None
        if prepared.give_up_at is not None:
            link = self._links.ack_url(notice.message_id, poc.id, prepared.give_up_at, Via.WEBHOOK)
        headers: dict[str, str]
        if prepared.cap is not None and poc.webhook_format is WebhookFormat.CAP:
            body = prepared.cap
            headers = {"Content-Type": CAP_MEDIA_TYPE}
            if link is not None:
                headers[ACK_URL_HEADER] = link
        else:
            body = _json_body(notice, prepared, link)
            headers = {"Content-Type": JSON_MEDIA_TYPE}
        url = self._urls.get(poc.webhook)
        if url is None:
            url = self._urls[poc.webhook] = URL(poc.webhook)
        answer = await self._post(url, body, headers, key, notice)
        if answer.gone:
            self.disabled_at.setdefault(poc.id, self._clock.now())
        return answer

    async def idle(self) -> None:
        """Connections stay open when the outbox is idle: the next notice reuses them."""

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _post(
        self, url: URL, body: bytes, headers: dict[str, str], key: bytes, notice: OutboxNotice
    ) -> Answer:
        """POST the body, signed once a connection is free (the attempt's time)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=CONNECTIONS),
                trust_env=False,  # only the registry's URL: no proxy from the environment
                headers={"User-Agent": "IANS webhook"},
            )
        msg_id = webhook_id(notice.id, notice.message_id)
        try:
            async with self._slots:
                now = self._clock.now()
                headers |= signed_headers(key, msg_id, now, body)
                async with self._session.post(
                    url, data=BytesPayload(body), headers=headers, allow_redirects=False
                ) as response:
                    said = await response.content.read(_ANSWER_BYTES)
                status = response.status
                text = f"{status} {response.reason or ''}".rstrip()
                said_text = said.decode("utf-8", "replace").strip()
                if said_text:
                    text = f"{text}: {' '.join(said_text.split())}"
                wait = retry_after(response.headers.get("Retry-After"), now)
        except TimeoutError:
            seconds = self._timeout.total or 0
            return Answer(False, f"{url} did not answer within {seconds:g}s")
        except (aiohttp.ClientError, OSError) as exc:
            return Answer(False, f"{url}: {exc.__class__.__name__}: {exc}".rstrip(": "))
        result = outcome(status)
        if result is Outcome.DELIVERED:
            return Answer(True, text)
        if result is Outcome.GONE:
            return Answer(False, text, True, gone=True)
        if result is Outcome.TEMPORARY:
            return Answer(False, text, retry_after=wait)
        if 300 <= status < 400:
            text += " (redirects are not followed: register the URL it points to)"
        return Answer(False, text, True)

    async def _render(self, message_id: str, reminder: bool) -> Prepared:
        message = await self._store.find_message(message_id)
        if message is None:  # a consultation's invitation or reminder
            name, deadline = await self._consultation(message_id)
            data = {
                "consultation": {
                    "id": message_id,
                    "name": name,
                    "deadline": _utc(deadline),
                    "url": f"{self._links.public_url}/api/consultations/{message_id}",
                },
                "reminder": reminder,
            }
            return Prepared("consultation", _dumps(data)[:-1], None, None)
        policy = await self._store.message_policy(message.id)
        out = MessageOut.of(message)
        as_json = out.__pydantic_serializer__.to_json(out, by_alias=True)
        cap = await message_cap(self._store, self._registry, message)
        return Prepared(
            "reminder" if reminder else "message",
            b'{"message":' + as_json,
            cap,
            message.sent_at + policy.give_up_after,
        )


def _json_body(notice: OutboxNotice, prepared: Prepared, link: str | None) -> bytes:
    head = prepared.heads.get(notice.created_at)
    if head is None:
        head = _dumps({"type": prepared.kind, "timestamp": _utc(notice.created_at)})[:-1]
        if len(prepared.heads) < 16:  # a message's notices share a few times (escalations)
            prepared.heads[notice.created_at] = head
    if prepared.kind == "consultation":
        return b"".join((head, b',"data":', prepared.message, b"}}"))
    return b"".join((head, b',"data":', prepared.message, b',"ack_url":', _dumps(link), b"}}"))


_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
"""As json.dumps with these options, without building an encoder per notice."""


def _dumps(value: object) -> bytes:
    return _json(value).encode()


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")

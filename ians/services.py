"""The running parts of IANS, assembled in one place for the server and the CLI."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from ians.cap import MEDIA_TYPE, message_cap
from ians.channels.compose import Attachment, Attachments
from ians.channels.config import ChannelsConfig, resolve_channels
from ians.channels.email import EmailChannel
from ians.channels.inbound import ReplyHandler, listen, port_of
from ians.channels.simulated import SimulatedMailbox
from ians.channels.webhook import WebhookChannel
from ians.clock import Clock, SystemClock
from ians.consultations import Consultations
from ians.delivery import Channel, Dispatcher
from ians.domain.contacts import Registry
from ians.domain.messages import Message
from ians.domain.policy import PolicyTable
from ians.errors import IansError
from ians.exercises import Exercises, SimulatedPocChannel
from ians.links import Links
from ians.nodes import Nodes
from ians.outbox import ExternalChannel, Outbox
from ians.replies import Replies
from ians.scheduler import TimerWheel
from ians.settings import Settings, load_settings_file
from ians.signin import SignIn
from ians.store import Store
from ians.store.backends import open_store
from ians.store.postgres import DEFAULT_LEASE, PostgresStore
from ians.tokens import Tokens
from ians.tracking import Tracker

log = logging.getLogger(__name__)


@dataclass
class AppConfig:
    """What the services need; `clock` and `run_timers` let tests drive time themselves."""

    registry: Registry
    db: str
    admin_token: str | None = None
    policies: PolicyTable = field(default_factory=PolicyTable)
    clock: Clock = field(default_factory=SystemClock)
    channels: list[Channel] = field(default_factory=list)  # beside the inbox
    run_timers: bool = True
    synchronous: str = "FULL"
    lease: timedelta = DEFAULT_LEASE  # on PostgreSQL: how long a claim outlives its node
    body_timeout: float = 15.0
    delivery: ChannelsConfig = field(
        default_factory=lambda: ChannelsConfig("http://127.0.0.1:8080", (), timedelta(seconds=15))
    )
    link_key: str | None = None  # signs acknowledgement links; stored in the database if None
    attachments: Attachments | None = None  # added to notice e-mails; None: the CAP alert

    @classmethod
    def from_settings(cls, settings: Settings, registry: Registry) -> AppConfig:
        """The configuration that `settings` (variables, flags, settings file) describe."""
        token = settings.admin_token
        file = load_settings_file(settings.settings_file)
        link_key = settings.link_key
        return cls(
            registry=registry,
            db=settings.db,
            lease=timedelta(seconds=settings.lease),
            admin_token=token.get_secret_value() if token is not None else None,
            policies=PolicyTable(overrides=file.policies),
            synchronous=settings.synchronous,
            body_timeout=settings.body_timeout,
            delivery=resolve_channels(settings, file),
            link_key=link_key.get_secret_value() if link_key is not None else None,
        )


@dataclass
class Services:
    tracker: Tracker
    exercises: Exercises
    consultations: Consultations
    tokens: Tokens
    links: Links
    outbox: Outbox | None = None  # None when no external channel is on
    email: EmailChannel | None = None
    replies: Replies | None = None  # None when the inbound listener is off
    inbound_port: int | None = None
    signin: SignIn | None = None
    nodes: Nodes | None = None  # on PostgreSQL: the timers and news shared with other nodes
    webhooks: WebhookChannel | None = None  # None when no PoC has a webhook


@asynccontextmanager
async def open_services(config: AppConfig) -> AsyncIterator[Services]:
    """Open the store, take up what was pending in it, and start the timers.

    On exit: timers stop, pending deliveries finish, the store closes.
    """
    store = await open_store(config.db, synchronous=config.synchronous, lease=config.lease)
    listener: asyncio.Server | None = None
    replies: Replies | None = None
    outbox: Outbox | None = None
    mailbox: SimulatedMailbox | None = None
    signin: SignIn | None = None
    nodes: Nodes | None = None
    timers = TimerWheel(config.clock)
    dispatcher = Dispatcher(store, config.registry, config.clock, config.channels)
    try:
        tracker = Tracker(store, config.registry, config.clock, timers, dispatcher, config.policies)
        tokens = Tokens(store, config.registry, config.clock)
        generated = await tokens.load(config.admin_token)
        if generated is not None:
            # on stderr: stdout may be a report (`ians drill … > report.json`)
            print(f"IANS admin token (shown once, stored hashed): {generated}", file=sys.stderr)
        consultations = Consultations(store, dispatcher, timers, config.registry, config.clock)
        exercises = Exercises(tracker, config.policies, consultations)
        dispatcher.add_channel(SimulatedPocChannel(exercises))
        links = await Links.load(config.link_key, config.delivery.public_url, tracker)
        email, webhooks, outbox = await _external_channels(
            config, store, timers, dispatcher, links, consultations
        )
        armed = await tracker.recover()
        running = 0
        if not store.shared:  # on a shared store the nodes divide them (ians/nodes.py)
            running = await exercises.recover() + await consultations.recover()
        if outbox is not None:
            await outbox.recover()
        if isinstance(store, PostgresStore):
            nodes = Nodes(
                store,
                config.clock,
                timers,
                tracker,
                outbox,
                tokens=tokens,
                exercises=exercises,
                consultations=consultations,
            )
            await nodes.start()
        replies, listener = await _inbound(email, tracker, exercises.simulates)
        signin = SignIn(links, config.registry, config.clock, email)
        if email is not None and listener is not None:
            mailbox = SimulatedMailbox(
                store, config.registry, config.clock, email, port_of(listener)
            )
            exercises.reply_by_email = mailbox.reply
        # the registry's models and the armed timers live as long as the server: keep the
        # collector from walking them again and again (full collections took seconds)
        gc.collect()
        gc.freeze()
        timers.start(AsyncIOScheduler(timezone="UTC") if config.run_timers else None)
        log.info(
            "IANS ready: %d countries, %d timers armed, %d exercises running",
            len(config.registry),
            armed,
            running,
        )
        yield Services(
            tracker,
            exercises,
            consultations,
            tokens,
            links,
            outbox,
            email,
            replies,
            port_of(listener) if listener is not None else None,
            signin,
            nodes,
            webhooks,
        )
    finally:
        if nodes is not None:
            await nodes.close()
        if mailbox is not None:
            await mailbox.sender.close()
        if signin is not None:
            await signin.drain()
        if listener is not None:
            listener.close()
            await listener.wait_closed()
        if replies is not None:
            await replies.drain()
        timers.shutdown()
        await dispatcher.drain()
        if outbox is not None:
            await outbox.close()
        await store.close()


async def _inbound(
    email: EmailChannel | None, tracker: Tracker, simulated: Callable[[str, str], bool]
) -> tuple[Replies | None, asyncio.Server | None]:
    """The SMTP listener for replies, when `email.inbound` is set."""
    if email is None or email.config.inbound is None:
        return None, None
    replies = Replies(tracker, email, simulated)
    settings = email.config.inbound
    try:
        listener = await listen(ReplyHandler(replies, email.config), settings)
    except OSError as exc:
        raise IansError(
            f"cannot listen for replies on {settings.host}:{settings.port}: {exc.strerror}"
        ) from None
    log.info("listening for replies on %s:%d (SMTP)", settings.host, port_of(listener))
    return replies, listener


async def _external_channels(
    config: AppConfig,
    store: Store,
    timers: TimerWheel,
    dispatcher: Dispatcher,
    links: Links,
    consultations: Consultations,
) -> tuple[EmailChannel | None, WebhookChannel | None, Outbox | None]:
    """The e-mail channel (when SMTP settings are given), the webhook channel (when a PoC
    has a webhook) and the outbox of both (when either is on); says so once."""

    async def consultation(consultation_id: str) -> tuple[str, datetime]:
        opened = await consultations.get(consultation_id)
        return opened.record.name, opened.deadline

    pairs: list[tuple[str, str]] = []
    channels: list[ExternalChannel] = []
    email = None
    settings = config.delivery.email
    if settings is None:
        log.info("e-mail is off: no SMTP settings (email.smtp.host, IANS_SMTP_HOST)")
    else:
        attachments = config.attachments or cap_attachment(store, config.registry)
        email = EmailChannel(
            settings, store, config.registry, config.clock, links, consultation, attachments
        )
        pairs += [(p.id, email.name) for p in config.registry.pocs.values() if p.email]
        channels.append(email)
        log.info(
            "e-mail is on: via %s:%d as %s, replies to %s",
            settings.smtp_host,
            settings.smtp_port,
            settings.sender,
            settings.reply_to,
        )
    webhooks = None
    if any(p.webhook for p in config.registry.pocs.values()):
        webhooks = WebhookChannel(
            store, config.registry, config.clock, links, consultation, config.delivery.timeout
        )
        on = await webhooks.load()
        pairs += [(poc, webhooks.name) for poc in on]
        channels.append(webhooks)
        log.info("webhooks are on: %d PoCs with a secret", len(on))
    await store.set_channels(pairs)
    if not channels:
        return None, None, None
    outbox = Outbox(store, config.clock, timers, dispatcher, channels, config.delivery.retries)
    return email, webhooks, outbox


def cap_attachment(store: Store, registry: Registry) -> Attachments:
    """Every message's e-mail carries the message as a CAP 1.2 alert, `<id>.cap.xml`."""

    async def attach(message: Message) -> list[Attachment]:
        data = await message_cap(store, registry, message)
        return [Attachment(f"{message.id}.cap.xml", MEDIA_TYPE, data)]

    return attach

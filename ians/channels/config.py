"""The settings of the external channels, as the settings file writes them, and the one
configuration they resolve to with the `IANS_*` variables and the flags over them."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from email.headerregistry import Address
from email.utils import parseaddr
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ians.domain.durations import Duration, parse_duration
from ians.errors import InvalidInput

if TYPE_CHECKING:
    from ians.settings import Settings, SettingsFile

MAX_INBOUND = 1024 * 1024
"""Inbound mail over this size is refused at DATA: replies are a few lines."""


class SmtpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str | None = None
    port: int = Field(25, ge=1, le=65535)
    starttls: bool = False
    username: str | None = None
    connections: int = Field(4, ge=1, le=64)  # SMTP sessions a burst of notices shares


class InboundSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(2525, ge=0, le=65535)  # 0: any free port (tests)
    max_size: int = Field(MAX_INBOUND, ge=1024)


class EmailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    from_: str | None = Field(None, alias="from")
    reply_to: str | None = None
    inbound: InboundSettings | None = None

    @field_validator("from_", "reply_to")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and "@" not in parseaddr(value)[1]:
            raise ValueError(f"{value!r} is not an e-mail address")
        return value


class DeliverySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retries: tuple[Duration, ...] = tuple(
        parse_duration(d) for d in ("10s", "1m", "5m", "30m", "2h")
    )
    timeout: Duration = timedelta(seconds=15)


@dataclass(frozen=True)
class EmailConfig:
    """E-mail, on: where to send it, as whom, where replies come in."""

    smtp_host: str
    smtp_port: int
    starttls: bool
    username: str | None
    password: str | None
    connections: int
    sender: str  # the From header
    reply_to: str  # an address; replies may come to its plus-addressed forms
    inbound: InboundSettings | None
    public_url: str
    timeout: timedelta

    @functools.cached_property
    def domain(self) -> str:
        """The domain of the sender's address: the right-hand side of every Message-ID."""
        return parseaddr(self.sender)[1].rpartition("@")[2].lower()

    @functools.cached_property
    def reply_address(self) -> Address:
        local, _, domain = parseaddr(self.reply_to)[1].partition("@")
        return Address(username=local, domain=domain)


@dataclass(frozen=True)
class ChannelsConfig:
    """Every external channel's configuration; `email` is None when e-mail is off."""

    public_url: str
    retries: tuple[timedelta, ...]
    timeout: timedelta
    email: EmailConfig | None = None


def resolve_channels(settings: Settings, file: SettingsFile) -> ChannelsConfig:
    """The channels' configuration: the settings file, with variables and flags over it.

    Raises InvalidInput naming the variable or key for a bad value.
    """
    public_url = (
        settings.public_url or file.public_url or f"http://{settings.host}:{settings.port}"
    ).rstrip("/")
    retries = file.delivery.retries
    if settings.delivery_retries is not None:
        try:
            retries = tuple(
                parse_duration(p.strip()) for p in settings.delivery_retries.split(",") if p
            )
        except ValueError as exc:
            raise InvalidInput.at("IANS_DELIVERY_RETRIES", str(exc)) from None
    timeout = file.delivery.timeout
    if settings.delivery_timeout is not None:
        try:
            timeout = parse_duration(settings.delivery_timeout)
        except ValueError as exc:
            raise InvalidInput.at("IANS_DELIVERY_TIMEOUT", str(exc)) from None
    base = ChannelsConfig(public_url, retries, timeout)
    email = file.email or EmailSettings()
    host = settings.smtp_host or email.smtp.host
    if not host:
        return base
    sender = settings.email_from or email.from_
    if sender is None:
        raise InvalidInput.at("email.from", "e-mail needs a From address (IANS_EMAIL_FROM)")
    reply_to = settings.email_reply_to or email.reply_to or parseaddr(sender)[1]
    inbound = email.inbound
    given = {
        "host": settings.inbound_host,
        "port": settings.inbound_port,
        "max_size": settings.inbound_max_size,
    }
    if any(v is not None for v in given.values()):
        inbound = InboundSettings.model_validate(
            {
                **(inbound or InboundSettings()).model_dump(),
                **{k: v for k, v in given.items() if v is not None},
            }
        )
    password = settings.smtp_password
    return ChannelsConfig(
        public_url,
        retries,
        timeout,
        EmailConfig(
            smtp_host=host,
            smtp_port=settings.smtp_port or email.smtp.port,
            starttls=email.smtp.starttls
            if settings.smtp_starttls is None
            else settings.smtp_starttls,
            username=settings.smtp_username or email.smtp.username,
            password=password.get_secret_value() if password is not None else None,
            connections=settings.smtp_connections or email.smtp.connections,
            sender=sender,
            reply_to=reply_to,
            inbound=inbound,
            public_url=public_url,
            timeout=timeout,
        ),
    )

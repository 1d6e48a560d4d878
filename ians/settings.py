"""Server settings: environment variables (`IANS_*`), command-line flags, a settings file.

The optional settings file (YAML, `IANS_SETTINGS_FILE` or `--settings`) holds the
acknowledgement policies and the delivery channels:

    policies:
      default: {ack_within: 30m}
      test: {give_up_after: 2h}                  # every message in test mode
      assistance_request: {respond_within: 1h}   # one type, any mode
      exercise/early_warning: {reminders: [5m, 10m]}
    public_url: https://ians.example.org
    email:
      smtp: {host: 127.0.0.1, port: 25, starttls: false, username: null}
      from: "IAN System <ians@secretariat.example>"
      reply_to: ack@secretariat.example
      inbound: {host: 127.0.0.1, port: 2525}
    delivery: {retries: [10s, 1m, 5m, 30m, 2h], timeout: 15s}

Each key of `email`, `delivery` and `public_url` is also a variable and a flag
(`smtp.host`: `IANS_SMTP_HOST`, `--smtp-host`; `email.from`: `IANS_EMAIL_FROM`,
`--email-from`; `delivery.retries`: `IANS_DELIVERY_RETRIES=10s,1m`, ...): a flag wins
over a variable, a variable over the file. The SMTP password is only a variable,
`IANS_SMTP_PASSWORD`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ians.channels.config import DeliverySettings, EmailSettings
from ians.domain.messages import MessageType, Mode
from ians.domain.policy import PolicyOverride, PolicyTable
from ians.errors import FileError, Problem
from ians.files import line_of, load_yaml_file, validate

ADMIN_TOKEN_MIN = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IANS_", extra="ignore")

    db: str = "ians.db"  # a SQLite file, or a postgresql:// URL (several nodes share it)
    lease: float = Field(default=10.0, gt=0, le=3600)  # seconds a node's claims outlive it
    contacts: list[Path] = Field(default_factory=lambda: [Path("contacts")])
    host: str = "127.0.0.1"
    port: int = 8080
    admin_token: SecretStr | None = None
    settings_file: Path | None = None
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    # seconds: an idle connection (also one whose request headers are not all in) is closed
    keepalive_timeout: float = Field(default=15.0, gt=0, le=3600)
    # seconds a request body may take after its headers (408 and the connection closed)
    body_timeout: float = Field(default=15.0, gt=0, le=3600)
    # the delivery channels: each overrides the settings file's key of the same name
    public_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_starttls: bool | None = None
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_connections: int | None = None
    email_from: str | None = None
    email_reply_to: str | None = None
    inbound_host: str | None = None
    inbound_port: int | None = None
    inbound_max_size: int | None = None
    delivery_retries: str | None = None  # "10s,1m,5m"
    delivery_timeout: str | None = None
    link_key: SecretStr | None = None  # signs acknowledgement links; generated if absent

    @field_validator("admin_token")
    @classmethod
    def _long_enough(cls, token: SecretStr | None) -> SecretStr | None:
        # the secretariat's token opens everything: refuse one that can be guessed
        if token is not None and len(token.get_secret_value()) < ADMIN_TOKEN_MIN:
            raise ValueError(
                f"the admin token must be at least {ADMIN_TOKEN_MIN} characters"
                f" (it has {len(token.get_secret_value())}); unset it to have one generated"
            )
        return token


class SettingsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policies: dict[str, PolicyOverride] = Field(default_factory=dict)
    public_url: str | None = None
    email: EmailSettings | None = None
    delivery: DeliverySettings = Field(default_factory=lambda: DeliverySettings())


_POLICY_KEYS = (
    {"default"}
    | {m.value for m in Mode}
    | {t.value for t in MessageType}
    | {f"{m.value}/{t.value}" for m in Mode for t in MessageType}
)


def load_settings_file(path: Path | None) -> SettingsFile:
    """The settings file (defaults without one). Raises FileError naming line and field."""
    if path is None:
        return SettingsFile()
    data = load_yaml_file(path)
    parsed = validate(SettingsFile, data if data is not None else {}, str(path))
    problems = [
        Problem(
            str(path),
            line_of(data, ["policies", key]),
            f"policies.{key}",
            "not a policy key: use default, a mode, a message type or mode/type",
        )
        for key in parsed.policies
        if key not in _POLICY_KEYS
    ]
    if problems:
        raise FileError(problems)
    return parsed


def load_policy_table(path: Path | None) -> PolicyTable:
    """The policies of a settings file (defaults without one). Raises FileError."""
    return PolicyTable(overrides=load_settings_file(path).policies)

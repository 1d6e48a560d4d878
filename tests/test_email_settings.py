"""E-mail settings: the settings file, with `IANS_*` variables and flags over it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from ians.channels.config import ChannelsConfig, resolve_channels
from ians.cli import _parser, _settings
from ians.errors import FileError, InvalidInput
from ians.settings import Settings, load_settings_file

FILE = """\
public_url: https://ians.example.org/
email:
  smtp: {host: relay.example.org, port: 587, starttls: true, username: ians}
  from: "IAN System <ians@secretariat.example>"
  reply_to: ack@secretariat.example
  inbound: {host: 0.0.0.0, port: 2525}
delivery:
  retries: [5s, 1m]
  timeout: 20s
"""


def _resolved(tmp_path: Path, argv: Sequence[str] = ()) -> ChannelsConfig:
    path = tmp_path / "settings.yaml"
    path.write_text(FILE)
    args = _parser().parse_args(["serve", "--settings", str(path), *argv])
    settings = _settings(args, host=args.host, port=args.port)
    return resolve_channels(settings, load_settings_file(settings.settings_file))


def test_the_settings_file_turns_e_mail_on(tmp_path: Path) -> None:
    channels = _resolved(tmp_path)
    assert channels.public_url == "https://ians.example.org"
    assert channels.retries == (timedelta(seconds=5), timedelta(minutes=1))
    email = channels.email
    assert email is not None and email.inbound is not None
    assert (email.smtp_host, email.smtp_port, email.starttls, email.username) == (
        "relay.example.org",
        587,
        True,
        "ians",
    )
    assert email.domain == "secretariat.example"
    assert (email.inbound.host, email.inbound.port) == ("0.0.0.0", 2525)
    assert email.timeout == timedelta(seconds=20)


def test_variables_override_the_file_and_flags_override_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IANS_SMTP_HOST", "from-variable.example.org")
    monkeypatch.setenv("IANS_SMTP_PORT", "2526")
    monkeypatch.setenv("IANS_SMTP_PASSWORD", "s3cret")
    monkeypatch.setenv("IANS_DELIVERY_RETRIES", "1s,2s,3s")
    email = _resolved(tmp_path).email
    assert email is not None
    assert (email.smtp_host, email.smtp_port, email.password) == (
        "from-variable.example.org",
        2526,
        "s3cret",
    )
    flagged = _resolved(
        tmp_path,
        [
            *("--smtp-host", "from-flag.example.org", "--no-smtp-starttls"),
            *("--inbound-port", "25", "--inbound-max-size", "4096", "--smtp-connections", "8"),
        ],
    )
    assert flagged.email is not None and flagged.email.inbound is not None
    assert flagged.email.smtp_host == "from-flag.example.org"
    assert flagged.email.starttls is False
    assert flagged.email.inbound.port == 25
    assert flagged.email.inbound.max_size == 4096
    assert flagged.email.inbound.host == "0.0.0.0"  # the file's, under the flag's port
    assert flagged.email.connections == 8
    assert len(flagged.retries) == 3


def test_without_an_smtp_host_e_mail_is_off() -> None:
    channels = resolve_channels(Settings(), load_settings_file(None))
    assert channels.email is None
    assert channels.public_url == "http://127.0.0.1:8080"


def test_e_mail_without_a_from_address_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInput, match=r"email\.from"):
        resolve_channels(Settings(smtp_host="relay"), load_settings_file(None))


def test_bad_retries_in_a_variable_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IANS_DELIVERY_RETRIES", "10s,soon")
    with pytest.raises(InvalidInput, match="IANS_DELIVERY_RETRIES"):
        resolve_channels(Settings(), load_settings_file(None))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("email: {smtp: {port: 0}}\n", "email.smtp.port"),
        ("email: {from: nobody}\n", "email.from"),
        ("email: {smpt: {}}\n", "email.smpt"),
        ("delivery: {retries: [10s, soon]}\n", "delivery.retries[1]"),
    ],
)
def test_a_bad_e_mail_setting_names_its_line_and_field(
    tmp_path: Path, text: str, where: str
) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    with pytest.raises(FileError) as caught:
        load_settings_file(path)
    assert caught.value.problems[0].field == where
    assert caught.value.problems[0].line == 1

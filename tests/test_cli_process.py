"""The `ians` process as a user meets it: a port in use, a weak admin token, `| head`, help."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ians.cli import _parser, main
from ians.settings import Settings

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 60  # seconds; each process here ends in about one


def _ians(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ians", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port that a socket of this test listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    "command",
    [["serve"], ["drill", "scenarios/connectivity-test.yaml", "--speed", "60"]],
    ids=["serve", "drill"],
)
def test_a_port_in_use_is_one_line_before_the_database_is_touched(
    tmp_path: Path, taken_port: int, command: list[str]
) -> None:
    db = tmp_path / "ians.db"
    done = _ians(*command, "--host", "127.0.0.1", "--port", str(taken_port), "--db", str(db))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: port {taken_port} on 127.0.0.1 is already in use (another server listens"
        " there): choose another with --port or IANS_PORT"
    ]
    assert "IANS ready" not in done.stdout + done.stderr
    assert not db.exists()


def test_an_unknown_host_is_one_line(tmp_path: Path) -> None:
    done = _ians("serve", "--host", "no-such-host.invalid", "--db", str(tmp_path / "ians.db"))
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot listen on no-such-host.invalid:8080: unknown host")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "ians.db").exists()


@pytest.mark.parametrize("token", ["", "secret", "x" * 15])
def test_a_short_admin_token_is_refused_before_the_database_is_touched(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    token: str,
) -> None:
    monkeypatch.setenv("IANS_ADMIN_TOKEN", token)
    db = tmp_path / "ians.db"
    assert main(["serve", "--db", str(db), "--contacts", str(REPO / "contacts")]) == 1
    assert capsys.readouterr().err == (
        "error: IANS_ADMIN_TOKEN: the admin token must be at least 16 characters"
        f" (it has {len(token)}); unset it to have one generated\n"
    )
    assert not db.exists()


def test_an_admin_token_of_16_characters_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IANS_ADMIN_TOKEN", "x" * 16)
    token = Settings().admin_token
    assert token is not None and token.get_secret_value() == "x" * 16


@pytest.mark.parametrize(
    "command",
    [
        ["check", "contacts/"],
        ["simulate", "scenarios/connectivity-test.yaml", "--runs", "5"],
        ["drill", "scenarios/connectivity-test.yaml", "--virtual", "--db", "{db}"],
    ],
    ids=["check", "simulate", "drill"],
)
def test_a_reader_that_stops_early_ends_the_command_quietly(
    tmp_path: Path, command: list[str]
) -> None:
    args = [a.replace("{db}", str(tmp_path / "ians.db")) for a in command]
    with subprocess.Popen(
        [sys.executable, "-m", "ians", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "TQDM_DISABLE": "1"},
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # as `| head` does once it has read enough: before any output
        err = process.stderr.read().decode()
        assert process.wait(timeout=TIMEOUT) == 141, err
    assert "BrokenPipeError" not in err and "Traceback" not in err, err


def _options() -> Iterator[tuple[str, argparse.Action]]:
    parser = _parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if not isinstance(action, argparse._HelpAction):
                yield name, action


def test_every_option_of_every_command_has_help() -> None:
    missing = [
        f"{name} {action.option_strings or action.dest}"
        for name, action in _options()
        if not action.help or action.help == argparse.SUPPRESS
    ]
    assert missing == []


def test_help_names_the_defaults_a_user_asks_about() -> None:
    helps = {(name, action.dest): action.help for name, action in _options()}
    assert "(default now)" in (helps["drill", "start"] or "")
    assert "(default now)" in (helps["simulate", "start"] or "")
    assert "(default json)" in (helps["report", "format"] or "")
    assert "(default text)" in (helps["simulate", "format"] or "")


def test_a_report_on_standard_output_is_the_report_alone(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "IANS_ADMIN_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "ians", "drill", "scenarios/connectivity-test.yaml", "--virtual",
         "--db", str(tmp_path / "ians.db")],
        capture_output=True, text=True, timeout=TIMEOUT, cwd=REPO, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["exercise"]["kind"] == "connectivity_test"
    assert "IANS admin token (shown once" in done.stderr  # a new database: a token was made

"""A schema fuzzer (schemathesis) over /api/openapi.json of a real `ians serve` process on
127.0.0.1: every operation, as the admin and as a PoC, answers without a 5xx and as the
description says. Bounded for CI: few examples per operation, derandomized (the same
cases every run)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ADMIN_TOKEN, early_warning
from tests.test_consultations import CONSULTATION
from tests.test_restart import Server

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
STORED: dict[str, str] = {}  # path parameter -> the id of an object the server holds
EXAMPLES = 30  # per operation, mode and caller: ~1,700 requests, ~12 s on 2 cores


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    """A server with a message in it, and the Authorization header of each caller."""
    server = Server(tmp_path_factory.mktemp("fuzz"))
    with server.log.open("ab") as log:
        process = subprocess.Popen(
            server.args, env={**os.environ, "IANS_ADMIN_TOKEN": ADMIN_TOKEN}, stdout=log, stderr=log
        )
    try:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        deadline = time.monotonic() + 20
        while not _healthy(server.url):
            assert process.poll() is None and time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.05)  # a polling interval, bounded by the deadline
        issued = requests.post(f"{server.url}/api/pocs/hun-1/token", headers=admin, timeout=10)
        sent = requests.post(
            f"{server.url}/api/messages", json=early_warning(), headers=admin, timeout=10
        )
        opened = requests.post(
            f"{server.url}/api/exercises",
            json={"scenario": CONSULTATION},
            headers=admin,
            timeout=10,
        )
        assert [r.status_code for r in (issued, sent, opened)] == [201, 201, 201]
        poc = {"Authorization": f"Bearer {issued.json()['token']}"}
        # real objects for the path, so that valid cases get past the 404
        STORED.update(
            message_id=sent.json()["id"],
            exercise_id=opened.json()["id"],
            consultation_id=opened.json()["id"],
            poc_id="hun-2",  # not hun-1: a new token of hun-1 would shut its caller out
        )
        yield server, {"admin": admin, "poc": poc}
    finally:
        process.terminate()
        process.wait(10)
    assert "Traceback" not in server.log.read_text(), server.log.read_text()


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/api/health", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture(scope="module")
def api_schema(served: tuple[Server, dict[str, str]]) -> Any:
    server, _ = served
    return schemathesis.openapi.from_url(f"{server.url}/api/openapi.json")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_5xx_and_every_answer_as_described(
    api_schema: Any, served: tuple[Server, dict[str, str]], mode: GenerationMode
) -> None:
    server, callers = served
    operations = [result.ok() for result in api_schema.get_all_operations()]
    described = requests.get(f"{server.url}/api/openapi.json", timeout=10).json()["paths"]
    assert len(operations) == sum(len(methods) for methods in described.values())

    failures: dict[str, str] = {}
    for operation in operations:
        inputs = [operation.path_parameters, operation.query, operation.headers, operation.body]
        if mode is GenerationMode.NEGATIVE and not any(len(i) for i in inputs):
            continue  # nothing to get wrong

        path = {p.name: STORED[p.name] for p in operation.path_parameters}
        if mode is GenerationMode.NEGATIVE:
            path = {}  # any id, or none that is valid

        @given(case=operation.as_strategy(mode, path_parameters=path or None))
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_described(case: Case) -> None:
            for headers in callers.values():
                case.call_and_validate(
                    base_url=server.url, headers=headers, checks=CHECKS, timeout=10
                )

        try:
            answers_as_described()
        except (AssertionError, BaseExceptionGroup) as failed:  # every operation's, at once
            failures[operation.label] = str(failed)
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())

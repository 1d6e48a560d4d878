"""Hostile and mistaken inputs (tests/hostile/): each refused with a 422 or a problem that
names the limit it passes, never a 500, a traceback or a blocked server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ians import files
from ians.clock import ManualClock
from ians.domain.contacts import Registry
from ians.domain.exercise import ExerciseState
from ians.errors import FileError, InvalidInput
from ians.files import load_yaml_text
from ians.scenarios import loader
from ians.scenarios.loader import check_files, load_scenario
from ians.web.keys import tracker_key
from tests.conftest import ADMIN_TOKEN, REGISTRY_YAML, Api, AppFactory
from tests.test_restart import Server

HOSTILE = Path(__file__).parent / "hostile"
TINY = (HOSTILE / "tiny-drill.yaml").read_text(encoding="utf-8")
REQUESTS = json.loads((HOSTILE / "exercise-requests.json").read_text(encoding="utf-8"))

# each hostile file and the words of the limit it passes
FILES = [
    ("deep-nesting.yaml", 4, "nested deeper than the limit of 32 mappings and lists"),
    ("billion-laughs.yaml", 8, "more than the limit of 50000 values once its aliases are expanded"),
    ("merge-2000.yaml", 507, "more than the limit of 500 aliases (*name and <<: *name)"),
    ("merge-50000.yaml", 6, "more than the limit of 500 aliases (*name and <<: *name)"),
    ("injects-501.yaml", 5, "at most 500 items, 501 given"),
]


@pytest.mark.parametrize(("name", "line", "words"), FILES, ids=[f[0] for f in FILES])
def test_a_hostile_file_is_refused_naming_its_limit(
    registry: Registry, name: str, line: int, words: str
) -> None:
    started = time.monotonic()
    with pytest.raises(FileError) as caught:
        load_scenario((HOSTILE / name).read_text(encoding="utf-8"), registry, name=name)
    assert time.monotonic() - started < 10  # within the parse budget, with room for CI
    assert [(p.line, p.message) for p in caught.value.problems] == [(line, words)]


def expanding(pad: int) -> str:
    """A document of 49,906 + `pad` values once its 498 aliases to a list of 99 are expanded:
    the root, a: and its list (100), b: and its list of aliases, c: and its `pad` values."""
    return (
        f"a: &x [{', '.join(['1'] * 99)}]\n"
        f"b: [{', '.join(['*x'] * 498)}]\n"
        f"c: [{', '.join(['2'] * pad)}]\n"
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a: " + "[" * 33 + "]" * 33, "nested deeper than the limit of 32"),
        ("a: " + "[" * 31 + "]" * 31, None),  # 32 deep with the top mapping: allowed
        ("a: &x [1, 2]\n" + "".join(f"k{i}: *x\n" for i in range(500)), None),
        ("a: &x [1, 2]\n" + "".join(f"k{i}: *x\n" for i in range(501)), "limit of 500 aliases"),
        (expanding(94), None),  # 50,000 values once expanded
        (expanding(95), "limit of 50000 values once its aliases are expanded"),
        ("a: " + "x" * (1024 * 1024), "over the limit of 1024 KiB"),
        ("a: &x 1\nb: &x 2\nc: *x\n", "anchor &x is defined twice"),
    ],
    ids=[
        "depth-33",
        "depth-32",
        "aliases-500",
        "aliases-501",
        "values-50000",
        "values-50001",
        "size",
        "anchor-twice",
    ],
)
def test_yaml_limits_at_their_edges(text: str, words: str | None) -> None:
    if words is None:
        load_yaml_text(text, "edge.yaml")
        return
    with pytest.raises(FileError) as caught:
        load_yaml_text(text, "edge.yaml")
    assert words in caught.value.problems[0].message


def test_reading_stops_at_the_time_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "PARSE_SECONDS", 0.0)
    with pytest.raises(FileError) as caught:
        load_yaml_text("a: 1\n", "slow.yaml")
    assert caught.value.problems[0].message == "took longer than the limit of 0s to read"


def test_a_scenario_object_has_the_limits_of_yaml_text(registry: Registry) -> None:
    deep: Any = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(FileError) as caught:
        load_scenario({"kind": "drill", "name": "deep", "injects": deep}, registry)
    assert "nested deeper than the limit of 32" in caught.value.problems[0].message


def test_ians_check_names_every_limit_and_prints_no_traceback(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.yaml"
    contacts.write_text(REGISTRY_YAML)
    files = [str(HOSTILE / name) for name, *_ in FILES]
    done = subprocess.run(
        [sys.executable, "-m", "ians", "check", "--contacts", str(contacts), *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    for (name, line, words), shown in zip(FILES, done.stderr.splitlines(), strict=False):
        assert shown.startswith(f"{HOSTILE / name}:{line}: ") and words in shown, done.stderr


def test_check_files_refuses_a_file_over_the_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("kind: drill\n# " + "x" * (1024 * 1024) + "\n")
    assert [p.message for p in check_files([big])] == ["over the limit of 1024 KiB for a file"]


@pytest.mark.parametrize(("name", "line", "words"), FILES, ids=[f[0] for f in FILES])
async def test_the_api_refuses_a_hostile_scenario_with_a_422(
    api: Api, name: str, line: int, words: str
) -> None:
    text = (HOSTILE / name).read_text(encoding="utf-8")
    body = await api.json("POST", "/api/exercises", json={"scenario": text}, status=422)
    assert (body["error"]["details"][0]["line"], body["error"]["details"][0]["message"]) == (
        line,
        words,
    )


@pytest.mark.parametrize("case", REQUESTS, ids=[r["id"] for r in REQUESTS])
async def test_an_exercise_request_out_of_range_is_a_422_naming_the_field(
    make_api: AppFactory, case: dict[str, Any]
) -> None:
    api = await make_api()
    body = await api.json(
        "POST", "/api/exercises", json={"scenario": TINY, **case["request"]}, status=422
    )
    assert [d["field"] for d in body["error"]["details"]] == [case["field"]]
    assert await api.app[tracker_key].store.exercises(ExerciseState.RUNNING) == []


async def test_every_out_of_range_field_of_a_request_is_listed_at_once(api: Api) -> None:
    body = await api.json(
        "POST",
        "/api/exercises",
        json={"scenario": TINY, "speed": 1e-300, "start": "9999-12-31T23:00:00Z",
              "simulate": ["QQQ"]},
        status=422,
    )  # fmt: skip
    details = {d["field"]: d["message"] for d in body["error"]["details"]}
    assert details == {
        "speed": "1e-300 is not an allowed speed: use 0.01 to 100000",
        "start": "9999-12-31T23:00:00+00:00 is outside the times IANS accepts:"
        " from 1900 up to 2200 (UTC)",
        "simulate": "no country 'QQQ' in the registry",
    }


def test_ians_simulate_refuses_a_start_out_of_range_without_a_traceback(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.yaml"
    contacts.write_text(REGISTRY_YAML)
    for start, words in [
        ("0001-01-01T00:00:00Z", "is outside the times IANS accepts"),
        ("1900-01-01T00:10:00Z", "injects[0].content.occurred_at: 1899-12-31T23:50:00+00:00"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "ians", "simulate", str(HOSTILE / "tiny-drill.yaml"),
             "--contacts", str(contacts), "--runs", "2", "--start", start],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
        assert words in done.stderr


async def test_a_real_start_far_in_the_past_sends_its_inject_once(
    api: Api, clock: ManualClock
) -> None:
    """A start in range but long ago: the inject is overdue and sent at once, not retried."""
    start = datetime(1986, 11, 1, 0, 19, tzinfo=UTC)
    body = {"scenario": TINY, "start": start.isoformat()}
    created = await api.json("POST", "/api/exercises", json=body, status=201)
    timers = api.app[tracker_key].timers
    await timers.run_due()
    await timers.run_due()  # a failed send would have been armed again, and fail again
    seen = await api.json("GET", f"/api/exercises/{created['id']}")
    assert seen["started_at"].startswith("1986-11-01")
    assert seen["progress"]["injects_sent"] == 1
    inbox = (await api.json("GET", "/api/inbox", "hun-1"))["messages"]
    assert len(inbox) == 1


async def test_the_server_keeps_answering_health_while_refusing_hostile_scenarios(
    tmp_path: Path, registry: Registry
) -> None:
    # what refusing the slowest file costs when it is done here, measured in this run: a
    # refusal on the server's event loop would stall its health answers as long
    parse_seconds = []
    for name, *_ in FILES:
        started = time.perf_counter()
        with pytest.raises((FileError, InvalidInput)):
            load_scenario((HOSTILE / name).read_text(encoding="utf-8"), registry, name)
        parse_seconds.append(time.perf_counter() - started)
    server = Server(tmp_path)
    await server.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            bodies = [
                {"scenario": (HOSTILE / name).read_text(encoding="utf-8")} for name, *_ in FILES
            ]
            latencies: list[float] = []

            async def refuse(body: dict[str, Any]) -> int:
                async with session.post(
                    f"{server.url}/api/exercises", json=body, headers=headers
                ) as response:
                    await response.read()
                    return response.status

            async def probe(until: asyncio.Task[list[int]]) -> None:
                while not until.done():  # bounded: the refusals end within TIMEOUT
                    started = time.perf_counter()
                    async with session.get(f"{server.url}/api/health") as response:
                        assert response.status == 200
                    latencies.append(time.perf_counter() - started)
                    await asyncio.sleep(0.01)  # a probe interval, not a wait for an event

            refusals = asyncio.ensure_future(asyncio.gather(*(refuse(b) for b in bodies * 2)))
            await probe(refusals)
            assert await refusals == [422] * len(bodies) * 2
        assert len(latencies) >= 5
        # hostile files are parsed off the event loop: it never stalls for their length
        assert max(latencies) < max(parse_seconds) / 2, (sorted(latencies)[-5:], parse_seconds)
    finally:
        await server.stop()


def test_invalid_input_lists_problems_in_order() -> None:
    error = InvalidInput.listing([("speed", "too slow"), ("start", "too late")])
    assert error.message == "speed: too slow (and 1 more)"
    assert error.details == [
        {"field": "speed", "message": "too slow"},
        {"field": "start", "message": "too late"},
    ]


async def test_a_stopped_exercise_is_not_read_again_on_every_get(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await api.json("POST", "/api/exercises", json={"scenario": TINY}, status=201)
    reads: list[object] = []
    real = loader.load_scenario
    monkeypatch.setattr(loader, "load_scenario", lambda *a: reads.append(a) or real(*a))
    await api.json("POST", f"/api/exercises/{created['id']}/stop")
    for _ in range(3):
        seen = await api.json("GET", f"/api/exercises/{created['id']}")
        assert seen["progress"]["injects"] == 1
    assert reads == []


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("kind: drill\nname: x\ninjects:\n  - ? {a: 1}\n    : 2\n", "injects[0].{'a': 1}",
         "unknown field"),
        ("kind: drill\nname: x\n1: 2\ninjects: []\n", "1",
         "a field name must be text, not the number 1"),
        ("kind: drill\nname: x\ninjects: [{? [a, b] : 1}]\n", "injects[0].('a', 'b')",
         "a field name must be text, not a list"),
    ],
)  # fmt: skip
def test_a_key_that_is_not_text_is_a_problem_not_a_crash(
    registry: Registry, text: str, field: str, message: str
) -> None:
    with pytest.raises(FileError) as caught:
        load_scenario(text, registry, name="keys.yaml")
    assert (field, message) in [(p.field, p.message) for p in caught.value.problems]

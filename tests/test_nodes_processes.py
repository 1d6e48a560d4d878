"""Two and three real `ians serve` processes on one real PostgreSQL schema, behind no
proxy: clients spread over them. 1,000 chases with short policies; one node SIGKILLed
mid-way, then every node restarted: every reminder, escalation and give-up is stored
exactly once, and every acknowledgement answered 200 is there."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from ians.domain import chase as rules
from ians.domain.chase import ChaseStatus
from ians.domain.policy import AckPolicy
from ians.store.rows import chase_of, from_us
from tests.conftest import ADMIN_TOKEN
from tests.test_restart import TIMEOUT, _pause, call, free_port

COUNTRIES = ["AUT", "BEL", "BGR", "HRV", "CZE", "DNK", "EST", "FIN", "FRA", "DEU"]
MESSAGES = 100  # to every country: 1,000 chases
POLICY = AckPolicy(
    reminders=(timedelta(seconds=1), timedelta(seconds=3)),
    escalate_every=timedelta(seconds=2),
    give_up_after=timedelta(seconds=6),
)
SETTINGS = "policies:\n  default: {reminders: [1s, 3s], escalate_every: 2s, give_up_after: 6s}\n"
LEASE = "2"  # seconds: a killed node's claims pass on quickly


def registry_yaml() -> str:
    lines = ["countries:"]
    for code in COUNTRIES:
        lines += [
            f"  {code}:",
            f"    name: Country {code}",
            "    timezone: Europe/Vienna",
            "    points_of_contact:",
        ]
        lines += [f"      - {{id: {code.lower()}-{i}, roles: [notification]}}" for i in (1, 2, 3)]
    return "\n".join(lines) + "\n"


class Node:
    def __init__(self, tmp_path: Path, number: int, db: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable, "-m", "ians", "serve", "--port", str(self.port), "--db", db,
            "--contacts", str(tmp_path / "contacts.yaml"),
            "--settings", str(tmp_path / "settings.yaml"), "--lease", LEASE,
        ]  # fmt: skip
        self.log = tmp_path / f"node-{number}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def spawn(self) -> None:
        env = {**os.environ, "IANS_ADMIN_TOKEN": ADMIN_TOKEN}
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.args, env=env, stdout=log, stderr=log
            )

    async def ready(self) -> None:
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            while time.monotonic() < deadline:
                assert self.process is not None and self.process.returncode is None, (
                    self.log.read_text()
                )
                try:
                    async with session.get(f"{self.url}/api/health") as response:
                        if response.status == 200:
                            return
                except (aiohttp.ClientConnectionError, TimeoutError):
                    pass
                await _pause()
        raise AssertionError(f"node did not start: {self.log.read_text()}")

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await asyncio.wait_for(self.process.wait(), 10)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 15)


async def start(nodes: list[Node]) -> None:
    for node in nodes:
        await node.spawn()
    await asyncio.gather(*(node.ready() for node in nodes))


@pytest.fixture
async def cluster(
    request: pytest.FixtureRequest, tmp_path: Path, pg_url: str
) -> AsyncIterator[list[Node]]:
    (tmp_path / "contacts.yaml").write_text(registry_yaml())
    (tmp_path / "settings.yaml").write_text(SETTINGS)
    nodes = [Node(tmp_path, i, pg_url) for i in range(request.param)]
    yield nodes
    for node in nodes:
        await node.stop()


async def token(node: Node, poc: str) -> str:
    status, body = await call("POST", f"{node.url}/api/pocs/{poc}/token", ADMIN_TOKEN)
    assert status == 201, body
    return str(body["token"])


def draft() -> dict[str, object]:
    return {"type": "test", "mode": "test", "to": COUNTRIES, "content": {"text": "rehearsal"}}


@pytest.mark.parametrize("cluster", [2, 3], indirect=True, ids=["two-nodes", "three-nodes"])
async def test_every_step_once_across_nodes_through_a_kill_and_a_restart_of_all(
    cluster: list[Node], pg_url: str
) -> None:
    nodes = cluster
    await start(nodes)
    turns = itertools.cycle(nodes)
    tokens = {c: await token(nodes[0], f"{c.lower()}-1") for c in COUNTRIES}
    ids: list[str] = []
    acked: dict[tuple[str, str], str] = {}  # (message, poc): the acknowledged_at answered
    rng = random.Random(14)
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:

        async def send(node: Node) -> None:
            async with session.post(
                f"{node.url}/api/messages", json=draft(), headers=_bearer(ADMIN_TOKEN)
            ) as response:
                assert response.status == 201, await response.text()
                ids.append((await response.json())["id"])

        async def ack(node: Node, message_id: str, country: str) -> None:
            poc = f"{country.lower()}-1"
            async with session.post(
                f"{node.url}/api/messages/{message_id}/ack", headers=_bearer(tokens[country])
            ) as response:
                assert response.status == 200, await response.text()
                acked[(message_id, poc)] = (await response.json())["acknowledged_at"]

        for batch in range(MESSAGES // 20):  # in bursts, spread over the nodes
            await asyncio.gather(*(send(next(turns)) for _ in range(20)))
            picks = [(m, c) for m in ids[batch * 20 :] for c in COUNTRIES if rng.random() < 0.3]
            await asyncio.gather(*(ack(next(turns), m, c) for m, c in picks))
    await nodes[0].kill()  # mid-way: its timers and claims must pass to the others
    await asyncio.sleep(1.5)  # steps keep coming due (a real clock: the policy is seconds)
    for node in nodes:  # then every node at once, and all start again
        await node.kill()
    await start(nodes)

    conn = await asyncpg.connect(pg_url)
    try:
        deadline = time.monotonic() + 60
        while await conn.fetchval("SELECT count(*) FROM chases WHERE status = 'pending'"):
            assert time.monotonic() < deadline, "chases still pending a minute on"
            await asyncio.sleep(0.2)  # a polling interval, bounded by the deadline
        chases = [chase_of(tuple(r)) for r in await conn.fetch(_CHASES)]
        events = await conn.fetch(
            "SELECT kind, message_id, country, poc, due_at FROM events"
            " WHERE kind IN ('reminded', 'escalated', 'gave_up')"
        )
        delivered = {
            (r[0], r[1]): r[2]
            for r in await conn.fetch(
                "SELECT message_id, poc, acknowledged_at FROM deliveries"
                " WHERE acknowledged_at IS NOT NULL"
            )
        }
    finally:
        await conn.close()

    assert len(chases) == MESSAGES * len(COUNTRIES)
    steps = Counter((r[0], r[1], r[2], r[3], r[4]) for r in events)
    twice = [step for step, n in steps.items() if n > 1]
    assert twice == [], f"{len(twice)} steps stored more than once, e.g. {twice[:3]}"
    for (message_id, poc), at in acked.items():  # each 200 is in the database, as answered
        assert (message_id, poc) in delivered
        assert from_us(delivered[(message_id, poc)]).isoformat().startswith(at[:19])
    by_chase: dict[tuple[str, str], set[tuple[str, str | None, int]]] = {}
    for kind, message_id, country, poc, due in steps:
        by_chase.setdefault((message_id, country), set()).add((kind, poc, due))
    for chase in chases:
        got = by_chase.get((chase.message_id, chase.country), set())
        if chase.status is ChaseStatus.GAVE_UP:  # never acknowledged: every step, once
            assert got == _every_step(chase), (chase, got)
        else:
            assert chase.status is ChaseStatus.ACKNOWLEDGED
            assert (chase.message_id, f"{chase.country.lower()}-1") in acked
            assert got <= _every_step(chase)
    assert sum(c.status is ChaseStatus.GAVE_UP for c in chases) == len(chases) - len(acked)


_CHASES = (
    "SELECT id, message_id, country, pocs, sent_at, status, steps_done, reached, reminders,"
    " acknowledged_at, acknowledged_by, gave_up_at, next_due_at FROM chases"
)


def _every_step(chase: rules.Chase) -> set[tuple[str, str | None, int]]:
    start = rules.start_chase(chase.message_id, chase.country, chase.pocs, chase.sent_at, POLICY)
    _, events = rules.fire(start, POLICY, chase.sent_at + timedelta(days=1))
    return {
        (e.kind.value, e.poc, round(e.due_at.timestamp() * 1_000_000) if e.due_at else 0)
        for e in events
    }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

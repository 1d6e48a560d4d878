"""The token table's memory of good Authorization headers: a header found good is
answered from memory, and forgotten as soon as the table changes, here or (reloaded)
on another node sharing the store."""

from __future__ import annotations

import pytest

import ians.tokens
from ians.clock import ManualClock
from ians.domain.contacts import Registry
from ians.errors import Unauthorized
from ians.store.sqlite import SqliteStore
from ians.tokens import Tokens

SQLITE_ONLY = True  # the table's own logic: the store only keeps the hashes


def bearer(token: str) -> str:
    return f"Bearer {token}"


async def loaded(store: SqliteStore, registry: Registry, clock: ManualClock) -> Tokens:
    tokens = Tokens(store, registry, clock)
    await tokens.load("admin-token-of-the-tests")
    return tokens


async def test_a_token_replaced_on_another_node_stops_working_once_heard_of(
    store: SqliteStore, registry: Registry, clock: ManualClock
) -> None:
    here, there = await loaded(store, registry, clock), await loaded(store, registry, clock)
    old = await there.issue("hun-1")
    await here.reload()  # what a node does when another tells it the tokens changed
    assert here.authenticate(bearer(old)).require_poc().id == "hun-1"  # now remembered
    new = await there.issue("hun-1")
    await here.reload()
    with pytest.raises(Unauthorized):
        here.authenticate(bearer(old))
    assert here.authenticate(bearer(new)).require_poc().id == "hun-1"


async def test_a_token_replaced_here_stops_working_at_once(
    store: SqliteStore, registry: Registry, clock: ManualClock
) -> None:
    tokens = await loaded(store, registry, clock)
    old = await tokens.issue("srb-1")
    assert tokens.authenticate(bearer(old)).require_poc().id == "srb-1"
    await tokens.issue("srb-1")
    with pytest.raises(Unauthorized):
        tokens.authenticate(bearer(old))


async def test_only_good_headers_are_kept_and_never_more_than_the_limit(
    store: SqliteStore, registry: Registry, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ians.tokens, "CALLERS_KEPT", 3)
    tokens = await loaded(store, registry, clock)
    good = await tokens.issue("rou-1")
    for n in range(3):
        with pytest.raises(Unauthorized):
            tokens.authenticate(bearer(f"not-a-token-{n}"))
    assert tokens._callers == {}
    for n in range(10):  # one token, as ten headers no two alike (spaces after it)
        assert tokens.authenticate(bearer(good + " " * n)).require_poc().id == "rou-1"
        assert 0 < len(tokens._callers) <= 3

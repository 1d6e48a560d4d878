"""A PoC confirms its contact details; the registry listing shows the latest confirmation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ians.clock import ManualClock
from ians.store.schema import MIGRATIONS
from ians.store.sqlite import SqliteStore
from tests.conftest import T0, Api


def _confirmed(pocs: list[dict[str, object]]) -> dict[object, object]:
    return {p["id"]: p["details_confirmed_at"] for p in pocs}


async def test_a_poc_confirms_its_own_details_and_the_listing_shows_the_latest(
    api: Api, clock: ManualClock
) -> None:
    listed = (await api.json("GET", "/api/pocs"))["points_of_contact"]
    assert set(_confirmed(listed).values()) == {None}

    first = await api.json("POST", "/api/pocs/hun-2/confirm-details", as_="hun-2")
    assert first == {"poc": "hun-2", "details_confirmed_at": "2026-11-27T09:00:00Z"}
    clock.advance(timedelta(days=40))
    again = await api.json("POST", "/api/pocs/hun-2/confirm-details", as_="hun-2")
    assert again["details_confirmed_at"] == "2027-01-06T09:00:00Z"
    # the secretariat records one it got by telephone
    await api.json("POST", "/api/pocs/rou-1/confirm-details")

    confirmed = _confirmed((await api.json("GET", "/api/pocs"))["points_of_contact"])
    assert confirmed["hun-2"] == "2027-01-06T09:00:00Z"
    assert confirmed["rou-1"] == "2027-01-06T09:00:00Z"
    assert confirmed["hun-1"] is None


async def test_another_pocs_details_and_unknown_pocs_are_refused(api: Api) -> None:
    refused = await api.json("POST", "/api/pocs/hun-1/confirm-details", as_="hun-2", status=403)
    assert "only its own contact details (hun-2)" in refused["error"]["message"]
    unknown = await api.json("POST", "/api/pocs/nobody/confirm-details", status=404)
    assert "nobody" in unknown["error"]["message"]
    listed = _confirmed((await api.json("GET", "/api/pocs"))["points_of_contact"])
    assert listed["hun-1"] is None


async def test_confirmations_are_kept_across_a_restart(db_path: Path) -> None:
    store = await SqliteStore.open(db_path)
    try:
        await store.confirm_details("srb-1", T0)
        await store.confirm_details("srb-1", T0 + timedelta(days=3))
        await store.confirm_details("srb-1", T0 + timedelta(days=1))  # late, out of order
        await store.confirm_details("hun-1", T0)
    finally:
        await store.close()
    reopened = await SqliteStore.open(db_path)
    try:
        assert await reopened.details_confirmed() == {
            "srb-1": T0 + timedelta(days=3),
            "hun-1": T0,
        }
        rows = await reopened._rows("PRAGMA user_version")
        assert rows[0][0] == len(MIGRATIONS)
    finally:
        await reopened.close()

"""The webhook half of the store, on each backend: secrets kept and replaced, and a peer's
410 switching a PoC's channel off in the attempt's transaction, for good across
`set_channels` (a restart), until a new secret switches it on again."""

from __future__ import annotations

from datetime import timedelta

from pydantic import TypeAdapter

from ians.domain.chase import EventKind
from ians.domain.messages import MessageDraft
from ians.domain.outbox import Attempt, NoticeState
from ians.store.sqlite import SqliteStore
from ians.tracking import Tracker
from tests.conftest import T0, early_warning

draft = TypeAdapter(MessageDraft).validate_python


async def test_a_new_secret_replaces_the_old_one(store: SqliteStore) -> None:
    assert await store.webhook_secrets() == {}
    await store.set_webhook_secret("hun-1", "whsec_b2xk", T0)
    await store.set_webhook_secret("hun-1", "whsec_bmV3", T0 + timedelta(hours=1))
    await store.set_webhook_secret("rou-1", "whsec_cm91", T0)
    assert await store.webhook_secrets() == {
        "hun-1": ("whsec_bmV3", T0 + timedelta(hours=1)),
        "rou-1": ("whsec_cm91", T0),
    }


async def test_gone_switches_the_channel_off_until_a_new_secret(
    store: SqliteStore, tracker: Tracker
) -> None:
    await store.set_channels([("hun-1", "webhook"), ("rou-1", "webhook")])
    message, _ = await tracker.send(draft(early_warning(to=["HUN", "ROU"])))
    notices = {n.poc: n for n in await store.notices(message.id)}
    assert set(notices) == {"hun-1", "rou-1"}
    at = T0 + timedelta(seconds=1)
    gone = Attempt(notices["hun-1"].id, 1, at, False, "410 Gone", permanent=True, gone=True)
    ok = Attempt(notices["rou-1"].id, 1, at, True, "204 No Content")
    escalations = await store.record_attempts([gone, ok])
    assert [(e.kind, e.poc) for e in escalations] == [(EventKind.ESCALATED, "hun-2")]
    assert await store.disabled_channels() == {("hun-1", "webhook"): at}
    [off] = [e for e in await store.events(message.id) if e.kind is EventKind.CHANNEL_DISABLED]
    assert off.poc == "hun-1" and off.detail["answer"] == "410 Gone"
    failed = await store.notice(notices["hun-1"].id)
    assert failed is not None and failed.state is NoticeState.FAILED

    await store.set_channels([("hun-1", "webhook"), ("rou-1", "webhook")])  # as at a start
    again, _ = await tracker.send(draft(early_warning(to=["HUN", "ROU"])))
    assert [n.poc for n in await store.notices(again.id)] == ["rou-1"]

    await store.set_webhook_secret("hun-1", "whsec_bmV3", at)
    assert await store.disabled_channels() == {}
    third, _ = await tracker.send(draft(early_warning(to=["HUN", "ROU"])))
    assert sorted(n.poc for n in await store.notices(third.id)) == ["hun-1", "rou-1"]

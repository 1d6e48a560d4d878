"""Notices out by webhook through the outbox, to a real aiohttp receiver on 127.0.0.1 that
verifies every signature with the independent `standardwebhooks` package: retries with
one id, 410, Retry-After, timeouts, redirects, a restart, CAP bodies, acknowledgements.

The manual clock starts at the real time: receivers check `webhook-timestamp` against
their own clock (standardwebhooks allows 5 minutes), so tests stay within minutes of it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from ians.cap.xml import NS, SCHEMA_PATH
from ians.channels.config import ChannelsConfig
from ians.clock import ManualClock
from ians.contacts import load_registry
from ians.domain.contacts import Registry
from ians.store.backends import open_store
from ians.web.views import WebhookNotice
from tests.conftest import ADMIN_TOKEN, AppFactory, early_warning
from tests.email_fixtures import events, services, settle
from tests.web.test_sessions import sign_in
from tests.web.test_streams import until
from tests.webhook_receiver import Receiver, Reply, json_of

BOTH_BACKENDS = True  # also on PostgreSQL (tests/conftest.py)

PUBLIC_URL = "http://ians.test"
RETRIES = (timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=2))


def hooks(timeout: float = 5.0, retries: tuple[timedelta, ...] = RETRIES) -> ChannelsConfig:
    """Webhooks on, e-mail off."""
    return ChannelsConfig(PUBLIC_URL, retries, timedelta(seconds=timeout))


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def registry(tmp_path: Path, receiver: Receiver) -> Registry:
    url = receiver.url
    path = tmp_path / "contacts-webhooks.yaml"
    path.write_text(
        f"""\
countries:
  SRB:
    name: Serbia
    timezone: Europe/Belgrade
    points_of_contact:
      - {{id: srb-1, roles: [notification, assistance]}}
  HUN:
    name: Hungary
    timezone: Europe/Budapest
    points_of_contact:
      - {{id: hun-1, roles: [notification], webhook: "{url}/hun-1"}}
      - {{id: hun-2, roles: [notification], webhook: "{url}/hun-2"}}
  ROU:
    name: Romania
    timezone: Europe/Bucharest
    points_of_contact:
      - {{id: rou-1, roles: [notification], webhook: "{url}/rou-1", webhook_format: cap}}
  AUT:
    name: Austria
    timezone: Europe/Vienna
    points_of_contact:
      - {{id: aut-1, roles: [notification], webhook: "{url}/aut-1"}}
"""
    )
    return load_registry([path])


async def subscribe(api: Any, receiver: Receiver, *pocs: str) -> None:
    """Issue each PoC's secret through the API and give it to the receiver."""
    for poc in pocs:
        answer = await api.json("POST", f"/api/pocs/{poc}/webhook-secret", status=201)
        assert answer["secret"].startswith("whsec_")
        receiver.secrets[f"/{poc}"] = answer["secret"]


async def send(api: Any, to: list[str]) -> dict[str, Any]:
    sent: dict[str, Any] = await api.json(
        "POST", "/api/messages", json=early_warning(sender="SRB", to=to), status=201
    )
    return sent


async def stored_notices(db: str, message_id: str) -> list[tuple[str, int, str]]:
    """The message's notices as the store keeps them, read by a store of its own."""
    store = await open_store(db)
    try:
        return [(n.channel, n.attempts, n.state.value) for n in await store.notices(message_id)]
    finally:
        await store.close()


def webhook_events(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in found if e.get("channel") == "webhook"]


async def stored_event(api: Any, message_id: str, kind: str, poc: str) -> list[dict[str, Any]]:
    """The message's webhook events of `kind` for `poc`, once there are any (within 5 s)."""
    async with asyncio.timeout(5):
        while True:
            found = webhook_events(await events(api, message_id, kind))
            if mine := [e for e in found if e["poc"] == poc]:
                return mine
            await asyncio.sleep(0)  # a turn of the loop: the outcome is being stored


async def test_500_500_200_is_one_notice_in_three_attempts_with_one_id(
    make_api: AppFactory, receiver: Receiver, clock: ManualClock
) -> None:
    api = await make_api(delivery=hooks())
    await subscribe(api, receiver, "hun-1")
    receiver.answer("/hun-1", 500, 503, 200)
    sent = await send(api, ["HUN"])
    await settle(api)
    [first] = await receiver.wait_for(1)
    clock.advance(timedelta(seconds=9))  # the first retry is due after 10 s
    await settle(api)
    assert len(receiver.received) == 1
    clock.advance(timedelta(seconds=1))
    await settle(api)
    clock.advance(timedelta(minutes=1))
    await settle(api)
    attempts = await receiver.wait_for(3)
    assert all(a.verified for a in attempts), [a.why for a in attempts]
    [notice] = await services(api).tracker.store.notices(sent["id"])
    assert {a.id for a in attempts} == {f"n{notice.id}.{sent['id']}"}
    # each attempt is signed at its own time
    assert [a.timestamp - first.timestamp for a in attempts] == [0, 10, 70]
    assert len({a.headers["webhook-signature"] for a in attempts}) == 3
    assert len({a.body for a in attempts}) == 1  # the same notice every time
    WebhookNotice.model_validate_json(first.body)  # the shape /api/openapi.json describes
    body = json_of(first)
    assert body["type"] == "message"
    assert body["data"]["message"]["id"] == sent["id"]
    assert body["data"]["message"]["from"] == "SRB"
    assert body["data"]["ack_url"].startswith(f"{PUBLIC_URL}/ack/")
    assert body["timestamp"].endswith("Z")
    assert first.headers["content-type"] == "application/json"
    failed = webhook_events(await events(api, sent["id"], "delivery_failed"))
    assert [(f["attempt"], f["permanent"]) for f in failed] == [(1, False), (2, False)]
    assert failed[0]["answer"].startswith("500") and failed[1]["answer"].startswith("503")
    [delivered] = webhook_events(await events(api, sent["id"], "delivered"))
    assert delivered["attempt"] == 3 and delivered["answer"].startswith("200")
    clock.advance(timedelta(minutes=2))  # past the rest of the schedule: nothing more
    await settle(api)
    assert len(receiver.received) == 3


async def test_the_retries_run_out_and_the_failure_escalates(
    make_api: AppFactory, receiver: Receiver, clock: ManualClock
) -> None:
    api = await make_api(delivery=hooks(retries=(timedelta(seconds=10),)))
    await subscribe(api, receiver, "hun-1", "hun-2")
    receiver.answer("/hun-1", 500, 500)
    sent = await send(api, ["HUN"])
    await settle(api)
    clock.advance(timedelta(seconds=10))
    await settle(api)
    failed = webhook_events(await events(api, sent["id"], "delivery_failed"))
    assert [f["permanent"] for f in failed] == [False, True]
    [escalated] = await events(api, sent["id"], "escalated")
    assert escalated["poc"] == "hun-2"
    [to_hun2] = await receiver.wait_for(1, "/hun-2")
    assert to_hun2.verified and json_of(to_hun2)["data"]["message"]["id"] == sent["id"]


async def test_410_switches_the_webhook_off_escalates_and_shows_in_api_pocs(
    make_api: AppFactory, receiver: Receiver, clock: ManualClock
) -> None:
    api = await make_api(delivery=hooks())
    await subscribe(api, receiver, "hun-1", "hun-2")
    receiver.answer("/hun-1", 410)
    sent = await send(api, ["HUN"])
    await settle(api)
    [failed] = webhook_events(await events(api, sent["id"], "delivery_failed"))
    assert failed["permanent"] is True and failed["answer"].startswith("410")
    [off] = await events(api, sent["id"], "channel_disabled")
    assert off["poc"] == "hun-1" and off["channel"] == "webhook"
    [escalated] = await events(api, sent["id"], "escalated")
    assert escalated["poc"] == "hun-2"
    await receiver.wait_for(1, "/hun-2")
    pocs = {p["id"]: p for p in (await api.json("GET", "/api/pocs"))["points_of_contact"]}
    assert pocs["hun-1"]["webhook_disabled_at"] == clock.now().isoformat().replace("+00:00", "Z")
    assert pocs["hun-2"]["webhook_disabled_at"] is None
    assert pocs["hun-2"]["webhook_secret_issued_at"] is not None
    assert pocs["srb-1"]["webhook_secret_issued_at"] is None
    # and on the secretariat's registry page, in UTC and Budapest's time
    await sign_in(api, ADMIN_TOKEN)
    registry_page = await (await api.client.get("/registry")).text()
    row = registry_page.split('<tr id="poc-hun-1">')[1].split("</tr>")[0]
    assert 'data-webhook="off"' in row and "Budapest time)" in row
    assert f'switched off <time datetime="{pocs["hun-1"]["webhook_disabled_at"]}">' in row
    assert 'data-webhook="on"' in registry_page.split('<tr id="poc-hun-2">')[1].split("</tr>")[0]

    again = await send(api, ["HUN"])  # a further notice skips hun-1
    await settle(api)
    assert len(receiver.at("/hun-1")) == 1
    assert [n.poc for n in await services(api).tracker.store.notices(again["id"])] == []

    # a new secret switches it back on
    await subscribe(api, receiver, "hun-1")
    pocs = {p["id"]: p for p in (await api.json("GET", "/api/pocs"))["points_of_contact"]}
    assert pocs["hun-1"]["webhook_disabled_at"] is None
    third = await send(api, ["HUN"])
    await settle(api)
    [back] = [r for r in await receiver.wait_for(2, "/hun-1")][1:]
    assert back.verified and json_of(back)["data"]["message"]["id"] == third["id"]


async def test_a_410_webhook_stays_off_after_a_restart(
    make_api: AppFactory, receiver: Receiver
) -> None:
    api = await make_api(delivery=hooks())
    await subscribe(api, receiver, "hun-1")
    receiver.answer("/hun-1", 410)
    await send(api, ["HUN"])
    await settle(api)
    await api.client.close()
    api = await make_api(delivery=hooks())
    pocs = {p["id"]: p for p in (await api.json("GET", "/api/pocs"))["points_of_contact"]}
    assert pocs["hun-1"]["webhook_disabled_at"] is not None
    await send(api, ["HUN"])
    await settle(api)
    assert len(receiver.at("/hun-1")) == 1


@pytest.mark.parametrize(("status", "form"), [(429, "seconds"), (503, "http date")])
async def test_retry_after_puts_the_next_attempt_off(
    make_api: AppFactory, receiver: Receiver, clock: ManualClock, status: int, form: str
) -> None:
    api = await make_api(delivery=hooks())
    await subscribe(api, receiver, "hun-1")
    wait = (
        "120" if form == "seconds" else format_datetime(clock.now() + timedelta(seconds=120), True)
    )
    receiver.answer("/hun-1", Reply(status, {"Retry-After": wait}), 200)
    sent = await send(api, ["HUN"])
    await settle(api)
    await receiver.wait_for(1)
    clock.advance(timedelta(seconds=10))  # the schedule's first retry: too soon for the peer
    await settle(api)
    assert len(receiver.received) == 1
    clock.advance(timedelta(seconds=109))
    await settle(api)
    assert len(receiver.received) == 1
    clock.advance(timedelta(seconds=1))
    await settle(api)
    first, second = await receiver.wait_for(2)
    assert second.timestamp - first.timestamp == 120 and second.verified
    [delivered] = webhook_events(await events(api, sent["id"], "delivered"))
    assert delivered["attempt"] == 2


async def test_an_answer_slower_than_the_timeout_is_retried(
    make_api: AppFactory, receiver: Receiver, clock: ManualClock
) -> None:
    api = await make_api(delivery=hooks(timeout=0.3))
    await subscribe(api, receiver, "hun-1")
    release = asyncio.Event()
    receiver.answer("/hun-1", Reply(200, hold=release), 200)
    sent = await send(api, ["HUN"])
    await settle(api)  # returns once the attempt timed out (the receiver still holds it)
    [failed] = webhook_events(await events(api, sent["id"], "delivery_failed"))
    assert "did not answer within 0.3s" in failed["answer"] and failed["permanent"] is False
    release.set()
    clock.advance(timedelta(seconds=10))
    await settle(api)
    first, second = await receiver.wait_for(2)
    assert first.id == second.id and second.verified
    [delivered] = webhook_events(await events(api, sent["id"], "delivered"))
    assert delivered["attempt"] == 2


async def hun_hanging(make_api: AppFactory, receiver: Receiver) -> tuple[Any, asyncio.Event]:
    """The app with hun-1 and aut-1 subscribed; hun-1's first answer hangs until the event
    is set (the timeout is far off)."""
    api = await make_api(delivery=hooks(timeout=30))
    await subscribe(api, receiver, "hun-1", "aut-1")
    release = asyncio.Event()
    receiver.answer("/hun-1", Reply(200, hold=release))
    return api, release


async def test_a_receiver_that_hangs_holds_up_no_other_notice(
    make_api: AppFactory, receiver: Receiver
) -> None:
    api, release = await hun_hanging(make_api, receiver)
    first = await send(api, ["HUN"])
    await receiver.wait_for(1, "/hun-1")  # its answer hangs
    later = await send(api, ["AUT"])
    [at_aut] = await receiver.wait_for(1, "/aut-1")  # meanwhile, not after it
    assert at_aut.verified
    await stored_event(api, later["id"], "delivered", "aut-1")
    assert webhook_events(await events(api, first["id"], "delivered")) == []  # still hanging
    release.set()
    await settle(api)
    for sent in (first, later):
        [delivered] = webhook_events(await events(api, sent["id"], "delivered"))
        assert delivered["attempt"] == 1


async def test_a_retry_comes_due_and_goes_out_while_a_receiver_hangs(
    make_api: AppFactory, receiver: Receiver, clock: ManualClock
) -> None:
    api, release = await hun_hanging(make_api, receiver)
    receiver.answer("/aut-1", 500, 200)
    sent = await send(api, ["HUN", "AUT"])
    timers = services(api).tracker.timers
    await until(lambda: timers.due_at(("outbox", 0)) is not None)  # aut-1's 500 stored
    clock.advance(timedelta(seconds=10))
    await timers.run_due()
    first, second = await receiver.wait_for(2, "/aut-1")
    assert first.id == second.id
    [delivered] = await stored_event(api, sent["id"], "delivered", "aut-1")
    assert delivered["attempt"] == 2
    assert len(webhook_events(await events(api, sent["id"], "delivered"))) == 1  # hun-1 hangs
    release.set()
    await settle(api)
    assert len(webhook_events(await events(api, sent["id"], "delivered"))) == 2


async def test_a_receiver_that_is_down_is_retried(
    make_api: AppFactory, receiver: Receiver, clock: ManualClock
) -> None:
    api = await make_api(delivery=hooks())
    await subscribe(api, receiver, "hun-1")
    await receiver.stop()
    sent = await send(api, ["HUN"])
    await settle(api)
    [failed] = webhook_events(await events(api, sent["id"], "delivery_failed"))
    assert failed["permanent"] is False and "127.0.0.1" in failed["answer"]


@pytest.mark.parametrize("status", [404, 301, 307])
async def test_other_answers_are_permanent_and_escalate_and_redirects_are_not_followed(
    make_api: AppFactory, receiver: Receiver, clock: ManualClock, status: int
) -> None:
    api = await make_api(delivery=hooks())
    await subscribe(api, receiver, "hun-1", "hun-2")
    receiver.answer("/hun-1", Reply(status, {"Location": f"{receiver.url}/elsewhere"}))
    sent = await send(api, ["HUN"])
    await settle(api)
    [failed] = webhook_events(await events(api, sent["id"], "delivery_failed"))
    assert failed["permanent"] is True and failed["answer"].startswith(str(status))
    if 300 <= status < 400:
        assert "redirects are not followed" in failed["answer"]
    [escalated] = await events(api, sent["id"], "escalated")
    assert escalated["poc"] == "hun-2"
    await receiver.wait_for(1, "/hun-2")
    clock.advance(timedelta(minutes=5))
    await settle(api)
    assert receiver.at("/elsewhere") == [] and len(receiver.at("/hun-1")) == 1


async def test_a_restart_in_the_middle_of_the_retries_resumes_with_the_same_id(
    make_api: AppFactory, receiver: Receiver, clock: ManualClock, db: str
) -> None:
    api = await make_api(delivery=hooks())
    await subscribe(api, receiver, "hun-1")
    receiver.answer("/hun-1", 500, 500, 200)
    sent = await send(api, ["HUN"])
    await settle(api)
    clock.advance(timedelta(seconds=10))
    await settle(api)
    await receiver.wait_for(2)
    await api.client.close()  # the server stops between the second and the third attempt
    assert await stored_notices(db, sent["id"]) == [("webhook", 2, "pending")]
    clock.advance(timedelta(seconds=30))
    api = await make_api(delivery=hooks())  # the same database file, the same secret
    await settle(api)
    assert len(receiver.received) == 2  # the retry is due a minute after the second try
    clock.advance(timedelta(seconds=30))
    await settle(api)
    attempts = await receiver.wait_for(3)
    assert len({a.id for a in attempts}) == 1 and all(a.verified for a in attempts)
    [delivered] = webhook_events(await events(api, sent["id"], "delivered"))
    assert delivered["attempt"] == 3
    clock.advance(timedelta(minutes=3))
    await settle(api)
    assert len(receiver.received) == 3


async def test_webhook_format_cap_posts_a_valid_signed_cap_alert(
    make_api: AppFactory, receiver: Receiver
) -> None:
    api = await make_api(delivery=hooks())
    await subscribe(api, receiver, "rou-1")
    sent = await send(api, ["ROU"])
    await settle(api)
    [got] = await receiver.wait_for(1)
    assert got.verified, got.why
    assert got.headers["content-type"] == "application/cap+xml"
    alert = etree.fromstring(got.body)
    etree.XMLSchema(etree.parse(str(SCHEMA_PATH))).assertValid(alert)
    assert alert.findtext(f"{{{NS}}}identifier") == sent["id"]
    assert alert.findtext(f"{{{NS}}}status") == "Exercise"
    assert alert.findtext(f"{{{NS}}}msgType") == "Alert"
    link = got.headers["ians-ack-url"]
    assert link.startswith(f"{PUBLIC_URL}/ack/")
    answer = await api.client.post(
        link.removeprefix(PUBLIC_URL), headers={"Accept": "application/json"}
    )
    assert answer.status == 200
    [ack] = await events(api, sent["id"], "acknowledged")
    assert ack["poc"] == "rou-1" and ack["via"] == "webhook"


async def test_a_program_acknowledges_by_posting_the_ack_url(
    make_api: AppFactory, receiver: Receiver
) -> None:
    api = await make_api(delivery=hooks())
    await subscribe(api, receiver, "hun-1")
    sent = await send(api, ["HUN"])
    await settle(api)
    [got] = await receiver.wait_for(1)
    link = json_of(got)["data"]["ack_url"].removeprefix(PUBLIC_URL)
    answer = await api.client.post(link, headers={"Accept": "application/json"})
    assert answer.status == 200
    acknowledged_at = (await answer.json())["acknowledged_at"]
    again = await api.client.post(link, headers={"Accept": "application/json"})
    assert (await again.json())["acknowledged_at"] == acknowledged_at
    [ack] = await events(api, sent["id"], "acknowledged")
    assert ack["poc"] == "hun-1" and ack["via"] == "webhook"
    state = await api.json("GET", f"/api/messages/{sent['id']}")
    assert state["recipients"][0]["status"] == "acknowledged"
    bad = await api.client.post(link[:-3] + "xyz", headers={"Accept": "application/json"})
    assert bad.status == 404
    assert "not valid" in (await bad.json())["error"]["message"]


async def test_a_program_acknowledges_with_its_poc_token(
    make_api: AppFactory, receiver: Receiver
) -> None:
    api = await make_api(delivery=hooks())
    await subscribe(api, receiver, "hun-1")
    sent = await send(api, ["HUN"])
    await settle(api)
    [got] = await receiver.wait_for(1)
    message_id = json_of(got)["data"]["message"]["id"]
    await api.json("POST", f"/api/messages/{message_id}/ack", as_="hun-1", json={})
    [ack] = await events(api, sent["id"], "acknowledged")
    assert ack["poc"] == "hun-1" and ack["via"] == "api"


async def test_reminders_are_webhook_notices_of_their_own(
    make_api: AppFactory, receiver: Receiver, clock: ManualClock
) -> None:
    clock.set(clock.now() - timedelta(minutes=15))  # the reminder is signed at the real time
    api = await make_api(delivery=hooks())
    await subscribe(api, receiver, "aut-1")
    sent = await send(api, ["AUT"])
    await settle(api)
    clock.advance(timedelta(minutes=15))  # the tests' policy reminds after 15 minutes
    await settle(api)
    first, reminder = await receiver.wait_for(2)
    assert json_of(first)["type"] == "message" and json_of(reminder)["type"] == "reminder"
    WebhookNotice.model_validate_json(reminder.body)
    assert first.id != reminder.id and reminder.verified
    assert json_of(reminder)["data"]["message"]["id"] == sent["id"]


async def test_a_new_secret_replaces_the_old_one(make_api: AppFactory, receiver: Receiver) -> None:
    api = await make_api(delivery=hooks())
    await subscribe(api, receiver, "hun-1")
    old = receiver.secrets["/hun-1"]
    await subscribe(api, receiver, "hun-1")
    assert receiver.secrets["/hun-1"] != old
    await send(api, ["HUN"])
    await settle(api)
    [got] = await receiver.wait_for(1)
    assert got.verified  # with the new secret
    receiver.secrets["/hun-1"] = old
    from standardwebhooks import Webhook, WebhookVerificationError

    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(got.body, got.headers, json_parse=False)


async def test_no_secret_no_webhook_notice(make_api: AppFactory, receiver: Receiver) -> None:
    api = await make_api(delivery=hooks())
    sent = await send(api, ["HUN"])
    await settle(api)
    assert await services(api).tracker.store.notices(sent["id"]) == []
    assert receiver.received == []


async def test_the_secret_endpoint_is_for_the_admin_and_for_pocs_with_a_webhook(
    make_api: AppFactory, receiver: Receiver
) -> None:
    api = await make_api(delivery=hooks())
    as_poc = await api.call("POST", "/api/pocs/hun-1/webhook-secret", as_="hun-1")
    assert as_poc.status == 403
    none = await api.call("POST", "/api/pocs/srb-1/webhook-secret")
    assert none.status == 409
    assert "no webhook in the registry" in (await none.json())["error"]["message"]
    unknown = await api.call("POST", "/api/pocs/xyz-9/webhook-secret")
    assert unknown.status == 404
    anonymous = await api.call("POST", "/api/pocs/hun-1/webhook-secret", as_=None)
    assert anonymous.status == 401


async def test_json_and_cap_pocs_of_one_message(make_api: AppFactory, receiver: Receiver) -> None:
    api = await make_api(delivery=hooks())
    await subscribe(api, receiver, "hun-1", "rou-1", "aut-1")
    sent = await send(api, ["HUN", "ROU", "AUT"])
    await settle(api)
    got = {r.path: r for r in await receiver.wait_for(3)}
    assert set(got) == {"/hun-1", "/rou-1", "/aut-1"}
    assert all(r.verified for r in got.values())
    assert json.loads(got["/hun-1"].body)["data"]["message"]["id"] == sent["id"]
    assert got["/rou-1"].body.startswith(b"<?xml")
    delivered = webhook_events(await events(api, sent["id"], "delivered"))
    assert {d["poc"] for d in delivered} == {"hun-1", "rou-1", "aut-1"}


CONSULTATION = """\
kind: consultation
name: Contact details check
audience: {roles: [notification], countries: [HUN, ROU]}
deadline: 14d
questions:
  - {id: q1, text: Are your details up to date?, type: yes_no, required: true}
"""


async def test_a_consultation_invitation_is_json_for_every_format(
    make_api: AppFactory, receiver: Receiver
) -> None:
    api = await make_api(delivery=hooks())
    await subscribe(api, receiver, "hun-1", "rou-1")
    created = await api.json("POST", "/api/exercises", json={"scenario": CONSULTATION}, status=201)
    await settle(api)
    got = {r.path: r for r in await receiver.wait_for(2)}
    for path in ("/hun-1", "/rou-1"):  # rou-1 takes CAP, which has no place for it
        assert got[path].verified and got[path].headers["content-type"] == "application/json"
        WebhookNotice.model_validate_json(got[path].body)
        body = json_of(got[path])
        assert body["type"] == "consultation"
        consultation = body["data"]["consultation"]
        assert consultation["id"] == created["id"]
        assert consultation["name"] == "Contact details check"
        assert consultation["url"] == f"{PUBLIC_URL}/api/consultations/{created['id']}"
        assert consultation["deadline"].endswith("Z")
        assert body["data"]["reminder"] is False and "ack_url" not in body["data"]


def readme_receiver() -> dict[str, Any]:
    """The README's receiver example, run: its globals (`app`, and `hook`, which holds its
    secret and may be replaced, since the handler looks it up at each request)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    example = r"```python\n(from aiohttp import web\nfrom standardwebhooks.*?)```"
    found = re.search(example, readme, re.S)
    assert found, "the README's receiver example"
    code = found[1].replace("web.run_app(app, port=8443)", "")  # the test serves it
    code = code.replace('"whsec_…"', repr("whsec_" + "A" * 43 + "="))
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("right_secret", [True, False])
async def test_the_readme_receiver_example_accepts_our_notices_and_only_ours(
    make_api: AppFactory, tmp_path: Path, right_secret: bool
) -> None:
    from aiohttp import web
    from standardwebhooks import Webhook

    example = readme_receiver()
    runner = web.AppRunner(example["app"], shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/ians"
        path = tmp_path / "contacts-readme.yaml"
        path.write_text(
            "countries:\n"
            "  SRB: {name: Serbia, timezone: Europe/Belgrade,"
            " points_of_contact: [{id: srb-1, roles: [notification]}]}\n"
            "  HUN: {name: Hungary, timezone: Europe/Budapest,"
            f' points_of_contact: [{{id: hun-1, roles: [notification], webhook: "{url}"}}]}}\n'
        )
        api = await make_api(delivery=hooks(), registry=load_registry([path]))
        secret = (await api.json("POST", "/api/pocs/hun-1/webhook-secret", status=201))["secret"]
        if right_secret:
            example["hook"] = Webhook(secret)
        sent = await send(api, ["HUN"])
        await settle(api)
        found = webhook_events(await events(api, sent["id"]))
        if right_secret:
            assert [(e["kind"], e["answer"][:3]) for e in found] == [("delivered", "204")]
        else:
            assert [(e["kind"], e["answer"][:3], e["permanent"]) for e in found] == [
                ("delivery_failed", "401", True)
            ]
    finally:
        await runner.cleanup()


async def test_the_openapi_description_has_the_webhook_notice(
    make_api: AppFactory, receiver: Receiver
) -> None:
    api = await make_api(delivery=hooks())
    described = await api.json("GET", "/api/openapi.json", as_=None)
    notice = described["webhooks"]["notice"]["post"]
    content = notice["requestBody"]["content"]
    assert content["application/json"]["schema"]["$ref"].endswith("/WebhookNotice")
    assert "application/cap+xml" in content
    assert {"2XX", "410", "429", "5XX"} <= set(notice["responses"])
    assert "/api/pocs/{poc_id}/webhook-secret" in described["paths"]

"""Notices out by e-mail through the outbox, against a real SMTP sink on 127.0.0.1: what
arrives, the acknowledgement link, retries on the clock, permanent failures, restarts."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from lxml import etree

from ians.cap.xml import NS, SCHEMA_PATH
from ians.clock import ManualClock
from tests.conftest import T0, AppFactory, early_warning
from tests.email_fixtures import (
    EMAIL_REGISTRY,
    ack_link,
    channels,
    events,
    html_part,
    services,
    settle,
    text_part,
)
from tests.smtp_sink import SmtpSink

REGISTRY = EMAIL_REGISTRY  # what the `registry` fixture loads (tests/conftest.py)


async def send(api: Any, **extra: Any) -> dict[str, Any]:
    body = early_warning(sender="SRB", to=extra.pop("to", ["HUN", "ROU"]), **extra)
    sent: dict[str, Any] = await api.json("POST", "/api/messages", json=body, status=201)
    return sent


async def test_a_notice_arrives_with_its_subject_headers_content_and_link(
    make_api: AppFactory, sink: SmtpSink
) -> None:
    api = await make_api(delivery=channels(sink.port))
    sent = await send(api)
    await settle(api)
    mails = await sink.wait_for(2)
    assert sorted(m.rcpt_tos[0] for m in mails) == ["ian@hun.example", "ian@rou.example"]
    mail = next(m for m in mails if m.rcpt_tos == ["ian@hun.example"])
    email = mail.message
    assert email["Subject"] == f"[EXERCISE] Early warning from Serbia [{sent['id']}]"
    assert email["From"] == "IAN System <ians@secretariat.test>"
    assert email["To"] == "ian@hun.example"
    assert email["Auto-Submitted"] == "auto-generated"
    assert email["X-IANS-Message"] == sent["id"]
    assert email["X-IANS-Mode"] == "exercise"
    assert re.fullmatch(rf"<n\d+\.{sent['id']}@secretariat\.test>", email["Message-ID"])
    assert re.fullmatch(r"ack\+n\d+-[A-Za-z0-9_-]{10}@secretariat\.test", email["Reply-To"])
    assert mail.mail_from == email["Reply-To"]  # bounces name the notice too
    text = text_part(email)
    assert text.startswith("EXERCISE — EXERCISE — EXERCISE")
    assert "Location: Pančevo (44.87, 20.64)" in text
    assert "or reply ACK to this e-mail" in text
    assert ack_link(email) in html_part(email)
    assert "Acknowledge receipt" in html_part(email)
    delivered = await events(api, sent["id"], "delivered")
    by_email = [e for e in delivered if e.get("channel") == "email"]
    assert {e["poc"] for e in by_email} == {"hun-1", "rou-1"}
    assert all(e["answer"].startswith("250") and e["attempt"] == 1 for e in by_email)


async def test_a_notice_carries_the_message_as_a_valid_cap_alert(
    make_api: AppFactory, sink: SmtpSink
) -> None:
    api = await make_api(delivery=channels(sink.port))
    sent = await send(api, to=["HUN"])
    await settle(api)
    (mail,) = await sink.wait_for(1)
    (part,) = [p for p in mail.message.walk() if p.get_filename() == f"{sent['id']}.cap.xml"]
    assert part.get_content_type() == "application/cap+xml"
    alert = etree.fromstring(part.get_payload(decode=True))
    etree.XMLSchema(etree.parse(str(SCHEMA_PATH))).assertValid(alert)
    assert alert.findtext(f"{{{NS}}}identifier") == sent["id"]
    assert alert.findtext(f"{{{NS}}}status") == "Exercise"


async def test_a_bare_get_of_the_link_does_not_acknowledge_and_the_post_does(
    make_api: AppFactory, sink: SmtpSink
) -> None:
    api = await make_api(delivery=channels(sink.port))
    sent = await send(api, to=["HUN"])
    await settle(api)
    link = ack_link((await sink.wait_for(1))[0].message)
    for _ in range(3):  # a mail scanner, then the person, then the scanner again
        page = await api.client.get(link)
        assert page.status == 200
        html = await page.text()
        assert "<button" in html and "Acknowledge" in html
        assert page.headers["Referrer-Policy"] == "no-referrer"
    state = await api.json("GET", f"/api/messages/{sent['id']}")
    assert state["recipients"][0]["status"] == "pending"
    assert [e["poc"] for e in await events(api, sent["id"], "link_opened")] == ["hun-1"] * 3
    assert await events(api, sent["id"], "acknowledged") == []
    page = await api.client.post(link)
    assert page.status == 200
    assert "hun-1 acknowledged this message" in await page.text()
    state = await api.json("GET", f"/api/messages/{sent['id']}")
    assert state["recipients"][0]["status"] == "acknowledged"
    assert state["recipients"][0]["acknowledged_by"] == "hun-1"
    [ack] = await events(api, sent["id"], "acknowledged")
    assert ack["via"] == "link"
    again = await api.client.post(link)  # a repeated POST answers the first ack
    assert again.status == 200
    assert len(await events(api, sent["id"], "acknowledged")) == 1


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # the signature
        lambda t: t.split(".")[0] + "." + t.split(".")[1][:-1] + "x." + t.split(".")[2],
        lambda t: "00000000." + t.split(".", 1)[1],  # an unknown key id
        lambda t: t.replace(".", "", 1),  # not three parts
        lambda t: "x" * 3000,
    ],
    ids=["signature", "claims", "key id", "shape", "huge"],
)
async def test_a_tampered_link_is_a_404_page_and_acknowledges_nothing(
    make_api: AppFactory, sink: SmtpSink, tamper: Any
) -> None:
    api = await make_api(delivery=channels(sink.port))
    sent = await send(api, to=["HUN"])
    await settle(api)
    link = ack_link((await sink.wait_for(1))[0].message)
    bad = "/ack/" + tamper(link.removeprefix("/ack/"))
    for method in ("GET", "POST"):
        page = await api.client.request(method, bad)
        assert page.status == 404
        assert "not valid" in await page.text()
    assert await events(api, sent["id"], "acknowledged") == []
    assert await events(api, sent["id"], "link_opened") == []


async def test_a_link_expires_seven_days_after_the_give_up(
    make_api: AppFactory, sink: SmtpSink, clock: ManualClock
) -> None:
    api = await make_api(delivery=channels(sink.port))
    await send(api, to=["HUN"])  # give-up after 2h (the tests' policy)
    await settle(api)
    link = ack_link((await sink.wait_for(1))[0].message)
    clock.set(T0 + timedelta(hours=2, days=7) - timedelta(seconds=1))
    assert (await api.client.get(link)).status == 200
    clock.set(T0 + timedelta(hours=2, days=7))
    assert (await api.client.get(link)).status == 404
    assert (await api.client.post(link)).status == 404


async def test_smtp_down_at_send_is_retried_on_the_clock_and_delivered_once_it_is_back(
    make_api: AppFactory, sink: SmtpSink, clock: ManualClock
) -> None:
    api = await make_api(delivery=channels(sink.port))
    await sink.stop()
    sent = await send(api, to=["HUN"])
    await settle(api)
    [failed] = await events(api, sent["id"], "delivery_failed")
    assert failed["permanent"] is False and failed["attempt"] == 1
    assert "cannot connect" in failed["answer"]
    clock.advance(timedelta(seconds=9))  # the first retry is due after 10 s
    await settle(api)
    assert len(await events(api, sent["id"], "delivery_failed")) == 1
    clock.advance(timedelta(seconds=1))
    await settle(api)  # still down: the second retry is a minute later
    assert len(await events(api, sent["id"], "delivery_failed")) == 2
    await sink.start()
    clock.advance(timedelta(minutes=1))
    await settle(api)
    [mail] = await sink.wait_for(1)
    [delivered] = [e for e in await events(api, sent["id"], "delivered") if e["channel"] == "email"]
    assert delivered["attempt"] == 3
    [notice] = await services(api).tracker.store.notices(sent["id"])
    # the id the failed attempts carried too: it is the notice's, fixed when it was stored
    assert mail.message["Message-ID"] == f"<n{notice.id}.{sent['id']}@secretariat.test>"
    clock.advance(timedelta(minutes=5))  # past every retry the schedule had left
    await settle(api)
    same = [m for m in sink.received if m.message["Message-ID"] == mail.message["Message-ID"]]
    assert len(same) == 1  # delivered once
    assert mail.message["X-IANS-Message"] == sent["id"]


async def test_a_4xx_then_a_2xx_delivers_with_the_same_message_id(
    make_api: AppFactory, sink: SmtpSink, clock: ManualClock
) -> None:
    api = await make_api(delivery=channels(sink.port))
    sink.handler.data_answers.append("451 4.3.0 Try again later")
    sent = await send(api, to=["HUN"])
    await settle(api)
    [failed] = await events(api, sent["id"], "delivery_failed")
    assert failed["answer"] == "451 4.3.0 Try again later" and failed["permanent"] is False
    clock.advance(timedelta(seconds=10))
    await settle(api)
    [first] = sink.handler.refused
    [second] = await sink.wait_for(1)
    assert first.message["Message-ID"] == second.message["Message-ID"]
    [delivered] = [e for e in await events(api, sent["id"], "delivered") if e["channel"] == "email"]
    assert delivered["attempt"] == 2 and delivered["answer"].startswith("250")


async def test_a_550_is_a_permanent_failure_that_escalates_the_country_at_once(
    make_api: AppFactory, sink: SmtpSink
) -> None:
    api = await make_api(delivery=channels(sink.port))
    sink.handler.refuse_rcpt["ian@hun.example"] = "550 5.1.1 No such user"
    sent = await send(api, to=["HUN"])
    await settle(api)
    [failed] = await events(api, sent["id"], "delivery_failed")
    assert failed["permanent"] is True and failed["answer"] == "550 5.1.1 No such user"
    [escalated] = await events(api, sent["id"], "escalated")
    assert escalated["poc"] == "hun-2"
    assert "delivery failed" in escalated["because"]
    [mail] = await sink.wait_for(1)
    assert mail.rcpt_tos == ["duty@hun.example"]
    state = await api.json("GET", f"/api/messages/{sent['id']}")
    assert state["recipients"][0]["escalations"] == 1
    inbox = await api.json("GET", "/api/inbox", as_="hun-2")
    assert [m["message"]["id"] for m in inbox["messages"]] == [sent["id"]]


async def test_the_scheduled_escalation_after_an_early_one_reaches_no_one_twice(
    make_api: AppFactory, sink: SmtpSink, clock: ManualClock
) -> None:
    api = await make_api(delivery=channels(sink.port))
    sink.handler.refuse_rcpt["ian@hun.example"] = "550 5.1.1 No such user"
    sent = await send(api, to=["HUN"])
    await settle(api)
    clock.advance(timedelta(minutes=30))  # the plan's escalation: HUN has no third PoC
    await settle(api)
    assert [e["poc"] for e in await events(api, sent["id"], "escalated")] == ["hun-2"]
    reminded = {e["poc"] for e in await events(api, sent["id"], "reminded")}
    assert reminded == {"hun-1", "hun-2"}


async def test_reminders_are_e_mails_that_say_so(
    make_api: AppFactory, sink: SmtpSink, clock: ManualClock
) -> None:
    api = await make_api(delivery=channels(sink.port))
    sent = await send(api, to=["ROU"])
    await settle(api)
    clock.advance(timedelta(minutes=15))
    await settle(api)
    first, reminder = await sink.wait_for(2)
    subject = f"[EXERCISE] Reminder: Early warning from Serbia [{sent['id']}]"
    assert reminder.message["Subject"] == subject
    assert first.message["Message-ID"] != reminder.message["Message-ID"]
    assert "Reminder: not acknowledged yet" in text_part(reminder.message)


async def test_a_burst_shares_a_few_smtp_sessions(make_api: AppFactory, sink: SmtpSink) -> None:
    api = await make_api(delivery=channels(sink.port))
    await send(api, to=["HUN", "ROU"])
    await send(api, to=["HUN", "ROU"])
    await send(api, to=["HUN", "ROU"])
    await settle(api)
    await sink.wait_for(6)
    email = services(api).email
    assert email is not None
    assert email.sender.sessions_opened <= 2 * 2  # the settings allow 2 sessions at once


async def test_a_poc_without_an_address_gets_no_e_mail(
    make_api: AppFactory, sink: SmtpSink
) -> None:
    api = await make_api(delivery=channels(sink.port))
    sent = await send(api, to=["AUT", "HUN"])
    await settle(api)
    await sink.wait_for(1)
    assert [m.rcpt_tos for m in sink.received] == [["ian@hun.example"]]
    assert [n.poc for n in await services(api).tracker.store.notices(sent["id"])] == ["hun-1"]


async def test_a_restart_with_undelivered_notices_delivers_each_once(
    make_api: AppFactory, sink: SmtpSink, clock: ManualClock
) -> None:
    api = await make_api(delivery=channels(sink.port))
    await sink.stop()
    sent = await send(api, to=["HUN", "ROU"])
    await settle(api)
    assert len(await events(api, sent["id"], "delivery_failed")) == 2
    await api.client.close()  # the server stops with both notices pending
    await sink.start()
    clock.advance(timedelta(seconds=10))
    api = await make_api(delivery=channels(sink.port))
    await settle(api)
    mails = await sink.wait_for(2)
    clock.advance(timedelta(minutes=6))  # past every retry the schedule had left
    await settle(api)
    assert sorted(m.rcpt_tos[0] for m in mails) == ["ian@hun.example", "ian@rou.example"]
    assert len(sink.received) == 2
    delivered = await events(api, sent["id"], "delivered")
    assert [e["poc"] for e in delivered if e["channel"] == "email"] == ["hun-1", "rou-1"]


async def test_without_smtp_settings_e_mail_is_off_and_the_server_says_so(
    make_api: AppFactory, sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ians.services")
    api = await make_api()
    sent = await send(api, to=["HUN"])
    await services(api).tracker.dispatcher.drain()
    assert services(api).outbox is None
    assert await services(api).tracker.store.notices(sent["id"]) == []
    said = [r.getMessage() for r in caplog.records if "e-mail is off" in r.getMessage()]
    assert len(said) == 1


CONSULTATION = """\
kind: consultation
name: Contact details check
audience: {roles: [notification], countries: [HUN]}
deadline: 14d
reminders: [2d]
questions:
  - {id: q1, text: Are your details up to date?, type: yes_no, required: true}
"""

DRILL = """\
kind: drill
name: Danube drill
mode: exercise
participants: [SRB, HUN]
injects:
  - id: ew1
    at: 0m
    type: early_warning
    from: SRB
    to: [HUN]
    content:
      event_type: release
      occurred_at: start
      location: {name: Pančevo, lat: 44.87, lon: 20.64}
"""


async def test_consultation_invitations_and_reminders_go_by_e_mail(
    make_api: AppFactory, sink: SmtpSink, clock: ManualClock
) -> None:
    api = await make_api(delivery=channels(sink.port))
    created = await api.json("POST", "/api/exercises", json={"scenario": CONSULTATION}, status=201)
    await settle(api)
    invitations = await sink.wait_for(2)
    assert sorted(m.rcpt_tos[0] for m in invitations) == ["duty@hun.example", "ian@hun.example"]
    subject = invitations[0].message["Subject"]
    assert subject == f"Consultation: Contact details check [{created['id']}]"
    assert f"/api/consultations/{created['id']}" in text_part(invitations[0].message)
    await api.json(
        "POST",
        f"/api/consultations/{created['id']}/responses",
        "hun-1",
        json={"answers": {"q1": True}},
        status=201,
    )
    clock.advance(timedelta(days=12))  # the reminder, 2 days before the deadline
    await settle(api)
    [*_, reminder] = await sink.wait_for(3)
    assert reminder.rcpt_tos == ["duty@hun.example"]  # hun-1 has answered
    assert reminder.message["Subject"].startswith("Reminder: Consultation: ")


async def test_a_drill_at_speed_sends_its_injects_by_e_mail_and_retries_at_its_speed(
    make_api: AppFactory, sink: SmtpSink, clock: ManualClock
) -> None:
    api = await make_api(delivery=channels(sink.port))
    await sink.stop()
    created = await api.json(
        "POST", "/api/exercises", json={"scenario": DRILL, "speed": 10}, status=201
    )
    await settle(api)
    [notice] = await services(api).tracker.store.notices(
        (await services(api).tracker.store.exercise_facts(created["id"])).messages[0].message.id
    )
    assert notice.attempts == 1
    await sink.start()
    clock.advance(timedelta(seconds=1))  # the 10 s retry, 10 times faster
    await settle(api)
    [mail] = await sink.wait_for(1)
    assert mail.message["Subject"].startswith("[EXERCISE] Early warning from Serbia [ew-")
    assert mail.message["X-IANS-Mode"] == "exercise"
    ack_link(mail.message)


async def test_the_link_key_is_generated_once_and_kept_across_restarts(
    make_api: AppFactory, sink: SmtpSink
) -> None:
    api = await make_api(delivery=channels(sink.port))
    await send(api, to=["HUN"])
    await settle(api)
    link = ack_link((await sink.wait_for(1))[0].message)
    await api.client.close()
    api = await make_api(delivery=channels(sink.port))
    assert (await api.client.get(link)).status == 200
    await api.client.close()
    api = await make_api(delivery=channels(sink.port), link_key="a key from the settings")
    assert (await api.client.get(link)).status == 404  # signed with another key

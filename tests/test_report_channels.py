"""A drill through real channels (SMTP out to a sink, the SMTP listener in, the API): a
bounce, an automatic reply, a reply, a link and the inbox, and the report saying how each
country was reached and answered."""

from __future__ import annotations

from datetime import timedelta

from ians.clock import ManualClock
from tests.conftest import AppFactory
from tests.email_fixtures import (
    EMAIL_DRILL,
    EMAIL_REGISTRY,
    ack_link,
    channels,
    deliver_in,
    reply_to,
    services,
    settle,
)
from tests.smtp_sink import SmtpSink
from tests.test_email_in import bounce

REGISTRY = EMAIL_REGISTRY  # what the `registry` fixture loads (tests/conftest.py)


async def test_the_report_of_a_drill_with_a_bounce_an_auto_reply_a_reply_a_link_and_the_inbox(
    make_api: AppFactory, sink: SmtpSink, clock: ManualClock
) -> None:
    api = await make_api(delivery=channels(sink.port, inbound_port=0))
    port = services(api).inbound_port
    assert port is not None
    created = await api.json("POST", "/api/exercises", json={"scenario": EMAIL_DRILL}, status=201)
    await settle(api)
    mails = {m.rcpt_tos[0]: m.message for m in await sink.wait_for(2)}
    hun, rou = mails["ian@hun.example"], mails["ian@rou.example"]

    # HUN's first address bounces: IANS escalates to hun-2 at once, who replies ACK
    await deliver_in(port, bounce(hun, "5.1.1"), str(hun["Reply-To"]), mail_from="")
    await settle(api)
    duty = next(m.message for m in await sink.wait_for(3) if m.rcpt_tos == ["duty@hun.example"])
    clock.advance(timedelta(minutes=4))
    await deliver_in(port, reply_to(duty, "ACK", sender="duty@hun.example"), str(duty["Reply-To"]))
    # ROU is out of the office, then a colleague presses the link's button
    out_of_office = reply_to(
        rou, "Out of office", sender="ian@rou.example", Auto_Submitted="auto-replied"
    )
    await deliver_in(port, out_of_office, str(rou["Reply-To"]), mail_from="ian@rou.example")
    clock.advance(timedelta(minutes=6))
    assert (await api.client.post(ack_link(rou))).status == 200
    # AUT has no address: it reads its inbox and acknowledges by the API
    [entry] = (await api.json("GET", "/api/inbox", as_="aut-1"))["messages"]
    clock.advance(timedelta(minutes=40))
    await api.json("POST", f"/api/messages/{entry['message']['id']}/ack", as_="aut-1")
    replies = services(api).replies
    assert replies is not None
    await replies.drain()
    await settle(api)

    report = await api.json("GET", f"/api/exercises/{created['id']}/report")
    assert report["exercise"]["state"] == "completed"
    rows = {r["country"]: r for r in report["recipients"]}
    hun_row, rou_row, aut_row = rows["HUN"], rows["ROU"], rows["AUT"]
    assert (hun_row["acknowledged_by"], hun_row["acknowledged_via"]) == ("hun-2", "email")
    assert hun_row["channels"] == {"email": "replied", "inbox": "delivered"}
    assert hun_row["escalations"] == 1 and hun_row["reached"] is True
    assert (rou_row["acknowledged_via"], rou_row["channels"]["email"]) == ("link", "replied")
    assert aut_row["channels"] == {"inbox": "replied"} and aut_row["acknowledged_via"] == "api"
    assert aut_row["within_target"] is False  # 50 minutes, target 30

    email = next(f for f in report["channels"] if f["channel"] == "email")
    assert email == {
        "channel": "email",
        "sent": 2,
        "delivered": 2,
        "acknowledged": 2,  # HUN by reply, ROU by link
        "bounced": 1,  # hun-1's address
        "auto_replies": 1,  # rou-1's out-of-office
    }
    indicators = {i["id"]: (i["value"], i["of"]) for i in report["summary"]["indicators"]}
    assert indicators["reached"] == (3, 3)
    assert indicators["first_poc"] == (2, 3)  # HUN needed its second PoC
    assert indicators["within_target"] == (2, 3)

    md = await api.call("GET", f"/api/exercises/{created['id']}/report?format=md")
    text = await md.text()
    assert "| email | 2 | 2 | 2 | 1 | 1 |" in text
    assert "| ew1 | HUN Hungary | yes | email answered, inbox delivered | email | hun-2 |" in text
    html = await (
        await api.call("GET", f"/api/exercises/{created['id']}/report?format=html")
    ).text()
    assert "→ hun-2" in html and "hun-2 · email" in html  # the swim lanes say who and how
    assert "automatic reply" in html and "bounced or failed" in html  # marks in the legend

"""The whole e-mail loop: a scaled drill whose simulated PoCs reply to their notice
e-mails through the listener, and the report saying how each country acknowledged."""

from __future__ import annotations

from datetime import timedelta

from ians.clock import ManualClock
from tests.conftest import AppFactory
from tests.email_fixtures import EMAIL_DRILL, EMAIL_REGISTRY, ack_link, channels, services, settle
from tests.smtp_sink import SmtpSink

REGISTRY = EMAIL_REGISTRY  # what the `registry` fixture loads (tests/conftest.py)


async def test_a_scaled_drill_runs_the_whole_loop_with_simulated_pocs_replying(
    make_api: AppFactory, sink: SmtpSink, clock: ManualClock
) -> None:
    api = await make_api(delivery=channels(sink.port, inbound_port=0))
    created = await api.json(
        "POST",
        "/api/exercises",
        json={"scenario": EMAIL_DRILL, "speed": 60, "simulate": ["HUN", "AUT"], "seed": 3},
        status=201,
    )
    await settle(api)
    mails = await sink.wait_for(2)  # HUN and ROU have addresses; AUT has none
    rou = next(m for m in mails if m.rcpt_tos == ["ian@rou.example"])
    await api.client.get(ack_link(rou.message))  # a scanner opens ROU's link
    for _ in range(240):  # 4 h of scenario time in steps of one scenario minute
        clock.advance(timedelta(seconds=1))
        await settle(api)
        exercise = await api.json("GET", f"/api/exercises/{created['id']}")
        if exercise["state"] != "running":
            break
        if exercise["progress"]["pending"] == 1:  # only ROU is left: a person acknowledges
            assert (await api.client.post(ack_link(rou.message))).status == 200
    assert exercise["state"] == "completed"
    report = await api.json("GET", f"/api/exercises/{created['id']}/report?format=json")
    rows = {r["country"]: r for r in report["recipients"]}
    assert rows["HUN"]["acknowledged_via"] == "email"  # simulated, by reply to its e-mail
    assert (rows["HUN"]["simulated"], rows["AUT"]["simulated"]) == (True, True)
    assert rows["ROU"]["simulated"] is False  # a person pressed the button
    assert rows["AUT"]["acknowledged_via"] == "api"  # simulated, no address: the API path
    assert rows["ROU"]["acknowledged_via"] == "link"
    assert all(r["delivered_at"] is not None for r in rows.values())
    assert all(r["acknowledged_at"] is not None for r in rows.values())
    replies = services(api).replies
    assert replies is not None
    await replies.drain()
    answers = [m for m in sink.received if m.message["Auto-Submitted"] == "auto-replied"]
    assert [m.rcpt_tos for m in answers] == [["ian@hun.example"]]  # what IANS recorded

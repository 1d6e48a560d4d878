"""The improvement plan: found from an exercise's facts on a registry with office-hours-only
PoCs, edited by the secretariat, kept with the exercise and shown in every format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ians.clock import ManualClock
from ians.domain.chase import Chase, ChaseStatus, Event, EventKind
from ians.reports.channels import Reach
from ians.reports.findings import PocFacts, automatic_findings
from ians.web.keys import tracker_key
from tests.conftest import T0, Api

BOTH_BACKENDS = True  # also on PostgreSQL (tests/conftest.py)

DRILL = """\
kind: drill
name: Findings drill
mode: exercise
participants: [SRB, HUN, ROU]
policy: {ack_within: 30m, reminders: [15m], escalate_every: 30m, give_up_after: 2h}
injects:
  - id: ew1
    at: 0m
    type: early_warning
    from: SRB
    to: [HUN, ROU]
    content: {event_type: release, occurred_at: start,
              location: {name: Pančevo, lat: 44.87, lon: 20.64}}
"""


async def run_drill(api: Api, clock: ManualClock) -> str:
    """HUN's first PoC (office hours only) does not answer, its second does after the
    escalation; ROU never answers; then the exercise is stopped."""
    tracker = api.app[tracker_key]
    created = await api.json("POST", "/api/exercises", json={"scenario": DRILL}, status=201)
    await tracker.timers.run_due()
    clock.advance(timedelta(minutes=31))
    await tracker.timers.run_due()  # the reminder at 15m, the escalation to hun-2 at 30m
    [entry] = (await api.json("GET", "/api/inbox", as_="hun-2"))["messages"]
    await api.json("POST", f"/api/messages/{entry['message']['id']}/ack", as_="hun-2")
    await api.json("POST", f"/api/exercises/{created['id']}/stop")
    return str(created["id"])


async def test_findings_on_a_registry_with_office_hours_only_pocs(
    api: Api, clock: ManualClock
) -> None:
    store = api.app[tracker_key].store
    await api.json("POST", "/api/pocs/hun-2/confirm-details", as_="hun-2")  # today
    await store.confirm_details("rou-1", T0 - timedelta(days=400))  # too long ago
    exercise_id = await run_drill(api, clock)

    found = await api.json("GET", f"/api/exercises/{exercise_id}/findings")
    assert found["edited_at"] is None
    listed = [(f["kind"], f["country"], f["poc"]) for f in found["items"]]
    assert listed == [
        ("office_hours", "HUN", "hun-1"),  # Mon-Fri 08:00-16:00; ROU's rou-1 is 24/7
        ("never_answered", "HUN", "hun-1"),
        ("never_answered", "ROU", "rou-1"),
        ("not_confirmed", "HUN", "hun-1"),
        ("not_confirmed", "HUN", "hun-3"),  # hun-2 confirmed; SRB only sent
        ("not_confirmed", "ROU", "rou-1"),
        ("escalation", "HUN", None),
    ]
    office = found["items"][0]
    assert "Mon-Fri 08:00-16:00" in office["issue"] and "Art. 17" in office["action"]
    assert "last on 2025-10-23" in found["items"][5]["issue"]

    report = await api.json("GET", f"/api/exercises/{exercise_id}/report")
    assert report["findings"] == found
    md = await (await api.call("GET", f"/api/exercises/{exercise_id}/report?format=md")).text()
    assert "## Improvement plan (found automatically)" in md
    assert "| Issue | Country | Suggested action |" in md
    csv = await (await api.call("GET", f"/api/exercises/{exercise_id}/findings?format=csv")).text()
    assert csv.splitlines()[0] == "kind,country,poc,issue,action"
    assert len(csv.splitlines()) == 1 + 7


async def test_the_secretariat_edits_the_plan_and_every_format_shows_the_edit(
    api: Api, clock: ManualClock
) -> None:
    exercise_id = await run_drill(api, clock)
    found = (await api.json("GET", f"/api/exercises/{exercise_id}/findings"))["items"]
    kept = [f for f in found if f["kind"] == "office_hours"]
    kept[0] = {**kept[0], "action": "HUN names its 24/7 duty officer by March."}
    added = {
        "country": "ROU",
        "issue": "The duty phone was not answered.",
        "action": "Test it monthly.",
    }
    clock.advance(timedelta(hours=2))
    edited = await api.json(
        "PUT", f"/api/exercises/{exercise_id}/findings", json={"items": [*kept, added]}
    )
    assert edited["edited_at"] == "2026-11-27T11:31:00Z"
    assert [i["action"] for i in edited["items"]] == [
        "HUN names its 24/7 duty officer by March.",
        "Test it monthly.",
    ]
    assert edited["items"][1] == {"kind": None, "poc": None, **added}
    report = await api.json("GET", f"/api/exercises/{exercise_id}/report")
    assert report["findings"] == edited
    for fmt in ("md", "html"):
        page = await (
            await api.call("GET", f"/api/exercises/{exercise_id}/report?format={fmt}")
        ).text()
        assert "Improvement plan (edited 2026-11-27 11:31:00 UTC)" in page
        assert "HUN names its 24/7 duty officer by March." in page
        assert "never acknowledged" not in page.split("Improvement plan")[1].split("Channels")[0]

    # kept with the exercise: a second edit replaces the first
    await api.json("PUT", f"/api/exercises/{exercise_id}/findings", json={"items": []})
    assert (await api.json("GET", f"/api/exercises/{exercise_id}/findings"))["items"] == []


async def test_a_bad_plan_is_refused_naming_every_field_and_nothing_is_kept(
    api: Api, clock: ManualClock
) -> None:
    exercise_id = await run_drill(api, clock)
    bad = {"items": [{"issue": "", "action": "x", "country": "hu"}, {"issue": "y"}]}
    refused = await api.json("PUT", f"/api/exercises/{exercise_id}/findings", json=bad, status=422)
    fields = {d["field"] for d in refused["error"]["details"]}
    assert fields >= {"items[0].issue", "items[0].country", "items[1].action"}, refused
    assert (await api.json("GET", f"/api/exercises/{exercise_id}/findings"))["edited_at"] is None
    await api.json("PUT", "/api/exercises/nope/findings", json={"items": []}, status=404)


def test_bounced_addresses_and_escalations_from_hand_made_facts() -> None:
    at = datetime(2026, 11, 27, 9, tzinfo=UTC)
    chases = [
        Chase("m1", "HUN", ("hun-1", "hun-2"), at, ChaseStatus.ACKNOWLEDGED, 1, 2, 0, at, "hun-2"),
        Chase("m2", "HUN", ("hun-1", "hun-2"), at, ChaseStatus.ACKNOWLEDGED, 1, 2, 0, at, "hun-2"),
    ]
    events = [Event(at, EventKind.ACKNOWLEDGED, "m1", "HUN", "hun-2")]
    reaches = {("m1", "HUN"): Reach({"email": "replied"}, True, (("hun-1", "email"),))}
    pocs = {
        "hun-1": PocFacts("HUN", "24/7", True, {"email": "ian@hun.example"}),
        "hun-2": PocFacts("HUN", "24/7", True, {}),
    }
    confirmed = {"hun-1": at, "hun-2": at}
    found = automatic_findings(chases, events, reaches, pocs, confirmed, at)
    assert [(f.kind, f.poc) for f in found] == [
        ("never_answered", "hun-1"),
        ("bounced", "hun-1"),
        ("escalation", None),
    ]
    assert "(ian@hun.example)" in found[1].issue
    assert found[2].issue == "2 messages had to be escalated (2 further PoCs notified)."

"""Acknowledgement-time reports (SPEC §10): the maths, the report from hand-made facts
(every figure worked out by hand below), scenario time at speed N, and the renderers."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ians.domain.chase import Chase, ChaseStatus, Event, EventKind
from ians.domain.messages import (
    AssistanceItem,
    AssistanceRequestContent,
    AssistanceResponseContent,
    Content,
    EarlyWarningContent,
    Location,
    Message,
    MessageType,
    Mode,
)
from ians.domain.policy import AckPolicy
from ians.errors import InvalidInput
from ians.reports.build import build_report
from ians.reports.facts import Exercise, ExerciseFacts, SentMessage
from ians.reports.render import FORMATS, media_type, render
from ians.reports.stats import nearest_rank, rate, summary_seconds

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# --- maths ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([10, 20, 30, 40], 0.5, 20),  # the 2nd of 4, not the mean of the middle two
        ([40, 10, 30, 20], 0.5, 20),  # order of input does not matter
        ([10, 20, 30], 0.5, 20),
        (list(range(1, 11)), 0.9, 9),
        (list(range(1, 21)), 0.9, 18),
        (list(range(1, 11)), 0.7, 7),  # 0.7 · 10 is 7 exactly, not 7.000000000000001
        (list(range(1, 11)), 1.0, 10),
        (list(range(1, 11)), 0.01, 1),
        ([42], 0.5, 42),
        ([42], 0.9, 42),
        ([0, 0, 0], 0.9, 0),
        ([], 0.5, None),
    ],
)
def test_nearest_rank(values: list[float], p: float, expected: float | None) -> None:
    assert nearest_rank(values, p) == expected


@pytest.mark.parametrize("p", [0, -0.5, 1.01])
def test_a_percentile_outside_0_to_1_is_refused(p: float) -> None:
    with pytest.raises(ValueError, match="percentile"):
        nearest_rank([1, 2], p)


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(5, 6, 0.833), (4, 6, 0.667), (6, 6, 1.0), (0, 6, 0.0), (0, 0, 0.0), (1, 3, 0.333)],
)
def test_rate(part: int, whole: int, expected: float) -> None:
    assert rate(part, whole) == expected


def test_summary_seconds() -> None:
    assert summary_seconds([300, 1500, 600, 4800, 900, 300]) == {
        "median": 600,
        "p90": 4800,
        "max": 4800,
    }
    assert summary_seconds([]) == {"median": None, "p90": None, "max": None}


# --- hand-made facts ---------------------------------------------------------------
#
# Drill "Danube ammonia release", virtual clock from 09:00. Policy for the early warning
# and the response: ack within 30m; for the assistance request: ack within 15m. Both remind
# at 10m and 20m, escalate every 20m, give up after 1h.
#
# ew1  early_warning      09:00  SRB -> HUN, MDA, ROU
#   HUN  hun-1 acks 09:05                                     300 s, within 1800
#   MDA  reminded 09:10, 09:20; escalated to mda-2 09:20;
#        mda-2 acks 09:25                                     1500 s, within; 2 rem, 1 esc
#   ROU  reminded 09:10, 09:20; gave up 10:00, never acks     null; 2 rem, 0 esc (one PoC)
# ra1  assistance_request 09:40  SRB -> HUN, MDA, ROU
#   HUN  hun-2 acks 09:50; answers with resp at 10:10         600 s, within 900; resp 1800 s
#   MDA  reminded 09:50, 10:00; escalated 10:00; gave up 10:40;
#        mda-1 acks 11:00 (after the give-up)                 4800 s, late; 2 rem, 1 esc
#   ROU  reminded 09:50; rou-1 acks 09:55                     900 s == target: within; 1 rem
# resp assistance_response 10:10  HUN -> SRB (refers to ra1, sent by a PoC: no inject)
#   SRB  srb-1 acks 10:15                                     300 s, within 1800

POLICY = AckPolicy(
    ack_within="30m", reminders=["10m", "20m"], escalate_every="20m", give_up_after="1h"
)
REQUEST_POLICY = POLICY.with_overrides({"ack_within": "15m"})

EW = EarlyWarningContent(
    event_type="release",
    occurred_at=T0,
    location=Location(name="Pančevo", lat=44.87, lon=20.64),
)
RA = AssistanceRequestContent(
    assistance=[AssistanceItem(kind="experts", description="Ammonia response team")]
)
RESP = AssistanceResponseContent(decision="accept", offer="A team of 6")


def message(
    id_: str,
    type_: MessageType,
    sender: str,
    to: list[str],
    at: datetime,
    content: Content,
    refers_to: str | None = None,
) -> Message:
    return Message(
        id=id_,
        type=type_,
        mode=Mode.EXERCISE,
        sender=sender,
        to=to,
        sent_at=at,
        refers_to=refers_to,
        content=content,
        exercise_id="ex-1",
    )


def ev(
    at: datetime,
    kind: EventKind,
    msg: str,
    country: str,
    poc: str | None = None,
    due: datetime | None = None,
) -> Event:
    return Event(at, kind, msg, country, poc, due)


def drill_facts() -> ExerciseFacts:
    ew1 = message("ew-1", MessageType.EARLY_WARNING, "SRB", ["HUN", "MDA", "ROU"], m(0), EW)
    ra1 = message("ra-1", MessageType.ASSISTANCE_REQUEST, "SRB", ["HUN", "MDA", "ROU"], m(40), RA)
    resp = message("resp-1", MessageType.ASSISTANCE_RESPONSE, "HUN", ["SRB"], m(70), RESP, "ra-1")
    A, G = ChaseStatus.ACKNOWLEDGED, ChaseStatus.GAVE_UP
    chases = [
        # deliberately not in row order: the report sorts
        Chase("ew-1", "ROU", ("rou-1",), m(0), G, 3, 1, 2, gave_up_at=m(60)),
        Chase("ew-1", "HUN", ("hun-1", "hun-2"), m(0), A, 0, 1, 0, m(5), "hun-1"),
        Chase("ew-1", "MDA", ("mda-1", "mda-2"), m(0), A, 3, 2, 2, m(25), "mda-2"),
        Chase("ra-1", "HUN", ("hun-2",), m(40), A, 0, 1, 0, m(50), "hun-2"),
        Chase("ra-1", "MDA", ("mda-1", "mda-2"), m(40), A, 4, 2, 2, m(120), "mda-1", m(100)),
        Chase("ra-1", "ROU", ("rou-1",), m(40), A, 1, 1, 1, m(55), "rou-1"),
        Chase("resp-1", "SRB", ("srb-1",), m(70), A, 0, 1, 0, m(75), "srb-1"),
    ]
    S, R, E, K, X = (
        EventKind.SENT,
        EventKind.REMINDED,
        EventKind.ESCALATED,
        EventKind.ACKNOWLEDGED,
        EventKind.GAVE_UP,
    )
    events = [
        ev(m(0), S, "ew-1", "HUN", "hun-1"),
        ev(m(0), S, "ew-1", "MDA", "mda-1"),
        ev(m(0), S, "ew-1", "ROU", "rou-1"),
        ev(m(5), K, "ew-1", "HUN", "hun-1"),
        ev(m(10), R, "ew-1", "MDA", "mda-1", m(10)),
        ev(m(10), R, "ew-1", "ROU", "rou-1", m(10)),
        ev(m(20), R, "ew-1", "MDA", "mda-1", m(20)),
        ev(m(20), E, "ew-1", "MDA", "mda-2", m(20)),
        ev(m(20), R, "ew-1", "ROU", "rou-1", m(20)),
        ev(m(25), K, "ew-1", "MDA", "mda-2"),
        ev(m(30), K, "ew-1", "MDA", "mda-1"),  # a second PoC: the country's ack stays 09:25
        ev(m(40), S, "ra-1", "HUN", "hun-2"),
        ev(m(40), S, "ra-1", "MDA", "mda-1"),
        ev(m(40), S, "ra-1", "ROU", "rou-1"),
        ev(m(50), K, "ra-1", "HUN", "hun-2"),
        ev(m(50), R, "ra-1", "MDA", "mda-1", m(50)),
        ev(m(50), R, "ra-1", "ROU", "rou-1", m(50)),
        ev(m(55), K, "ra-1", "ROU", "rou-1"),
        ev(m(60), X, "ew-1", "ROU", None, m(60)),
        ev(m(60), R, "ra-1", "MDA", "mda-1", m(60)),
        ev(m(60), E, "ra-1", "MDA", "mda-2", m(60)),
        ev(m(70), S, "resp-1", "SRB", "srb-1"),
        ev(m(75), K, "resp-1", "SRB", "srb-1"),
        ev(m(100), X, "ra-1", "MDA", None, m(100)),
        ev(m(120), K, "ra-1", "MDA", "mda-1"),
    ]
    exercise = Exercise(
        id="ex-1",
        name="Danube ammonia release",
        kind="drill",
        clock="virtual",
        speed=1,
        state="completed",
        started_at=T0,
        wall_started_at=T0,
        ended_at=m(120),
        seed=7,
    )
    messages = [
        SentMessage("ew1", ew1, POLICY),
        SentMessage("ra1", ra1, REQUEST_POLICY),
        SentMessage(None, resp, POLICY),
    ]
    return ExerciseFacts(exercise, messages, chases, events)


def row(country: str, ack: float | None, target: int, within: bool, rem: int, esc: int):  # type: ignore[no-untyped-def]
    return {
        "country": country,
        "ack_seconds": ack,
        "target_seconds": target,
        "within_target": within,
        "reminders": rem,
        "escalations": esc,
    }


def test_report_from_hand_made_facts() -> None:
    report = build_report(drill_facts()).model_dump(mode="json")

    assert report["exercise"] == {
        "id": "ex-1",
        "name": "Danube ammonia release",
        "kind": "drill",
        "clock": "virtual",
        "speed": 1,
        "state": "completed",
        "started_at": "2026-11-27T09:00:00Z",
        "ended_at": "2026-11-27T11:00:00Z",
        "simulated": True,
        "mode": "exercise",  # of its messages
    }
    # 7 rows; acked 300, 1500, 600, 4800, 900, 300 -> sorted 300 300 600 900 1500 4800:
    # median = 3rd = 600, p90 = ceil(5.4) = 6th = 4800
    indicators = {
        i["id"]: (i["value"], i["of"], i["rate"]) for i in report["summary"].pop("indicators")
    }
    assert indicators == {
        "reached": (6, 7, 0.857),  # no delivery recorded: only an acknowledgement proves it
        "acknowledged": (6, 7, 0.857),
        "within_target": (5, 7, 0.714),
        # HUN twice (hun-1, then hun-2 first for assistance), ROU's request, SRB; MDA escalated
        "first_poc": (4, 7, 0.571),
        "assistance_answered": (1, 3, 0.333),  # HUN, 30m after the request (within 2h)
    }
    by_country = {
        c["country"]: {i["id"]: i["value"] for i in c.pop("indicators")}
        for c in report["by_country"]
    }
    assert by_country["MDA"] == {
        "reached": 2,
        "acknowledged": 2,
        "within_target": 1,
        "first_poc": 0,
        "assistance_answered": 0,
    }
    assert by_country["HUN"]["assistance_answered"] == 1
    assert report["summary"] == {
        "recipients": 7,
        "acknowledged": 6,
        "ack_rate": 0.857,  # 6/7
        "within_target": 5,
        "within_target_rate": 0.714,  # 5/7
        "ack_seconds": {"median": 600, "p90": 4800, "max": 4800},
        "reminders": 7,  # 2 + 2 + 2 + 1
        "escalations": 2,  # MDA twice
        "reached": 6,
    }
    assert report["by_country"] == [
        {
            "country": "HUN",
            "recipients": 2,
            "acknowledged": 2,
            "within_target": 2,
            "ack_seconds": {"median": 300, "p90": 600, "max": 600},
            "reached": 2,
        },
        {
            "country": "MDA",
            "recipients": 2,
            "acknowledged": 2,
            "within_target": 1,
            "ack_seconds": {"median": 1500, "p90": 4800, "max": 4800},
            "reached": 2,
        },
        {
            "country": "ROU",
            "recipients": 2,
            "acknowledged": 1,
            "within_target": 1,
            "ack_seconds": {"median": 900, "p90": 900, "max": 900},
            "reached": 1,
        },
        {
            "country": "SRB",
            "recipients": 1,
            "acknowledged": 1,
            "within_target": 1,
            "ack_seconds": {"median": 300, "p90": 300, "max": 300},
            "reached": 1,
        },
    ]
    rows = report["recipients"]
    keys = ["country", "ack_seconds", "target_seconds", "within_target", "reminders", "escalations"]
    assert [{k: r[k] for k in keys} for r in rows] == [
        row("HUN", 300, 1800, True, 0, 0),
        row("MDA", 1500, 1800, True, 2, 1),
        row("ROU", None, 1800, False, 2, 0),
        row("HUN", 600, 900, True, 0, 0),
        row("MDA", 4800, 900, False, 2, 1),  # acknowledged after the give-up: counted, late
        row("ROU", 900, 900, True, 1, 0),  # exactly on target is within it
        row("SRB", 300, 1800, True, 0, 0),
    ]
    assert [(r["inject"], r["message_id"], r["type"]) for r in rows[2:5]] == [
        ("ew1", "ew-1", "early_warning"),
        ("ra1", "ra-1", "assistance_request"),
        ("ra1", "ra-1", "assistance_request"),
    ]
    assert rows[6]["inject"] is None and rows[6]["type"] == "assistance_response"
    assert rows[0] == {
        "inject": "ew1",
        "message_id": "ew-1",
        "type": "early_warning",
        "country": "HUN",
        "sent_at": "2026-11-27T09:00:00Z",
        "acknowledged_at": "2026-11-27T09:05:00Z",
        "acknowledged_by": "hun-1",
        "ack_seconds": 300,
        "target_seconds": 1800,
        "within_target": True,
        "reminders": 0,
        "escalations": 0,
        "responded_at": None,
        "response_seconds": None,
        "acknowledged_via": "api",  # events made by hand: no via, stored before it was kept
        "simulated": False,  # facts made by hand: no PoC played by IANS
        "delivered_at": None,  # these facts record no delivery
        "reached": True,  # its acknowledgement proves it
        "channels": {},
    }
    never = rows[2]
    assert (never["acknowledged_at"], never["acknowledged_by"]) == (None, None)
    assert (rows[1]["acknowledged_by"], rows[4]["acknowledged_by"]) == ("mda-2", "mda-1")
    # only HUN answered the request: 10:10 - 09:40
    assert [(r["responded_at"], r["response_seconds"]) for r in rows[3:6]] == [
        ("2026-11-27T10:10:00Z", 1800),
        (None, None),
        (None, None),
    ]
    assert isinstance(rows[0]["ack_seconds"], int)  # whole seconds are written as integers


def test_only_the_countrys_own_first_response_counts() -> None:
    facts = drill_facts()
    ra1 = facts.messages[1].message
    late = message("resp-2", MessageType.ASSISTANCE_RESPONSE, "HUN", ["SRB"], m(90), RESP, "ra-1")
    other = message("resp-3", MessageType.ASSISTANCE_RESPONSE, "ROU", ["SRB"], m(95), RESP, "ew-x")
    facts.messages.extend([SentMessage(None, late, POLICY), SentMessage(None, other, POLICY)])
    rows = build_report(facts).recipients
    requests = [r for r in rows if r.message_id == ra1.id]
    assert [(r.country, r.response_seconds) for r in requests] == [
        ("HUN", 1800),
        ("MDA", None),
        ("ROU", None),  # ROU's response refers to another message
    ]


def test_a_speed_60_exercise_reports_in_scenario_time() -> None:
    # scenario starts 09:00; the server ran it from 14:00, 60 times faster
    wall = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    exercise = Exercise(
        id="ex-2",
        name="Fast drill",
        kind="drill",
        clock="real",
        speed=60,
        state="running",
        started_at=T0,
        wall_started_at=wall,
        ended_at=None,
    )
    sent = wall + timedelta(seconds=30)  # scenario 09:30
    policy = AckPolicy(
        ack_within=timedelta(minutes=30) / 60,
        reminders=(),
        escalate_every=timedelta(minutes=20) / 60,
        give_up_after=timedelta(hours=1) / 60,
    )
    ew = message("ew-9", MessageType.EARLY_WARNING, "SRB", ["HUN", "ROU"], sent, EW)
    chases = [
        Chase(
            "ew-9",
            "HUN",
            ("hun-1",),
            sent,
            ChaseStatus.ACKNOWLEDGED,
            acknowledged_at=sent + timedelta(seconds=10),
            acknowledged_by="hun-1",
        ),
        Chase(
            "ew-9",
            "ROU",
            ("rou-1",),
            sent,
            ChaseStatus.ACKNOWLEDGED,
            acknowledged_at=sent + timedelta(seconds=0.0123456),
            acknowledged_by="rou-1",
        ),
    ]
    events = [Event(sent, EventKind.SENT, "ew-9", c.country, c.pocs[0]) for c in chases]
    events += [
        Event(c.acknowledged_at or sent, EventKind.ACKNOWLEDGED, "ew-9", c.country, c.pocs[0])
        for c in chases
    ]
    facts = ExerciseFacts(exercise, [SentMessage("ew1", ew, policy)], chases, events)

    report = build_report(facts).model_dump(mode="json")

    assert report["exercise"]["speed"] == 60
    assert report["exercise"]["ended_at"] is None
    hun, rou = report["recipients"]
    assert hun["sent_at"] == "2026-11-27T09:30:00Z"
    assert hun["acknowledged_at"] == "2026-11-27T09:40:00Z"
    assert (hun["ack_seconds"], hun["target_seconds"], hun["within_target"]) == (600, 1800, True)
    assert rou["ack_seconds"] == 0.741  # 0.0123456 s x 60 = 0.740736, to 3 decimals
    assert report["summary"]["ack_seconds"] == {"median": 0.741, "p90": 600, "max": 600}
    assert b"<svg" in render(build_report(facts), facts, "html")


# --- renderers -----------------------------------------------------------------------


def empty_facts() -> ExerciseFacts:
    exercise = Exercise(
        id="ex-0",
        name="Nothing yet",
        kind="connectivity_test",
        clock="real",
        speed=1,
        state="running",
        started_at=T0,
        wall_started_at=T0,
        ended_at=None,
    )
    return ExerciseFacts(exercise, [], [], [])


def test_json_is_the_report_object() -> None:
    facts = drill_facts()
    out = render(build_report(facts), facts, "json")
    assert json.loads(out) == build_report(facts).model_dump(mode="json")
    assert list(json.loads(out)) == [
        "exercise",
        "summary",
        "by_country",
        "recipients",
        "channels",
        "findings",
    ]


def test_csv_is_the_recipients_table() -> None:
    facts = drill_facts()
    table = list(csv.reader(io.StringIO(render(build_report(facts), facts, "csv").decode())))
    header = [
        "inject",
        "message_id",
        "type",
        "country",
        "sent_at",
        "acknowledged_at",
        "acknowledged_by",
        "ack_seconds",
        "target_seconds",
        "within_target",
        "reminders",
        "escalations",
        "responded_at",
        "response_seconds",
        "acknowledged_via",
        "simulated",
        "delivered_at",
        "reached",
        "channels",
    ]
    assert table[0] == header
    assert len(table) == 1 + 7
    never = dict(zip(header, table[3], strict=True))
    assert never["country"] == "ROU"
    assert (never["acknowledged_at"], never["ack_seconds"]) == ("", "")
    assert never["within_target"] == "false"
    assert dict(zip(header, table[4], strict=True))["response_seconds"] == "1800"
    assert dict(zip(header, table[7], strict=True))["inject"] == ""


def test_markdown_shows_the_summary_figures() -> None:
    facts = drill_facts()
    md = render(build_report(facts), facts, "md").decode()
    assert md.startswith("# Acknowledgement report: Danube ammonia release\n")
    for line in [
        "| Recipients (message × country) | 7 |",
        "| Acknowledged | 6 of 7 (85.7%) |",
        "| Within target | 5 of 7 (71.4%) |",
        "| Median acknowledgement time | 10m |",
        "| 90th percentile | 1h20m |",
        "| Reminders | 7 |",
        "| Escalations | 2 |",
        "| MDA | 2 | 2 | 1 | 25m | 1h20m | 1h20m |",
        "| ew1 | early_warning | ROU | 2026-11-27 09:00:00 UTC | 2 | 0 |",  # not acknowledged
        "| ra1 | HUN | 2026-11-27 10:10:00 UTC | 30m |",  # the assistance response
    ]:
        assert line in md


def test_html_is_one_self_contained_document_with_three_charts() -> None:
    facts = drill_facts()
    html = render(build_report(facts), facts, "html").decode()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert "<link" not in html and "<script" not in html and "@import" not in html
    assert html.count("<figure") == 3 and html.count("<svg") == 3
    assert html.count("<figcaption") == 3
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # three inline SVGs, no clashing ids
    assert "Danube ammonia release" in html and "6 of 7 (85.7%)" in html
    assert '<th scope="col">' in html


def test_html_escapes_text() -> None:
    facts = drill_facts()
    named = replace(facts, exercise=replace(facts.exercise, name="<b>Drill</b> & $5"))
    html = render(build_report(named), named, "html").decode()
    assert "<b>Drill</b>" not in html and "&lt;b&gt;Drill&lt;/b&gt; &amp; $5" in html


def edge_facts(acks: list[float | None], codes: list[str] | None = None) -> ExerciseFacts:
    """One early warning to as many countries as `acks` (coded `codes`, or CAA, CBB, …);
    None never acknowledges."""
    codes = codes or [f"C{chr(65 + i)}{chr(65 + i)}" for i in range(len(acks))]
    ew = message("ew-e", MessageType.EARLY_WARNING, "SRB", codes, T0, EW)
    chases = [
        Chase(
            "ew-e",
            code,
            (code.lower() + "-1",),
            T0,
            ChaseStatus.ACKNOWLEDGED if ack is not None else ChaseStatus.PENDING,
            acknowledged_at=None if ack is None else T0 + timedelta(seconds=ack),
            acknowledged_by=None if ack is None else code.lower() + "-1",
        )
        for code, ack in zip(codes, acks, strict=True)
    ]
    events = [Event(T0, EventKind.SENT, "ew-e", c.country, c.pocs[0]) for c in chases]
    events += [
        Event(c.acknowledged_at, EventKind.ACKNOWLEDGED, "ew-e", c.country, c.acknowledged_by)
        for c in chases
        if c.acknowledged_at is not None
    ]
    return ExerciseFacts(empty_facts().exercise, [SentMessage("ew1", ew, POLICY)], chases, events)


@pytest.mark.parametrize(
    "facts",
    [empty_facts(), edge_facts([None, None]), edge_facts([42]), edge_facts([0, 0, 0])],
    ids=["no recipients", "nobody acknowledged", "one recipient", "all zero seconds"],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_the_edge_cases(facts: ExerciseFacts, fmt: str) -> None:
    out = render(build_report(facts), facts, fmt)
    assert out
    if fmt == "html":
        assert out.count(b"<svg") == 3


def test_an_empty_exercise_reports_nothing_as_nothing() -> None:
    facts = empty_facts()
    report = build_report(facts)
    summary = report.model_dump(mode="json")["summary"]
    assert [(i["value"], i["of"], i["rate"]) for i in summary.pop("indicators")] == [
        (0, 0, None)
    ] * 5
    assert summary == {
        "recipients": 0,
        "acknowledged": 0,
        "ack_rate": 0.0,
        "within_target": 0,
        "within_target_rate": 0.0,
        "ack_seconds": {"median": None, "p90": None, "max": None},
        "reminders": 0,
        "escalations": 0,
        "reached": 0,
    }
    assert "still running" in render(report, facts, "md").decode()
    assert "No recipients" in render(report, facts, "html").decode()


def test_an_unknown_format_is_invalid_input() -> None:
    facts = empty_facts()
    with pytest.raises(InvalidInput) as caught:
        render(build_report(facts), facts, "docx")
    assert [d["field"] for d in caught.value.details] == ["format"]
    with pytest.raises(InvalidInput):
        media_type("xlsx")
    assert media_type("csv").startswith("text/csv")

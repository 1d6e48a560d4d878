"""The report's indicators and channel outcomes, on hand-made sets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape

import pytest

from ians.domain.chase import Event, EventKind
from ians.reports.channels import Reach, funnels, reach
from ians.reports.indicators import DEFINITIONS, RowChecks, indicators

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def checks(**yes: bool) -> RowChecks:
    fields = dict.fromkeys(
        (
            "reached",
            "acknowledged",
            "within_target",
            "first_poc",
            "assistance_request",
            "answered_in_time",
        ),
        False,
    )
    return RowChecks(**{**fields, **yes})


def test_each_indicator_counts_the_rows_that_meet_it_out_of_those_it_applies_to() -> None:
    rows = [
        checks(reached=True, acknowledged=True, within_target=True, first_poc=True),
        checks(reached=True, acknowledged=True),  # late, after an escalation
        checks(reached=True),  # reached, never acknowledged
        checks(),  # bounced everywhere
        checks(reached=True, acknowledged=True, assistance_request=True, answered_in_time=True),
        checks(reached=True, acknowledged=True, assistance_request=True),  # answered late
    ]
    counted = {c.id: (c.value, c.of, c.rate) for c in indicators(rows)}
    assert counted == {
        "reached": (5, 6, 0.833),
        "acknowledged": (4, 6, 0.667),
        "within_target": (1, 6, 0.167),
        "first_poc": (1, 6, 0.167),
        "assistance_answered": (1, 2, 0.5),
    }


def test_an_indicator_that_applies_to_no_row_has_no_rate() -> None:
    counted = {c.id: c for c in indicators([checks(reached=True)])}
    assert (counted["assistance_answered"].value, counted["assistance_answered"].of) == (0, 0)
    assert counted["assistance_answered"].rate is None
    assert counted["reached"].rate == 1.0
    assert all(c.of == 0 and c.rate is None for c in indicators([]))


def test_every_indicator_has_a_written_definition() -> None:
    assert [d.id for d in DEFINITIONS] == [
        "reached",
        "acknowledged",
        "within_target",
        "first_poc",
        "assistance_answered",
    ]
    for d in DEFINITIONS:
        assert d.label and len(d.definition) > 60 and d.definition.endswith(".")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def delivered(poc: str, channel: str, notice: int | None = None, msg: str = "m1") -> Event:
    detail: dict[str, object] = {"channel": channel}
    if notice is not None:
        detail["notice_id"] = notice
    return Event(at(0), EventKind.DELIVERED, msg, poc[:3].upper(), poc, detail=detail)


def failed(poc: str, channel: str, notice: int, *, permanent: bool, dsn: bool = False) -> Event:
    detail: dict[str, object] = {"channel": channel, "notice_id": notice, "permanent": permanent}
    if dsn:
        detail["reported_by"] = "delivery status notification"
    return Event(at(1), EventKind.DELIVERY_FAILED, "m1", poc[:3].upper(), poc, detail=detail)


def other(kind: EventKind, poc: str, **detail: object) -> Event:
    return Event(at(2), kind, "m1", poc[:3].upper(), poc, detail={"channel": "email", **detail})


@pytest.mark.parametrize(
    ("events", "channels", "reached", "bounces"),
    [
        # the inbox alone: a PoC without external channels reads it there
        ([delivered("hun-1", "inbox")], {"inbox": "delivered"}, True, 0),
        # accepted by the relay, then a DSN: bounced; the inbox does not count for a PoC
        # with an e-mail address
        (
            [
                delivered("hun-1", "inbox"),
                delivered("hun-1", "email", 7),
                failed("hun-1", "email", 7, permanent=True, dsn=True),
            ],
            {"email": "bounced", "inbox": "delivered"},
            False,
            1,
        ),
        # refused at once (5xx), then reached the next PoC by e-mail
        (
            [
                failed("hun-1", "email", 7, permanent=True),
                delivered("hun-2", "email", 8),
            ],
            {"email": "delivered"},
            True,
            1,
        ),
        # a temporary failure only: still retrying, not reached
        ([failed("hun-1", "email", 7, permanent=False)], {"email": "retrying"}, False, 0),
        # an out-of-office came back: it arrived
        (
            [delivered("hun-1", "email", 7), other(EventKind.AUTO_REPLY, "hun-1")],
            {"email": "auto_reply"},
            True,
            0,
        ),
        # a person wrote back something IANS could not read: it arrived
        (
            [delivered("hun-1", "email", 7), other(EventKind.REPLY_UNPARSED, "hun-1")],
            {"email": "replied"},
            True,
            0,
        ),
        # one DSN about an older notice does not undo a later delivery to that address
        (
            [
                delivered("hun-1", "email", 7),
                delivered("hun-1", "email", 9),
                failed("hun-1", "email", 7, permanent=True, dsn=True),
            ],
            {"email": "delivered"},
            True,
            0,
        ),
    ],
    ids=["inbox only", "bounced", "failed then next", "retrying", "auto-reply", "unparsed", "dsn"],
)
def test_channel_outcomes(
    events: list[Event], channels: dict[str, str], reached: bool, bounces: int
) -> None:
    found = reach(events)[("m1", "HUN")]
    assert (found.channels, found.reached, found.bounces) == (channels, reached, bounces)


def test_an_acknowledgement_proves_reach_and_marks_its_channel_replied() -> None:
    ack = Event(at(3), EventKind.ACKNOWLEDGED, "m1", "HUN", "hun-1", detail={"via": "link"})
    found = reach(
        [delivered("hun-1", "email", 7), failed("hun-1", "email", 7, permanent=True, dsn=True), ack]
    )[("m1", "HUN")]
    assert found.reached and found.channels == {"email": "replied"}


def test_funnels_per_channel() -> None:
    rows = [
        (Reach({"email": "replied", "inbox": "delivered"}, True, (("hun-1", "email"),)), "email"),
        (
            Reach({"email": "auto_reply", "inbox": "delivered"}, True, (), (("rou-1", "email"),)),
            None,
        ),
        (Reach({"email": "bounced", "inbox": "delivered"}, False, (("aut-1", "email"),)), "api"),
        (Reach({"webhook": "failed"}, False, (("srb-1", "webhook"),)), None),
    ]
    found = {f.channel: f for f in funnels(rows)}
    assert list(found) == ["email", "inbox", "webhook"]
    e = found["email"]
    # HUN's first address bounced before its second answered: one bounce, on a row delivered
    assert (e.sent, e.delivered, e.acknowledged, e.bounced, e.auto_replies) == (3, 2, 1, 2, 1)
    i = found["inbox"]
    assert (i.sent, i.delivered, i.acknowledged) == (3, 3, 1)
    w = found["webhook"]
    assert (w.sent, w.delivered, w.acknowledged, w.bounced) == (1, 0, 0, 1)


def test_the_docs_give_every_definition_in_the_words_of_the_reports() -> None:
    from pathlib import Path

    docs = (Path(__file__).parent.parent / "docs" / "reports.md").read_text(encoding="utf-8")
    for d in DEFINITIONS:
        assert f"| `{d.id}` | {d.label} | {d.definition} |" in docs


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_the_peoples_formats_show_the_indicators_overall_per_country_and_defined(fmt: str) -> None:
    from ians.reports.build import build_report
    from ians.reports.render import render
    from tests.test_reports import drill_facts

    facts = drill_facts()
    text = render(build_report(facts), facts, fmt).decode()
    if fmt == "md":
        assert "| Acknowledged by the first PoC, without escalation | 4/7 (57%) |" in text
        assert "| Assistance request answered in time | 1/3 (33%) |" in text
        assert "| MDA | 2/2 (100%) | 2/2 (100%) | 1/2 (50%) | 0/2 (0%) | 0/1 (0%) |" in text
        assert "| SRB | 1/1 (100%) | 1/1 (100%) | 1/1 (100%) | 1/1 (100%) | — |" in text
    else:
        assert "<h2>Indicators by country</h2>" in text
    assert (DEFINITIONS[3].definition if fmt == "md" else escape(DEFINITIONS[3].definition)) in text

"""CAP 1.2 per message, in µs: rendering (each message type, an Ack, a feed entry),
reading (parse + OASIS schema validation) and the whole CAP-in path short of HTTP
(read, map to a draft, validate the draft), against rendering the same message as
the API's JSON in the same run.

Target (issue 11): figures printed.

    .venv/bin/python bench/cap.py [--repeat 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from common import CpuShare, banner
from pydantic import TypeAdapter

from ians import cap
from ians.cap.atom import message_entry, render_feed
from ians.domain.messages import AnyDraft, Message, MessageDraft
from ians.web.views import MessageOut

SENT = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
DRAFT: TypeAdapter[AnyDraft] = TypeAdapter(MessageDraft)
WARNING = {
    "event_type": "release",
    "occurred_at": "2026-11-27T08:45:00+01:00",
    "location": {"name": "Pančevo", "lat": 44.87, "lon": 20.64},
    "facility": "HIP Azotara",
    "substances": [
        {"name": "ammonia", "cas": "7664-41-7", "un": "1005", "quantity": "20 t"},
        {"name": "chlorine", "un": "UN1017"},
    ],
    "severity": "severe",
    "media": ["air", "water"],
    "possible_effects": "Irritation of eyes and airways up to 50 km downwind",
    "measures_taken": "Area cordoned off, valves closed",
    "description": "A storage tank leaks; the plume drifts north-east towards the Danube.",
}


def messages() -> dict[str, tuple[Message, Message | None]]:
    """One message of each type with the message it refers to."""

    def message(id_: str, type_: str, content: dict[str, Any], **extra: Any) -> Message:
        return Message.model_validate(
            {
                "id": id_,
                "type": type_,
                "mode": "exercise",
                "from": "SRB",
                "to": ["HUN", "ROU"],
                "sent_at": SENT,
                "content": content,
                "exercise_id": "ex-bench",
                **extra,
            }
        )

    ew = message("ew-1", "early_warning", WARNING)
    info = message(
        "ir-1",
        "information",
        {
            "developments": "Leak stopped at 09:40; concentrations falling",
            "weather": "Wind NE 4 m/s",
            "protective_actions": "Stay indoors within 10 km of the plant",
            "next_update_at": "2026-11-27T12:00:00Z",
        },
        refers_to="ew-1",
    )
    request = message(
        "ar-1",
        "assistance_request",
        {
            "assistance": [
                {"kind": "experts", "description": "Ammonia response team", "quantity": "6"},
                {"kind": "equipment", "description": "Gas detectors", "quantity": "20"},
            ],
            "needed_by": "2026-11-27T14:00:00Z",
            "delivery_location": "Pančevo fire station",
        },
    )
    response = message(
        "as-1",
        "assistance_response",
        {"decision": "partial", "offer": "Experts only", "terms": "At our cost"},
        refers_to="ar-1",
        **{"from": "HUN", "to": ["SRB"]},
    )
    test = message("te-1", "test", {"text": "Communication test: please acknowledge"})
    return {
        "early_warning": (ew, None),
        "information": (info, ew),
        "assistance_request": (request, None),
        "assistance_response": (response, request),
        "test": (test, None),
    }


def per_call_us(fn: Callable[[], object], repeat: int, rounds: int) -> float:
    """The median over `rounds` of the mean µs per call of `repeat` calls."""
    fn()  # warm
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        for _ in range(repeat):
            fn()
        times.append((time.perf_counter() - began) / repeat * 1e6)
    return statistics.median(times)


def measure(name: str, message: Message, referred: Message | None, n: int, r: int) -> str:
    """One message type's line: its CAP size, then µs for JSON, CAP out, reading, CAP in."""
    body = cap.render_alert(message, referred=referred, sender_name="Serbia")
    assert not cap.xml.check(cap.read(body)), name
    out = MessageOut.of(message)
    json_us = per_call_us(lambda: out.__pydantic_serializer__.to_json(out), n, r)
    render_us = per_call_us(
        lambda: cap.render_alert(message, referred=referred, sender_name="Serbia"), n, r
    )
    read_us = per_call_us(lambda: cap.read(body), n, r)
    line = f"   {name:<20} {len(body):>6} {json_us:>7.1f} {render_us:>7.1f} {read_us:>9.1f}"
    if name in ("early_warning", "information"):

        def cap_in() -> AnyDraft:
            return DRAFT.validate_python(cap.draft_of(cap.read(body), "SRB").data)

        line += f" {per_call_us(cap_in, n, r):>7.1f}"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    banner("CAP 1.2: rendering and validation per message")
    cpu = CpuShare()
    n, r = args.repeat, args.rounds
    cap.read(cap.render_alert(messages()["test"][0]))  # loads the schema, outside the figures
    print(
        f"   {'message':<20} {'bytes':>6} {'json':>7} {'render':>7} {'validate':>9}"
        f" {'cap in':>7}   (µs per message; validate = parse + OASIS schema)"
    )
    for name, (message, referred) in messages().items():
        print(measure(name, message, referred, n, r))
    ew = messages()["early_warning"][0]
    at = SENT + timedelta(minutes=7)
    ack = cap.render_ack(ew, "hun-1", "HUN", at)
    render_ack = per_call_us(lambda: cap.render_ack(ew, "hun-1", "HUN", at), n, r)
    read_ack = per_call_us(lambda: cap.read(ack), n, r)
    print(f"   {'ack':<20} {len(ack):>6} {'':>7} {render_ack:>7.1f} {read_ack:>9.1f}")
    feed = [
        message_entry(ew, f"http://h/api/messages/ew-{i}", f"http://h/c/ew-{i}", "Serbia")
        for i in range(100)
    ]

    def render_100() -> bytes:
        return render_feed(
            title="IANS", feed_id="http://h/f", self_url="http://h/f", updated=SENT, entries=feed
        )

    feed_us = per_call_us(render_100, max(1, n // 50), r) / 100
    print(f"   {'feed entry (of 100)':<20} {len(render_100()) // 100:>6} {'':>7} {feed_us:>7.1f}")
    print(f"   {cpu}")


if __name__ == "__main__":
    main()

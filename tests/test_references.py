"""`refers_to` names only what the caller may read: a message it may not read is answered
as if it did not exist, and a reply never carries its sender into an exercise it cannot
see."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ians.web.keys import tracker_key
from tests.conftest import Api, early_warning

DRILL = """\
kind: drill
name: Pančevo, Serbia and Hungary only
participants: [SRB, HUN]
injects:
  - {id: ew1, at: 0m, type: early_warning, from: SRB, to: [HUN],
     content: {event_type: release, occurred_at: start,
               location: {name: Pančevo, lat: 44.87, lon: 20.64}}}
"""


async def exercise_message(api: Api) -> tuple[str, str]:
    """(exercise id, id of its early warning), sent to HUN only."""
    created = await api.json("POST", "/api/exercises", json={"scenario": DRILL}, status=201)
    await api.app[tracker_key].timers.run_due()
    (entry,) = (await api.json("GET", "/api/inbox", "hun-1"))["messages"]
    return created["id"], entry["message"]["id"]


def information(sender: str, refers_to: str, to: str = "HUN") -> dict[str, Any]:
    return {
        "type": "information",
        "mode": "exercise",
        "from": sender,
        "to": [to],
        "refers_to": refers_to,
        "content": {"developments": "Plume moving north-east"},
    }


@pytest.mark.parametrize(
    "body",
    [
        lambda ref: early_warning("ROU", ["HUN"], refers_to=ref),  # joined the exercise before
        lambda ref: early_warning("ROU", ["HUN"], refers_to=ref, mode="test"),  # told the mode
        lambda ref: information("ROU", ref),  # told the sender
        lambda ref: {  # told the type
            "type": "assistance_response",
            "mode": "exercise",
            "from": "ROU",
            "to": ["SRB"],
            "refers_to": ref,
            "content": {"decision": "accept"},
        },
    ],
    ids=["early warning", "other mode", "information", "response"],
)
async def test_a_message_the_caller_may_not_read_is_answered_as_unknown(
    api: Api, body: Any
) -> None:
    exercise_id, ew1 = await exercise_message(api)
    hidden = await api.json("POST", "/api/messages", "rou-1", json=body(ew1), status=422)
    unknown = await api.json("POST", "/api/messages", "rou-1", json=body("ew-0000"), status=422)
    assert hidden == _with_id(unknown, "ew-0000", ew1)
    assert hidden["error"]["details"] == [{"field": "refers_to", "message": f"no message {ew1!r}"}]
    status = await api.json("GET", f"/api/exercises/{exercise_id}")
    assert status["progress"]["messages"] == 1  # nothing joined the exercise
    report = await api.json("GET", f"/api/exercises/{exercise_id}/report")
    assert {r["country"] for r in report["recipients"]} == {"HUN"}


async def test_a_message_the_caller_may_read_is_still_referred_to(api: Api) -> None:
    exercise_id, ew1 = await exercise_message(api)
    # srb-2 did not receive it but its country sent it: it may read it, and follow it up
    sent = await api.json(
        "POST", "/api/messages", "srb-2", json=information("SRB", ew1), status=201
    )
    assert sent["exercise_id"] == exercise_id
    # hun-1 received it: it is told what is wrong with its reference
    wrong = await api.json(
        "POST", "/api/messages", "hun-1", json=information("HUN", ew1, "SRB"), status=422
    )
    assert "another country" in wrong["error"]["message"]
    # the secretariat reads everything
    wrong = await api.json("POST", "/api/messages", json=information("ROU", ew1), status=422)
    assert "another country" in wrong["error"]["message"]


def _with_id(body: Any, old: str, new: str) -> Any:
    return json.loads(json.dumps(body).replace(old, new))

"""Plain words for every invalid field, all of them in one answer: the API's messages,
scenario and contacts files, consultation answers. The test registry has SRB, HUN, ROU."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ians.contacts import load_registry
from ians.domain.consultation import check_answers
from ians.domain.contacts import Registry
from ians.errors import FileError, InvalidInput
from ians.scenarios.loader import load_scenario
from ians.scenarios.model import MultipleChoiceQuestion, YesNoQuestion
from tests.conftest import REGISTRY_YAML, Api, early_warning

# what pydantic would have said, and must not be seen: Python types, regular expressions
INTERNALS = re.compile(
    r"Input should|Field required|should have at least|validation|str\b|dict\[|any\]|"
    r"function-|literal\[|\^|MessageType|<|Unable to extract"
)


def content(**fields: Any) -> dict[str, Any]:
    return {**early_warning()["content"], **fields}


def substance(**fields: Any) -> dict[str, Any]:
    return early_warning(content=content(substances=[{"name": "ammonia", **fields}]))


MESSAGE_CASES = [
    pytest.param(
        {**early_warning(), "type": "alert"},
        {
            "type": "'alert' is not one of early_warning, information, assistance_request,"
            " assistance_response, test"
        },
        id="type-not-one-of",
    ),
    pytest.param(
        {k: v for k, v in early_warning().items() if k != "type"},
        {"type": "required"},
        id="type-missing",
    ),
    pytest.param(
        early_warning(to=["HUN", "HUN", "SRB", "QQQ"]),
        {
            "to[1]": "HUN is listed twice",
            "to[2]": "a country does not notify itself",
            "to[3]": "no country 'QQQ' in the registry",
        },
        id="every-bad-recipient",
    ),
    pytest.param(
        early_warning(sender="QQQ", to=["ZZZ", "HUN"]),
        {"from": "no country 'QQQ' in the registry", "to[0]": "no country 'ZZZ' in the registry"},
        id="bad-sender-and-recipient",
    ),
    pytest.param(
        {**early_warning(), "to": []},
        {"to": "needs at least 1 item, none given"},
        id="to-empty",
    ),
    pytest.param(
        {**early_warning(), "to": "HUN"},
        {"to": "must be a list, not the text 'HUN'"},
        id="to-not-a-list",
    ),
    pytest.param(
        early_warning(to=["hun"]),
        {"to[0]": "'hun' is not a country code: use ISO 3166-1 alpha-3 in upper case, such as SRB"},
        id="country-code",
    ),
    pytest.param(
        substance(cas="7664417"),
        {"content.substances[0].cas": "'7664417' is not a CAS number like 7664-41-7"},
        id="cas-form",
    ),
    pytest.param(
        substance(cas="7664-41-8"),
        {
            "content.substances[0].cas": "'7664-41-8' is not a CAS number: its check digit would"
            " be 7 (like 7664-41-7)"
        },
        id="cas-check-digit",
    ),
    pytest.param(
        substance(un="10O5"),
        {"content.substances[0].un": "'10O5' is not a UN number like 1005 or UN1005"},
        id="un-form",
    ),
    pytest.param(
        early_warning(content=content(location={"name": "P", "lat": "north", "lon": 200})),
        {
            "content.location.lat": "must be a number, not the text 'north'",
            "content.location.lon": "200 is too large: must be at most 180",
        },
        id="numbers",
    ),
    pytest.param(
        early_warning(content=content(occurred_at="yesterday", severity="bad")),
        {
            "content.occurred_at": "'yesterday' is not a time: use RFC 3339, such as"
            " 2026-11-27T08:45:00+01:00",
            "content.severity": "'bad' is not one of minor, moderate, severe, extreme, unknown",
        },
        id="time-and-choice",
    ),
    pytest.param(
        early_warning(content=content(occurred_at="9999-12-31T23:00:00-01:00")),
        {
            "content.occurred_at": "9999-12-31T23:00:00-01:00 is outside the times IANS accepts:"
            " from 1900 up to 2200 (UTC)"
        },
        id="time-out-of-range",
    ),
    pytest.param(
        early_warning(content=content(colour="red", location={"name": ""})),
        {
            "content.location.name": "must not be empty",
            "content.location.lat": "required",
            "content.location.lon": "required",
            "content.colour": "unknown field",
        },
        id="several-content-fields",
    ),
]


@pytest.mark.parametrize(("body", "expected"), MESSAGE_CASES)
async def test_a_bad_message_lists_every_field_in_plain_words(
    api: Api, body: dict[str, Any], expected: dict[str, str]
) -> None:
    answer = await api.json("POST", "/api/messages", json=body, status=422)
    details = {d["field"]: d["message"] for d in answer["error"]["details"]}
    assert details == expected
    for field, message in details.items():
        assert not INTERNALS.search(field + " " + message), (field, message)


@pytest.mark.parametrize(("un", "stored"), [(1005, "1005"), (4, "0004"), ("UN1005", "UN1005")])
async def test_a_un_number_may_be_written_as_a_number(api: Api, un: Any, stored: str) -> None:
    sent = await api.json("POST", "/api/messages", json=substance(un=un), status=201)
    assert sent["content"]["substances"][0]["un"] == stored


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"scenario": 5}, {"scenario": "must be text or a mapping, not the number 5"}),
        ({"scenario": ["kind"]}, {"scenario": "must be text or a mapping, not a list"}),
        (
            {"scenario": "kind: drill", "simulate": "some", "clock": "fast"},
            {
                "clock": "'fast' is not one of real, virtual",
                "simulate": "must be a list or all, not the text 'some'",
            },
        ),
    ],
)
async def test_an_exercise_body_names_fields_not_python_types(
    api: Api, body: dict[str, Any], expected: dict[str, str]
) -> None:
    answer = await api.json("POST", "/api/exercises", json=body, status=422)
    details = {d["field"]: d["message"] for d in answer["error"]["details"]}
    assert details == expected


DRILL_WITH_EVERYTHING_WRONG = """\
kind: drill
name: Many mistakes
participants: [SRB, HUN, QQQ]
injects:
  - id: ew1
    at: 0m
    type: early_warning
    from: SRB
    to: [HUN, ZZZ]
    content: {event_type: release, occurred_at: start, location: {name: P, lat: 44.8, lon: 20.6}}
  - id: ir1
    at: 5m
    type: alert
    from: SRB
    to: [HUN]
    content: {developments: none}
  - {id: ew2, at: 1h, type: early_warning, from: SRB, to: [HUN], colour: red, content: {}}
"""


def test_a_scenario_lists_schema_and_registry_problems_in_one_answer(
    registry: Registry,
) -> None:
    with pytest.raises(FileError) as caught:
        load_scenario(DRILL_WITH_EVERYTHING_WRONG, registry, name="drill.yaml")
    found = [(p.line, p.field, p.message) for p in caught.value.problems]
    assert found == [
        (3, "participants[2]", "no country 'QQQ' in the registry"),
        (9, "injects[0].to[1]", "no country 'ZZZ' in the registry"),
        (13, "injects[1].type", "'alert' is not one of early_warning, information,"
                                " assistance_request, assistance_response, test"),
        (17, "injects[2].colour", "unknown field"),
    ]  # fmt: skip


def test_a_connectivity_test_lists_schema_and_registry_problems_together(
    registry: Registry,
) -> None:
    text = "kind: connectivity_test\nname: T\nparticipants: [SRB, QQQ]\ncolour: red\n"
    with pytest.raises(FileError) as caught:
        load_scenario(text, registry, name="test.yaml")
    assert [(p.line, p.field, p.message) for p in caught.value.problems] == [
        (3, "participants[1]", "no country 'QQQ' in the registry"),
        (4, "colour", "unknown field"),
    ]


def test_a_contacts_tuple_too_short_is_plain(tmp_path: Path) -> None:
    path = tmp_path / "contacts.yaml"
    path.write_text(REGISTRY_YAML.replace("roles: [notification]}", "roles: []}", 1))
    with pytest.raises(FileError) as caught:
        load_registry([path])
    (problem,) = caught.value.problems
    assert (problem.field, problem.message) == (
        "countries.HUN.points_of_contact[2].roles",
        "needs at least 1 item, none given",
    )


CHOICES = MultipleChoiceQuestion(
    id="q1", text="Channels?", type="multiple", options=["email", "phone"], min_choices=1
)
FREE = MultipleChoiceQuestion(id="q2", text="Features?", type="multiple", options=["a", "b"])
YES = YesNoQuestion(id="q3", text="Up to date?", type="yes_no")


@pytest.mark.parametrize(
    ("answers", "checked", "problems"),
    [
        ({"q1": []}, None, {"answers.q1": "choose at least 1"}),
        ({"q1": ["email"], "q2": []}, {"q1": ["email"]}, None),  # no min_choices: none is none
        ({}, {}, None),  # not answered at all: optional
        ({"q1": [], "q3": "yes"}, None, {"answers.q1": "choose at least 1",
                                         "answers.q3": "answer true or false"}),
    ],
)  # fmt: skip
def test_min_choices_applies_to_an_empty_list(
    answers: dict[str, Any], checked: dict[str, Any] | None, problems: dict[str, str] | None
) -> None:
    if problems is None:
        assert check_answers([CHOICES, FREE, YES], answers) == checked
        return
    with pytest.raises(InvalidInput) as caught:
        check_answers([CHOICES, FREE, YES], answers)
    assert {d["field"]: d["message"] for d in caught.value.details} == problems


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("kind: drill\nname: 2026-11-27\ninjects: []\n", "name",
         "must be text, not the time 2026-11-27"),
        ("kind: drill\nname: D\ninjects: {a: 1}\n", "injects", "must be a list, not a mapping"),
        ("kind: drill\nname: D\ninjects: []\n", "injects", "needs at least 1 item, none given"),
        ("kind: drill\nname: D\nmode: drill\ninjects: [1]\n", "mode",
         "'drill' is not one of exercise, test"),
    ],
)  # fmt: skip
def test_a_scenario_file_says_what_is_allowed(
    registry: Registry, text: str, field: str, message: str
) -> None:
    with pytest.raises(FileError) as caught:
        load_scenario(text, registry, name="s.yaml")
    found = {p.field: p.message for p in caught.value.problems}
    assert found[field] == message
    for shown in found.items():
        assert not INTERNALS.search(" ".join(shown)), shown

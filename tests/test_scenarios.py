"""Scenario files: the bundled ones, timelines, policies, drafts, and every kind of mistake
named by file, line and field. The test registry has SRB, HUN and ROU; ROU has no
assistance PoC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ians.contacts import load_registry
from ians.domain import messages
from ians.domain.contacts import Registry, Role
from ians.domain.messages import (
    AssistanceRequestDraft,
    EarlyWarningDraft,
    InformationDraft,
    MessageType,
    Mode,
)
from ians.domain.policy import PolicyOverride, PolicyTable
from ians.errors import FileError, Problem
from ians.scenarios.loader import check_files, load_scenario, load_scenario_file
from ians.scenarios.model import (
    DEFAULT_TEST_TEXT,
    ConnectivityTest,
    ConsultationScenario,
    DrillScenario,
    Inject,
    ScaleQuestion,
)
from tests.conftest import REGISTRY_YAML

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted((ROOT / "scenarios").glob("*.yaml"))
DRILLS = [p for p in BUNDLED if "kind: drill" in p.read_text(encoding="utf-8")]
START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

HEAD = """\
kind: drill
name: Danube ammonia release
participants: [SRB, HUN, ROU]
injects:
  - id: ew1
    at: 0m
    type: early_warning
    from: SRB
    to: [HUN, ROU]
    content:
      event_type: release
      occurred_at: start-20m
      location: {name: Pančevo, lat: 44.87, lon: 20.64}
"""  # 13 lines: the injects of each case below start on line 14
IR1 = (
    "  - {id: ir1, at: 40m, type: information, from: SRB, to: [HUN, ROU], refers_to: ew1,"
    " content: {developments: Plume moving north-east}}\n"
)
RA1 = (
    "  - {id: ra1, at: 1h, type: assistance_request, from: SRB, to: [HUN],"
    " content: {assistance: [{kind: experts, description: Ammonia response team}]}}\n"
)

CONSULTATION = """\
kind: consultation
name: Consultation of the points of contact
audience: {roles: [notification], countries: all}
deadline: 14d
reminders: [7d, 2d]
questions:
  - {id: q1, text: Are your details up to date?, type: yes_no, required: true}
  - id: q2
    text: Rate the system
    type: scale
    min: 1
    max: 5
  - {id: q3, text: Comments, type: text}
"""


@pytest.fixture(scope="module")
def bundled_registry() -> Registry:
    return load_registry([ROOT / "contacts"])


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_in(tmp_path: Path, text: str, registry: Registry) -> list[tuple[int | None, str]]:
    """(line, field) of every problem of `text` as a file; checks each names the file."""
    with pytest.raises(FileError) as caught:
        load_scenario_file(write(tmp_path, "scenario.yaml", text), registry)
    assert all(Path(p.file).name == "scenario.yaml" for p in caught.value.problems)
    return [(p.line, p.field) for p in caught.value.problems]


def only_problem(tmp_path: Path, text: str, registry: Registry) -> Problem:
    with pytest.raises(FileError) as caught:
        load_scenario_file(write(tmp_path, "scenario.yaml", text), registry)
    problems = caught.value.problems
    assert len(problems) == 1, problems
    return problems[0]


# -- bundled scenarios ----------------------------------------------------------------


def test_bundled_scenarios_and_contacts_check_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert check_files([Path("contacts"), Path("scenarios")]) == []
    assert check_files([Path("scenarios")]) == []  # against the default contacts/


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_every_bundled_scenario_loads(path: Path, bundled_registry: Registry) -> None:
    scenario = load_scenario_file(path, bundled_registry)
    assert scenario.name


@pytest.mark.parametrize("path", DRILLS, ids=lambda p: p.name)
def test_bundled_drills_play_a_whole_accident(path: Path, bundled_registry: Registry) -> None:
    drill = load_scenario_file(path, bundled_registry)
    assert isinstance(drill, DrillScenario)
    assert drill.mode == "exercise" and drill.participants and drill.policy
    types = [i.type for i in drill.timeline(bundled_registry)]
    assert types[0] is MessageType.EARLY_WARNING
    assert types.count(MessageType.INFORMATION) >= 2
    requests = {i.id: i for i in drill.injects if i.type is MessageType.ASSISTANCE_REQUEST}
    responses = [i for i in drill.injects if i.type is MessageType.ASSISTANCE_RESPONSE]
    assert requests and responses
    for response in responses:
        request = requests[response.refers_to or ""]
        assert response.sender in request.to and response.to == [request.sender]
    ids = {i.id: f"m-{i.id}" for i in drill.injects}
    for inject in drill.injects:  # every draft builds at any start
        assert inject.draft(Mode.EXERCISE, START, ids).mode is Mode.EXERCISE


def test_bundled_files_cover_the_catalogue() -> None:
    names = {p.name for p in BUNDLED}
    assert {
        "connectivity-test.yaml",
        "baia-mare-cyanide.yaml",
        "sandoz-rhine-fire.yaml",
        "danube-ammonia.yaml",
        "consultation-2026.yaml",
    } <= names


def test_bundled_connectivity_test_reaches_every_country(bundled_registry: Registry) -> None:
    test = load_scenario_file(ROOT / "scenarios/connectivity-test.yaml", bundled_registry)
    assert isinstance(test, ConnectivityTest)
    (inject,) = test.timeline(bundled_registry)
    assert inject.to == list(bundled_registry.countries) and len(inject.to) == 41


def test_bundled_consultation(bundled_registry: Registry) -> None:
    consultation = load_scenario_file(ROOT / "scenarios/consultation-2026.yaml", bundled_registry)
    assert isinstance(consultation, ConsultationScenario)
    assert [q.type for q in consultation.questions] == [
        "yes_no",
        "single",
        "multiple",
        "scale",
        "text",
    ]
    assert consultation.reminders == [timedelta(days=7), timedelta(days=2)]
    assert consultation.deadline_at(START) == START + timedelta(days=14)
    pocs = consultation.audience_pocs(bundled_registry)
    notification = [p for p in bundled_registry.pocs.values() if p.has_role(Role.NOTIFICATION)]
    assert sorted(p.id for p in pocs) == sorted(p.id for p in notification)


# -- timelines, policies, drafts ------------------------------------------------------


def test_connectivity_test_timeline(registry: Registry) -> None:
    test = load_scenario("kind: connectivity_test\nname: Quarterly test\n", registry)
    assert isinstance(test, ConnectivityTest) and test.mode == "test"
    (inject,) = test.timeline(registry)
    assert (inject.id, inject.at, inject.type, inject.sender) == (
        "test",
        timedelta(0),
        MessageType.TEST,
        None,
    )
    assert inject.to == ["HUN", "ROU", "SRB"]  # every country of the registry
    assert inject.content == {"text": DEFAULT_TEST_TEXT}
    draft = inject.draft(Mode.TEST, START, {})
    assert isinstance(draft, messages.TestDraft) and draft.sender is None

    some = load_scenario(
        {"kind": "connectivity_test", "name": "t", "participants": ["ROU"], "text": "Ping"},
        registry,
    )
    assert some.timeline(registry)[0].to == ["ROU"]  # type: ignore[union-attr]
    assert some.timeline(registry)[0].content == {"text": "Ping"}  # type: ignore[union-attr]


def test_drill_timeline_is_by_time_then_file_order(registry: Registry) -> None:
    text = HEAD + RA1 + IR1 + IR1.replace("ir1, at: 40m", "ir2, at: 1h")
    drill = load_scenario(text, registry)
    assert [i.id for i in drill.timeline(registry)] == ["ew1", "ir1", "ra1", "ir2"]  # type: ignore[union-attr]


def test_policy_for_precedence(registry: Registry) -> None:
    table = PolicyTable(
        overrides={
            "default": PolicyOverride(ack_within="2h", give_up_after="12h"),
            "exercise/information": PolicyOverride(ack_within="45m", escalate_every="10m"),
        }
    )
    text = HEAD.replace(
        "participants: [SRB, HUN, ROU]", "policy: {ack_within: 30m, reminders: [5m]}"
    ) + IR1.replace("content:", "policy: {ack_within: 20m}, content:")
    drill = load_scenario(text, registry)
    assert isinstance(drill, DrillScenario)
    ew1, ir1 = drill.injects
    ew = drill.policy_for(ew1, table)  # server default, then the scenario's
    assert (ew.ack_within, ew.reminders, ew.give_up_after) == (
        timedelta(minutes=30),
        (timedelta(minutes=5),),
        timedelta(hours=12),
    )
    ir = drill.policy_for(ir1, table)  # server mode/type, scenario, then the inject's
    assert (ir.ack_within, ir.reminders, ir.escalate_every) == (
        timedelta(minutes=20),
        (timedelta(minutes=5),),
        timedelta(minutes=10),
    )
    assert DrillScenario(kind="drill", name="n", injects=[ew1]).policy_for(
        ew1, table
    ).ack_within == (timedelta(hours=2))


def test_draft_resolves_start_times_and_references(registry: Registry) -> None:
    text = (
        HEAD
        + IR1.replace("Plume moving north-east}", "Plume moving, next_update_at: start+1h}")
        + RA1.replace("]}}", "], needed_by: 'start + 1h30m'}}")
    )
    drill = load_scenario(text, registry)
    assert isinstance(drill, DrillScenario)
    ew1, ir1, ra1 = drill.injects
    ids = {"ew1": "ew-0123"}
    warning = ew1.draft(Mode.EXERCISE, START, ids)
    assert isinstance(warning, EarlyWarningDraft)
    assert warning.content.occurred_at == START - timedelta(minutes=20)
    assert (warning.sender, warning.to, warning.mode) == ("SRB", ["HUN", "ROU"], Mode.EXERCISE)
    information = ir1.draft(Mode.EXERCISE, START, ids)
    assert isinstance(information, InformationDraft)
    assert information.refers_to == "ew-0123"
    assert information.content.next_update_at == START + timedelta(hours=1)
    request = ra1.draft(Mode.EXERCISE, START, ids)
    assert isinstance(request, AssistanceRequestDraft)
    assert request.content.needed_by == START + timedelta(hours=1, minutes=30)
    with pytest.raises(KeyError):
        ir1.draft(Mode.EXERCISE, START, {})


def test_content_times_may_be_absolute(registry: Registry) -> None:
    text = HEAD.replace("start-20m", "2026-11-27T08:45:00+01:00")
    drill = load_scenario(text, registry)
    draft = drill.injects[0].draft(Mode.EXERCISE, START, {})  # type: ignore[union-attr]
    assert draft.content.occurred_at == datetime(2026, 11, 27, 7, 45, tzinfo=UTC)  # type: ignore[union-attr]


# -- mistakes, each with its line and field -------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        pytest.param(
            HEAD + "  - id: ir1 at: 40m\n",
            14,
            "",
            "YAML syntax error at column 15: a ':' where no key can start:"
            " quote text that contains ': ', or check the indentation",
            id="yaml-syntax",
        ),
        pytest.param(
            HEAD.replace("kind: drill", "kind: exercise"),
            1,
            "kind",
            "unknown kind 'exercise': use drill, connectivity_test or consultation",
            id="unknown-kind",
        ),
        pytest.param(
            HEAD.replace("participants: [SRB, HUN, ROU]", "mode: actual"),
            3,
            "mode",
            "a scenario never sends actual traffic: use exercise or test",
            id="mode-actual",
        ),
        pytest.param(
            HEAD + IR1.replace("to: [HUN, ROU]", "to: [HUN, MDA]"),
            14,
            "injects[1].to[1]",
            "no country 'MDA' in the registry",
            id="unknown-recipient",
        ),
        pytest.param(
            HEAD.replace("[SRB, HUN, ROU]", "[HUN, ROU]"),
            8,
            "injects[0].from",
            "SRB is not a participant of this drill",
            id="sender-not-participant",
        ),
        pytest.param(
            HEAD + RA1.replace("to: [HUN]", "to: [HUN, ROU]"),
            14,
            "injects[1].to[1]",
            "ROU has no assistance point of contact",
            id="recipient-without-assistance-poc",
        ),
        pytest.param(
            HEAD + IR1.replace("refers_to: ew1", "refers_to: ew9"),
            14,
            "injects[1].refers_to",
            "no inject 'ew9' in this scenario",
            id="refers-to-unknown",
        ),
        pytest.param(
            HEAD
            + IR1.replace("refers_to: ew1", "refers_to: ew2")
            + "  - {id: ew2, at: 1h, type: early_warning, from: SRB, to: [HUN], content:"
            " {event_type: fire, occurred_at: start+1h, location: {name: P, lat: 44, lon: 20}}}\n",
            14,
            "injects[1].refers_to",
            "'ew2' is sent later, at 1h",
            id="refers-to-later",
        ),
        pytest.param(
            HEAD
            + IR1.replace("refers_to: ew1", "refers_to: ew2")
            + "  - {id: ew2, at: 40m, type: early_warning, from: SRB, to: [HUN], content:"
            " {event_type: fire, occurred_at: start+1h, location: {name: P, lat: 44, lon: 20}}}\n",
            14,
            "injects[1].refers_to",
            "'ew2' is sent at the same time but comes later in the file",
            id="refers-to-same-time-later-in-file",
        ),
        pytest.param(
            HEAD
            + RA1
            + IR1.replace("at: 40m", "at: 2h").replace("refers_to: ew1", "refers_to: ra1"),
            15,
            "injects[2].refers_to",
            "must name an early_warning, not an assistance_request",
            id="information-refers-to-request",
        ),
        pytest.param(
            HEAD + RA1 + "  - {id: rs1, at: 2h, type: assistance_response, from: SRB, to: [HUN],"
            " refers_to: ra1, content: {decision: accept}}\n",
            15,
            "injects[2].refers_to",
            "that request was not sent to SRB",
            id="response-from-a-country-not-asked",
        ),
        pytest.param(
            HEAD + IR1.replace("id: ir1", "id: ew1"),
            14,
            "injects[1].id",
            "inject id 'ew1' is already used by injects[0]",
            id="duplicate-inject-id",
        ),
        pytest.param(
            HEAD + IR1.replace("at: 40m", "at: 40 minutes"),
            14,
            "injects[1].at",
            "'40 minutes' is not a duration (use 45s, 15m, 1h30m, 2d or ISO 8601 such as PT15M)",
            id="bad-duration",
        ),
        pytest.param(
            HEAD + IR1.replace("at: 40m", "at: -5m"),
            14,
            "injects[1].at",
            "a duration cannot be negative: '-5m'",
            id="negative-at",
        ),
        pytest.param(
            HEAD.replace("occurred_at: start-20m", "occurred_at: start+soon"),
            12,
            "injects[0].content.occurred_at",
            "'start+soon' is not a time: use start, start+1h, start-20m"
            " or an RFC 3339 time with an offset",
            id="bad-start-time",
        ),
        pytest.param(
            HEAD.replace("event_type: release", "event_type: leak"),
            11,
            "injects[0].content.event_type",
            "'leak' is not one of fire, explosion, release, other",
            id="bad-content-enum",
        ),
        pytest.param(
            HEAD + IR1.replace("developments: Plume moving north-east", "weather: calm"),
            14,
            "injects[1].content.developments",
            "required",
            id="missing-content-field",
        ),
        pytest.param(
            HEAD.replace("      occurred_at: start-20m\n", ""),
            10,
            "injects[0].content.occurred_at",
            "required",
            id="missing-time",
        ),
        pytest.param(
            HEAD + IR1.replace(" refers_to: ew1,", ""),
            14,
            "injects[1].refers_to",
            "an information must refer to an early_warning",
            id="information-without-reference",
        ),
    ],
)
def test_a_mistake_is_named_by_line_and_field(
    tmp_path: Path, registry: Registry, text: str, line: int, field: str, message: str
) -> None:
    problem = only_problem(tmp_path, text, registry)
    assert (problem.line, problem.field, problem.message) == (line, field, message)


def test_a_missing_sender_is_named(tmp_path: Path, registry: Registry) -> None:
    text = HEAD + IR1.replace(" from: SRB,", "")
    assert problems_in(tmp_path, text, registry) == [
        (14, "injects[1].refers_to"),  # the early warning is SRB's, not this sender's
        (14, "injects[1].from"),
    ]


def test_bad_content_on_line_40_of_a_longer_file(tmp_path: Path, registry: Registry) -> None:
    text = (
        HEAD
        + IR1
        + RA1
        + """\
  - id: rs1
    at: 1h30m
    type: assistance_response
    from: HUN
    to: [SRB]
    refers_to: ra1
    content:
      decision: partial
      offer: Six experts, no equipment
      arrival_estimate: start+4h
  - id: ew2
    at: 2h
    type: early_warning
    from: HUN
    to: [ROU]
    content:
      event_type: explosion
      occurred_at: start+1h50m
      facility: Chemical storage depot
      substances:
        - name: Chlorine
          cas: 7782-50-5
      location:
        name: Szeged
        lat: 146.25
        lon: 20.15
      severity: moderate
"""
    )
    assert text.splitlines()[39] == "        lat: 146.25"
    problem = only_problem(tmp_path, text, registry)
    assert (problem.line, problem.field) == (40, "injects[4].content.location.lat")
    assert problem.message == "146.25 is too large: must be at most 90"


def test_every_problem_of_a_file_is_reported(tmp_path: Path, registry: Registry) -> None:
    text = (
        HEAD.replace("lat: 44.87", "lat: north")
        + IR1.replace("to: [HUN, ROU]", "to: [HUN, XXX]")
        + RA1.replace("to: [HUN]", "to: [ROU, SRB]")
        + IR1.replace("id: ir1", "id: ew1").replace("refers_to: ew1", "refers_to: nope")
    )
    assert problems_in(tmp_path, text, registry) == [
        (13, "injects[0].content.location.lat"),
        (14, "injects[1].to[1]"),
        (15, "injects[2].to[0]"),
        (15, "injects[2].to[1]"),
        (16, "injects[3].id"),
        (16, "injects[3].refers_to"),
    ]


def test_schema_mistakes_and_bad_content_come_together(tmp_path: Path, registry: Registry) -> None:
    text = HEAD.replace("lat: 44.87", "lat: north") + IR1.replace("at: 40m", "at: soon")
    assert problems_in(tmp_path, text, registry) == [
        (13, "injects[0].content.location.lat"),
        (14, "injects[1].at"),
    ]


def test_a_participant_must_exist_once(tmp_path: Path, registry: Registry) -> None:
    text = HEAD.replace("[SRB, HUN, ROU]", "[SRB, HUN, ROU, HUN, MDA]")
    assert problems_in(tmp_path, text, registry) == [
        (3, "participants[3]"),
        (3, "participants[4]"),
    ]


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        pytest.param(
            "  - {id: q3,",
            "  - {id: q1,",
            13,
            "questions[2].id",
            "question id 'q1' is already used by questions[0]",
            id="duplicate-question-id",
        ),
        pytest.param(
            "max: 5",
            "max: 1",
            12,
            "questions[1].max",
            "must be greater than min (1)",
            id="scale-max-not-above-min",
        ),
        pytest.param(
            "[7d, 2d]",
            "[7d, 15d]",
            5,
            "reminders[1]",
            "15d before the deadline is not after the opening: use less than 14d",
            id="reminder-longer-than-deadline",
        ),
        pytest.param(
            "type: scale",
            "type: rating",
            10,
            "questions[1].type",
            "unknown question type 'rating': use yes_no, single, multiple, scale or text",
            id="unknown-question-type",
        ),
        pytest.param(
            "type: text}",
            "type: text, max_length: 50000}",
            13,
            "questions[2].max_length",
            "50000 is too large: must be at most 20000",
            id="text-too-long",
        ),
        pytest.param(
            "deadline: 14d",
            "deadline: 2026-12-01T12:00:00",
            4,
            "deadline",
            "2026-12-01T12:00:00 needs an offset, such as Z or +01:00",
            id="deadline-without-offset",
        ),
        pytest.param(
            "countries: all",
            "countries: [ROU, XXX]",
            3,
            "audience.countries[1]",
            "no country 'XXX' in the registry",
            id="audience-unknown-country",
        ),
        pytest.param(
            "roles: [notification], countries: all",
            "roles: [assistance], countries: [ROU]",
            3,
            "audience",
            "no point of contact with the role assistance in these countries",
            id="empty-audience",
        ),
        pytest.param(
            "  - {id: q3, text: Comments, type: text}",
            "  - {id: q3, text: Channel, type: single, options: [email, email]}",
            13,
            "questions[2].options",
            "option 'email' is listed twice",
            id="repeated-option",
        ),
    ],
)
def test_consultation_mistakes(
    tmp_path: Path,
    registry: Registry,
    old: str,
    new: str,
    line: int,
    field: str,
    message: str,
) -> None:
    assert old in CONSULTATION
    problem = only_problem(tmp_path, CONSULTATION.replace(old, new), registry)
    assert (problem.line, problem.field, problem.message) == (line, field, message)


def test_consultation_model(registry: Registry) -> None:
    text = CONSULTATION.replace("deadline: 14d", "deadline: 2026-12-11T16:00:00Z")
    consultation = load_scenario(text, registry)
    assert isinstance(consultation, ConsultationScenario)
    assert consultation.deadline_at(START) == datetime(2026, 12, 11, 16, tzinfo=UTC)
    assert isinstance(consultation.questions[1], ScaleQuestion)
    assert consultation.model_dump(mode="json")["deadline"] == "2026-12-11T16:00:00+00:00"
    assert [p.id for p in consultation.audience_pocs(registry)] == [
        "hun-1",
        "hun-2",
        "hun-3",
        "rou-1",
        "srb-1",
        "srb-2",
    ]
    assistance = CONSULTATION.replace("[notification], countries: all", "[assistance]}")
    assistance = assistance.replace("}}", "}")
    pocs = load_scenario(assistance, registry).audience_pocs(registry)  # type: ignore[union-attr]
    assert [p.id for p in pocs] == ["hun-2", "srb-1"]


# -- sources: text, objects, folders --------------------------------------------------


def test_load_scenario_from_an_object_has_fields_without_lines(registry: Registry) -> None:
    scenario: dict[str, Any] = {
        "kind": "drill",
        "name": "API drill",
        "injects": [
            {
                "id": "ew1",
                "at": "0s",
                "type": "early_warning",
                "from": "SRB",
                "to": ["HUN", "ROU"],
                "content": {
                    "event_type": "fire",
                    "occurred_at": "start",
                    "location": {"name": "Pančevo", "lat": 44.87, "lon": 20.64},
                },
            }
        ],
    }
    drill = load_scenario(scenario, registry)
    assert isinstance(drill, DrillScenario) and drill.participant_codes(registry) == [
        "HUN",
        "ROU",
        "SRB",
    ]
    scenario["injects"][0]["to"] = ["HUN", "XXX"]
    with pytest.raises(FileError) as caught:
        load_scenario(scenario, registry, name="request")
    assert caught.value.problems == [
        Problem("request", None, "injects[0].to[1]", "no country 'XXX' in the registry")
    ]
    scenario["injects"][0]["content"]["location"]["lon"] = 200
    with pytest.raises(FileError) as caught:
        load_scenario(scenario, registry, name="request")
    # an inject whose content is wrong is not routed: its recipients are checked once it is right
    assert caught.value.problems == [
        Problem(
            "request",
            None,
            "injects[0].content.location.lon",
            "200 is too large: must be at most 180",
        )
    ]
    assert caught.value.status == 422


def test_load_scenario_from_text_with_a_syntax_error(registry: Registry) -> None:
    with pytest.raises(FileError) as caught:
        load_scenario("kind: drill\nname: [unclosed\n", registry, name="body")
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == ("body", 3)
    assert problem.message.startswith("YAML syntax error")


@pytest.mark.parametrize(
    ("source", "field", "message"),
    [
        (
            "",
            "",
            "the scenario is empty: expected kind: (use drill, connectivity_test or consultation)",
        ),
        (
            "- kind: drill\n",
            "",
            "expected a mapping with kind: (use drill, connectivity_test or consultation)",
        ),
        ("name: x\n", "kind", "missing: use drill, connectivity_test or consultation"),
    ],
)
def test_not_a_scenario(registry: Registry, source: str, field: str, message: str) -> None:
    with pytest.raises(FileError) as caught:
        load_scenario(source, registry)
    (problem,) = caught.value.problems
    assert (problem.field, problem.message) == (field, message)


def test_check_files_sorts_contacts_from_scenarios(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts"
    contacts.mkdir()
    write(contacts, "all.yaml", REGISTRY_YAML)
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    write(scenarios, "good.yaml", HEAD)
    write(scenarios, "bad.yml", HEAD.replace("to: [HUN, ROU]", "to: [HUN, MDA]"))
    write(scenarios, "notes.txt", "not YAML: [")
    write(tmp_path, "other.yaml", "just: a mapping\n")

    (tmp_path / "empty").mkdir()

    problems = check_files(
        [contacts, scenarios, tmp_path / "other.yaml", tmp_path / "gone", tmp_path / "empty"]
    )
    assert [(Path(p.file).name, p.line, p.field) for p in problems] == [
        ("other.yaml", None, ""),
        ("gone", None, ""),
        ("empty", None, ""),
        ("bad.yml", 9, "injects[0].to[1]"),
    ]
    # without contacts among the paths, scenarios are checked against `contacts`
    assert [p.field for p in check_files([scenarios], contacts=[contacts])] == ["injects[0].to[1]"]


def test_check_files_reports_registry_problems_and_still_checks_scenarios(
    tmp_path: Path,
) -> None:
    contacts = write(tmp_path, "contacts.yaml", "countries:\n  SRB:\n    name: Serbia\n")
    scenario = write(tmp_path, "drill.yaml", HEAD.replace("lat: 44.87", "lat: 95"))
    problems = check_files([contacts, scenario])
    assert [(Path(p.file).name, p.field) for p in problems] == [
        ("contacts.yaml", "countries.SRB.timezone"),
        ("contacts.yaml", "countries.SRB.points_of_contact"),
        ("drill.yaml", "injects[0].content.location.lat"),
    ]
    missing = check_files([scenario], contacts=[tmp_path / "nowhere"])
    assert [(Path(p.file).name, p.field) for p in missing] == [
        ("nowhere", ""),  # the registry's problem, as it is
        ("drill.yaml", "injects[0].content.location.lat"),
    ]


def test_inject_model_alone() -> None:
    inject = Inject.model_validate(
        {"id": "t", "at": "5m", "type": "test", "to": ["HUN"], "content": {"text": "hello"}}
    )
    assert inject.sender is None and inject.at == timedelta(minutes=5)
    with pytest.raises(ValueError, match="is not an id"):
        Inject.model_validate({**inject.model_dump(), "id": "no spaces"})

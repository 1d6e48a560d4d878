from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ians.contacts import check_contacts, load_registry
from ians.domain.contacts import Role
from ians.domain.hours import OfficeHours
from ians.errors import FileError, NotFound, Problem, UnknownPointOfContact

SRB = """\
countries:
  SRB:
    name: Serbia
    timezone: Europe/Belgrade
    points_of_contact:
      - id: srb-1
        roles: [notification, assistance]
        organization: Sector for Emergency Management
        email: ian@mup.example.rs
        phone: "+381 11 000 0000"
        webhook: null
        hours: "24/7"
        languages: [sr, en]
        simulation:
          median: 12m
          spread: 0.8
          miss: 0.05
      - id: srb-2
        roles: [notification]
        hours: "Mon-Fri 08:00-16:00"
"""

HUN_ROU = """\
# two countries in one file
countries:
  HUN:
    name: Hungary
    timezone: Europe/Budapest
    points_of_contact:
      - id: hun-1
        roles: [notification]
        webhook: https://hun.example/ians
      - id: hun-2
        roles: [assistance, notification]
  ROU:
    name: Romania
    timezone: Europe/Bucharest
    points_of_contact:
      - {id: rou-1, roles: [notification, assistance], hours: "Mon-Fri 08:00-16:00"}
"""

BUNDLED = Path(__file__).resolve().parent.parent / "contacts"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def where(problem: Problem) -> tuple[str, int | None, str]:
    return Path(problem.file).name, problem.line, problem.field


def only_problem(folder: Path) -> Problem:
    problems = check_contacts([folder])
    assert len(problems) == 1, problems
    return problems[0]


def test_a_folder_of_files_is_one_registry(tmp_path: Path) -> None:
    write(tmp_path, "srb.yaml", SRB)
    write(tmp_path, "hun.yml", HUN_ROU)
    write(tmp_path, "notes.txt", "not a contacts file")

    registry = load_registry([tmp_path])

    assert list(registry.countries) == ["HUN", "ROU", "SRB"]
    assert len(registry) == 3 and "SRB" in registry and "AUT" not in registry
    assert list(registry.pocs) == ["hun-1", "hun-2", "rou-1", "srb-1", "srb-2"]
    serbia = registry.country("SRB")
    assert serbia.name == "Serbia" and serbia.tz.key == "Europe/Belgrade"
    assert [p.id for p in serbia.escalation_order(Role.NOTIFICATION)] == ["srb-1", "srb-2"]
    assert [p.id for p in serbia.escalation_order(Role.ASSISTANCE)] == ["srb-1"]
    primary = registry.poc("srb-1")
    assert primary.country == "SRB" and primary.has_role(Role.ASSISTANCE)
    assert primary.simulation is not None
    assert primary.simulation.median == timedelta(minutes=12)
    assert primary.languages == ("sr", "en")
    assert registry.poc("srb-2").hours == OfficeHours.parse("Mon-Fri 08:00-16:00")
    assert registry.poc("rou-1").country == "ROU"
    assert check_contacts([tmp_path]) == []


def test_files_and_folders_mix_and_repeat_harmlessly(tmp_path: Path) -> None:
    srb = write(tmp_path, "srb.yaml", SRB)
    registry = load_registry([tmp_path, srb, str(srb)])
    assert list(registry.countries) == ["SRB"]


def test_lookups_of_unknown_names_raise_not_found(tmp_path: Path) -> None:
    registry = load_registry([write(tmp_path, "srb.yaml", SRB)])
    with pytest.raises(NotFound, match="no country 'XXX' in the registry"):
        registry.country("XXX")
    with pytest.raises(UnknownPointOfContact):
        registry.poc("xxx-1")


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        (
            "timezone: Europe/Belgrade",
            "timezone: Europe/Belgrad",
            4,
            "countries.SRB.timezone",
            "unknown time zone 'Europe/Belgrad'",
        ),
        (
            'hours: "Mon-Fri 08:00-16:00"',
            'hours: "Mon-Fry 08:00-16:00"',
            20,
            "countries.SRB.points_of_contact[1].hours",
            "'Fry' is not a day",
        ),
        (
            "roles: [notification, assistance]",
            "roles: [notification, asistance]",
            7,
            "countries.SRB.points_of_contact[0].roles[1]",
            "'asistance' is not one of notification, assistance",
        ),
        (
            "roles: [notification]",
            "roles: notification",
            19,
            "countries.SRB.points_of_contact[1].roles",
            "must be a list, not the text 'notification'",
        ),
        (
            "organization: Sector",
            "organisation: Sector",
            8,
            "countries.SRB.points_of_contact[0].organisation",
            "unknown field",
        ),
        (
            "email: ian@mup.example.rs",
            "email: ian.mup.example.rs",
            9,
            "countries.SRB.points_of_contact[0].email",
            "'ian.mup.example.rs' is not an e-mail address",
        ),
        (
            "webhook: null",
            "webhook: ftp://mup.example.rs",
            11,
            "countries.SRB.points_of_contact[0].webhook",
            "is not an http or https URL",
        ),
        (
            "webhook: null",
            "webhook: https://mup.example.rs/ians\n        webhook_format: xml",
            12,
            "countries.SRB.points_of_contact[0].webhook_format",
            "'xml' is not one of json, cap",
        ),
        (
            "webhook: null",
            "webhook: null\n        webhook_format: cap",
            12,
            "countries.SRB.points_of_contact[0].webhook_format",
            "there is no webhook to send in this format",
        ),
        (
            "median: 12m",
            "median: 0m",
            15,
            "countries.SRB.points_of_contact[0].simulation.median",
            "must be longer than 0s",
        ),
        (
            "median: 12m",
            "median: soon",
            15,
            "countries.SRB.points_of_contact[0].simulation.median",
            "'soon' is not a duration",
        ),
        (
            "miss: 0.05",
            "miss: 1.5",
            17,
            "countries.SRB.points_of_contact[0].simulation.miss",
            "1.5 is too large: must be at most 1",
        ),
        (
            "id: srb-2",
            "id: SRB 2",
            18,
            "countries.SRB.points_of_contact[1].id",
            "'SRB 2' is not a point of contact id",
        ),
        (
            "      - id: srb-2\n        roles: [notification]\n",
            "      - id: srb-2\n        roles: [notification, notification]\n",
            19,
            "countries.SRB.points_of_contact[1].roles",
            "role 'notification' is listed twice",
        ),
        (
            "    name: Serbia\n",
            "",
            2,
            "countries.SRB.name",
            "required",
        ),
        (
            "  SRB:",
            "  Srb:",
            2,
            "countries.Srb",
            "'Srb' is not a country code",
        ),
        (
            "    name: Serbia\n",
            "    name: Serbia\n    code: SRB\n",
            4,
            "countries.SRB.code",
            "remove it: it comes from its key",
        ),
        (
            "        organization: Sector",
            "        country: SRB\n        organization: Sector",
            8,
            "countries.SRB.points_of_contact[0].country",
            "remove it: it comes from the country it is listed under",
        ),
        (
            "countries:",
            "version: 1\ncountries:",
            1,
            "version",
            "unknown field",
        ),
    ],
)
def test_a_mistake_is_named_by_file_line_and_field(
    tmp_path: Path, old: str, new: str, line: int, field: str, message: str
) -> None:
    assert old in SRB
    write(tmp_path, "srb.yaml", SRB.replace(old, new))

    problem = only_problem(tmp_path)

    assert where(problem) == ("srb.yaml", line, field)
    assert message in problem.message


def test_a_country_without_a_notification_poc(tmp_path: Path) -> None:
    write(tmp_path, "srb.yaml", SRB.replace("roles: [notification]", "roles: [assistance]"))
    write(
        tmp_path,
        "hun.yaml",
        HUN_ROU.replace("[notification]", "[assistance]", 1).replace(
            "[assistance, notification]", "[assistance]"
        ),
    )

    problems = check_contacts([tmp_path])

    assert [where(p) for p in problems] == [("hun.yaml", 6, "countries.HUN.points_of_contact")]
    assert "no point of contact has the role 'notification'" in problems[0].message


def test_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    write(tmp_path, "srb.yaml", SRB.replace("    timezone: Europe/Belgrade", "   timezone: x: y"))
    problem = only_problem(tmp_path)
    assert where(problem) == ("srb.yaml", 4, "")
    assert problem.message == (
        "YAML syntax error at column 4: the indentation does not match the lines above"
        " (or a key has no ':')"
    )


def test_duplicate_yaml_key_names_its_line(tmp_path: Path) -> None:
    write(
        tmp_path, "srb.yaml", SRB.replace("        phone:", "        email: x@y.rs\n        phone:")
    )
    problem = only_problem(tmp_path)
    assert where(problem) == ("srb.yaml", 10, "")
    assert problem.message == "duplicate key 'email'"


def test_duplicate_poc_id_across_files_names_both_places(tmp_path: Path) -> None:
    write(tmp_path, "a-srb.yaml", SRB)
    write(tmp_path, "b-hun.yaml", HUN_ROU.replace("id: hun-2", "id: srb-2"))

    problem = only_problem(tmp_path)

    assert where(problem) == ("b-hun.yaml", 10, "countries.HUN.points_of_contact[1].id")
    assert f"'srb-2' is already used at {tmp_path / 'a-srb.yaml'}:18" in problem.message
    with pytest.raises(FileError) as caught:
        load_registry([tmp_path])
    assert caught.value.problems == [problem]


def test_duplicate_country_across_files_names_both_places(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", SRB)
    write(tmp_path, "b.yaml", HUN_ROU.replace("HUN:", "SRB:").replace("hun-", "srb-9"))

    problem = only_problem(tmp_path)

    assert where(problem) == ("b.yaml", 3, "countries.SRB")
    assert f"country SRB is already defined at {tmp_path / 'a.yaml'}:2" in problem.message


def test_a_mistake_deep_in_a_long_file(tmp_path: Path) -> None:
    blocks = [
        f"""\
  {code}:
    name: Country {code}
    timezone: Europe/Vienna
    points_of_contact:
      - id: {code.lower()}-1
        roles: [notification]
        email: ian@{code.lower()}.example
        hours: "{"Mon-Fri 8am-4pm" if code == "DEU" else "24/7"}"
      - id: {code.lower()}-2
        roles: [assistance]
"""
        for code in ("AUT", "BEL", "CZE", "DEU", "EST")
    ]
    text = "# central Europe\ncountries:\n" + "".join(blocks)
    assert text.splitlines()[39].strip() == 'hours: "Mon-Fri 8am-4pm"'
    write(tmp_path, "central.yaml", text)

    problem = only_problem(tmp_path)

    assert where(problem) == ("central.yaml", 40, "countries.DEU.points_of_contact[0].hours")


def test_every_problem_of_every_file_at_once(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", SRB.replace("Europe/Belgrade", "Mars/Olympus").replace("12m", "x"))
    write(tmp_path, "b.yaml", "countries:\n  HUN: [\n")
    write(tmp_path, "c.yaml", HUN_ROU.replace("id: rou-1", "id: srb-1"))

    with pytest.raises(FileError) as caught:
        load_registry([tmp_path])

    assert [where(p) for p in caught.value.problems] == [
        ("a.yaml", 4, "countries.SRB.timezone"),
        ("a.yaml", 15, "countries.SRB.points_of_contact[0].simulation.median"),
        ("b.yaml", 3, ""),
        ("c.yaml", 16, "countries.ROU.points_of_contact[0].id"),
    ]
    assert caught.value.status == 422
    assert str(caught.value).startswith(f"{tmp_path / 'a.yaml'}:4: countries.SRB.timezone:")


def test_wrong_top_level(tmp_path: Path) -> None:
    write(tmp_path, "list.yaml", "- SRB\n")
    write(tmp_path, "empty.yaml", "# nothing yet\n")
    write(tmp_path, "none.yaml", "contacts:\n  SRB: {}\n")

    assert [(where(p), p.message) for p in check_contacts([tmp_path])] == [
        (("empty.yaml", None, ""), "the file is empty: expected 'countries:'"),
        (("list.yaml", 1, ""), "must be a mapping, not a list"),
        (("none.yaml", 1, "countries"), "required"),
        (("none.yaml", 1, "contacts"), "unknown field"),
    ]


def test_an_empty_registry_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "none.yaml", "countries: {}\n")
    problem = only_problem(tmp_path)
    assert problem.file == str(tmp_path) and "no countries" in problem.message


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "srb.yaml", SRB)
    problems = check_contacts([tmp_path, tmp_path / "missing"])
    assert [(where(p), p.message) for p in problems] == [
        (("missing", None, ""), "no such file or folder")
    ]


@pytest.mark.skipif(
    not any(BUNDLED.glob("*.yaml")), reason="the bundled contacts/ folder has no files yet"
)
def test_the_bundled_registry_loads() -> None:
    registry = load_registry([BUNDLED])
    assert len(registry) >= 40
    assert all(c.escalation_order(Role.NOTIFICATION) for c in registry.countries.values())

"""`ians check`, the settings file, and `ians serve` refusing a broken registry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ians.cli import main
from ians.errors import FileError
from ians.settings import load_policy_table
from tests.conftest import REGISTRY_YAML

REPO = Path(__file__).resolve().parent.parent


def test_check_accepts_the_bundled_contacts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(REPO / "contacts")]) == 0
    assert "ok" in capsys.readouterr().out


def test_check_lists_every_problem_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        REGISTRY_YAML.replace("Europe/Budapest", "Europe/Budapesht").replace(
            'hours: "Mon-Fri 08:00-16:00"}', 'hours: "Mon-Fry 08:00-16:00"}'
        )
    )
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:7: countries.SRB.points_of_contact[1].hours" in err
    assert f"{bad}:10: countries.HUN.timezone" in err
    assert f"{bad}:12: countries.HUN.points_of_contact[0].hours" in err


def test_serve_refuses_a_broken_registry_before_touching_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("countries:\n  SRB: {name: Serbia}\n")
    db = tmp_path / "ians.db"
    assert main(["serve", "--contacts", str(bad), "--db", str(db)]) == 1
    assert f"{bad}:2" in capsys.readouterr().err
    assert not db.exists()


def test_a_settings_file_sets_policies_per_type_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(
        "policies:\n  default: {ack_within: 30m}\n"
        "  exercise/test: {reminders: [1m], give_up_after: 1h}\n"
    )
    table = load_policy_table(path)
    assert table.resolve("test", "exercise").reminders == (timedelta(minutes=1),)
    assert table.resolve("early_warning", "actual").ack_within == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("policies:\n  default: {ack_within: soon}\n", ":2"),
        ("policies:\n  default: {}\n  drill: {ack_within: 1h}\n", ":3"),
        ("policies:\n  default:\n    escalate_every: 0s\n", ":3"),
        ("policy: {}\n", ":1"),
        ("policies: [\n", ":2"),
    ],
)
def test_a_bad_settings_file_names_its_line(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    with pytest.raises(FileError) as caught:
        load_policy_table(path)
    assert str(caught.value).startswith(f"{path}{where}"), str(caught.value)


def test_check_reads_scenarios_against_the_registry_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = tmp_path / "contacts.yaml"
    registry.write_text(REGISTRY_YAML)
    drill = REPO / "scenarios" / "baia-mare-cyanide.yaml"  # names BGR, not in this registry
    assert main(["check", str(drill), "--contacts", str(registry)]) == 1
    assert "BGR" in capsys.readouterr().err
    assert main(["check", str(drill), "--contacts", str(REPO / "contacts")]) == 0

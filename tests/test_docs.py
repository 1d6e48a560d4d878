"""The documentation stands on its own and says what the code does."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from ians.cli import _parser

REPO = Path(__file__).resolve().parent.parent
USER_DOCS = [REPO / "README.md", REPO / "scenarios" / "README.md", *(REPO / "docs").glob("*.md")]
ANCHOR = re.compile(r"\]\(([^)#]*)#([^)]+)\)")


def test_there_are_docs() -> None:
    assert {p.name for p in (REPO / "docs").glob("*.md")} >= {
        "api.md",
        "files.md",
        "reports.md",
        "cli.md",
    }


@pytest.mark.parametrize("doc", USER_DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_the_docs_point_at_nothing_outside_the_repository(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    assert "../shared" not in text
    assert "SPEC" not in text


@pytest.mark.parametrize("doc", USER_DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_local_link_of_the_docs_leads_somewhere(doc: Path) -> None:
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
        if not target.startswith(("http://", "https://")):
            path = (doc.parent / target).resolve()
            assert path.is_relative_to(REPO) and path.exists(), f"{doc.name}: {target}"


def _documented() -> dict[str, set[str]]:
    """Per command of docs/cli.md, the options (and positionals) its table lists, as
    `--option VALUE` or `POSITIONAL`."""
    text = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    sections = re.split(r"^## `ians (\w+)`$", text, flags=re.MULTILINE)
    found: dict[str, set[str]] = {}
    for command, body in zip(sections[1::2], sections[2::2], strict=True):
        cells = re.findall(r"^\| `([^`]+)` \|", body, flags=re.MULTILINE)
        found[command] = set(cells)
    return found


def _parsed() -> dict[str, set[str]]:
    parser = _parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {
        name: {
            " ".join(action.option_strings[-1:] + [str(action.metavar)] * (action.nargs != 0))
            for action in sub._actions
            if not isinstance(action, argparse._HelpAction)
        }
        for name, sub in commands.choices.items()
    }


def test_docs_cli_lists_exactly_the_options_of_every_command() -> None:
    assert _documented() == _parsed()


def _anchor(heading: str) -> str:
    """The anchor a Markdown renderer such as GitHub's gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("doc", USER_DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_anchor_of_the_docs_names_a_heading(doc: Path) -> None:
    for target, anchor in ANCHOR.findall(doc.read_text(encoding="utf-8")):
        page = (doc.parent / target) if target else doc
        headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
        assert anchor in {_anchor(h) for h in headings}, f"{doc.name}: {target}#{anchor}"


def test_the_license_pyproject_names_is_in_the_repository() -> None:
    import tomllib

    named = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert named["license"] == "Apache-2.0"
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text

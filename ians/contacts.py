"""Loading the contacts registry from `contacts/*.yaml` (SPEC §3), all mistakes at once.

A file holds `countries: {CODE: {...}}`. The loader fills each country's `code` from its
key and each PoC's `country` from the country it is listed under; a file that writes
either itself is wrong. Every problem of every file is collected before anything is
loaded, so one run of `ians check` shows them all.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from ians.domain.contacts import Country, Registry
from ians.errors import FileError, Problem
from ians.files import line_of, load_yaml_file, validate

_SUFFIXES = (".yaml", ".yml")


class ContactsFile(BaseModel):
    """The top level of one contacts file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    countries: dict[Annotated[str, BeforeValidator(str)], Country]  # the key's own check is `code`


def load_registry(paths: Sequence[Path | str]) -> Registry:
    """The registry defined by `paths`: folders (their `*.yaml`/`*.yml` files, not
    recursively, by name) and files, merged.

    Raises FileError with every problem found (see `check_contacts`); nothing is loaded
    if there is any.
    """
    countries, problems = _read(paths)
    if problems:
        raise FileError(problems)
    return Registry(countries)


def check_contacts(paths: Sequence[Path | str]) -> list[Problem]:
    """Every problem in the registry defined by `paths`, each with file, line and field;
    empty if it loads. Covers unreadable files, YAML syntax, invalid fields, a country
    or PoC id defined twice (anywhere), and a registry without countries."""
    return _read(paths)[1]


def _read(paths: Sequence[Path | str]) -> tuple[list[Country], list[Problem]]:
    if isinstance(paths, str | Path):  # a lone path is not a sequence of paths
        paths = [paths]
    files, problems = _files(paths)
    countries: list[Country] = []
    first_country: dict[str, str] = {}  # code -> "file:line" where it was defined
    first_poc: dict[str, str] = {}  # PoC id -> "file:line"
    for path in files:
        name = str(path)
        try:
            data = load_yaml_file(path)
        except FileError as error:
            problems.extend(error.problems)
            continue
        if data is None:
            problems.append(Problem(name, None, "", "the file is empty: expected 'countries:'"))
            continue
        found = _fill_from_keys(data, name)
        found += _repeats(data, name, first_country, first_poc)
        try:
            countries.extend(validate(ContactsFile, data, name).countries.values())
        except FileError as error:
            found += [_about_key(p, data) for p in error.problems]
        problems.extend(sorted(found, key=lambda p: (p.line is not None, p.line or 0)))
    if not countries and not problems:
        where = ", ".join(str(p) for p in paths) or "contacts"
        problems.append(
            Problem(where, None, "", "no countries: expected YAML files with 'countries:'")
        )
    return countries, problems


def _files(paths: Sequence[Path | str]) -> tuple[list[Path], list[Problem]]:
    """The contacts files named by `paths`, each once, and a Problem per missing path."""
    files: list[Path] = []
    problems: list[Problem] = []
    seen: set[Path] = set()
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(
                (f for f in path.iterdir() if f.suffix.lower() in _SUFFIXES and f.is_file()),
                key=lambda f: f.name,
            )
        elif path.exists():
            found = [path]
        else:
            problems.append(Problem(str(path), None, "", "no such file or folder"))
            continue
        for file in found:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                files.append(file)
    return files, problems


def _countries(data: Any) -> Mapping[Any, Any]:
    countries = data.get("countries") if isinstance(data, Mapping) else None
    return countries if isinstance(countries, Mapping) else {}


def _pocs(country: Any) -> list[Any]:
    pocs = country.get("points_of_contact") if isinstance(country, Mapping) else None
    return pocs if isinstance(pocs, list) else []


def _fill_from_keys(data: Any, name: str) -> list[Problem]:
    """Set `code` and each PoC's `country` from the country key, in place; report
    a file that sets them itself."""
    problems = []
    for key, country in _countries(data).items():
        if not isinstance(country, MutableMapping):
            continue
        if "code" in country:
            problems.append(_written(data, name, ["countries", key, "code"], "its key"))
        country["code"] = str(key)
        for i, poc in enumerate(_pocs(country)):
            if isinstance(poc, MutableMapping):
                if "country" in poc:
                    path = ["countries", key, "points_of_contact", i, "country"]
                    problems.append(_written(data, name, path, "the country it is listed under"))
                poc["country"] = str(key)
    return problems


def _written(data: Any, name: str, path: list[Any], source: str) -> Problem:
    field = ".".join(str(p) for p in path[:3]) + "".join(
        f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[3:]
    )
    return Problem(name, line_of(data, path), field, f"remove it: it comes from {source}")


def _repeats(
    data: Any, name: str, first_country: dict[str, str], first_poc: dict[str, str]
) -> list[Problem]:
    """Countries and PoC ids already defined in an earlier file (or earlier in this one)."""
    problems = []
    for key, country in _countries(data).items():
        where = f"{name}:{line_of(data, ['countries', key])}"
        if key in first_country:
            message = f"country {key} is already defined at {first_country[key]}"
            problems.append(
                Problem(name, line_of(data, ["countries", key]), f"countries.{key}", message)
            )
            continue  # its PoCs would only repeat the same news
        first_country[key] = where
        for i, poc in enumerate(_pocs(country)):
            poc_id = poc.get("id") if isinstance(poc, Mapping) else None
            if not isinstance(poc_id, str):
                continue
            path = ["countries", key, "points_of_contact", i, "id"]
            line = line_of(data, path)
            if poc_id in first_poc:
                message = f"point of contact id {poc_id!r} is already used at {first_poc[poc_id]}"
                field = f"countries.{key}.points_of_contact[{i}].id"
                problems.append(Problem(name, line, field, message))
            else:
                first_poc[poc_id] = f"{name}:{line}"
    return problems


def _about_key(problem: Problem, data: Any) -> Problem:
    """A problem with the `code` the loader filled in is a problem with the country key."""
    for key in _countries(data):
        if problem.field == f"countries.{key}.code":
            line = line_of(data, ["countries", key])
            return Problem(problem.file, line, f"countries.{key}", problem.message)
    return problem

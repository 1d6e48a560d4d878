"""Loading scenarios (SPEC §6, §8), every mistake named by file, line and field.

A scenario is checked for its shape and its meaning, and every problem of both is
reported at once. Shape: the schema of its `kind`, and each inject's message as a draft
sent at a nominal start (so `content` meets the message schemas). Meaning: unique ids,
references between injects, and countries, participants and PoCs against the registry,
checked for every part that is right on its own even when other parts are not (an
inject with mistakes of its own, or whose draft cannot be built, is only left out of
the checks that need it).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from ians.contacts import load_registry
from ians.domain.contacts import Registry
from ians.domain.durations import format_duration
from ians.domain.limits import MAX_INJECTS, time_problem
from ians.domain.messages import AnyDraft, CountryCode, Message, Mode, check_reference, route
from ians.errors import FileError, InvalidInput, Problem
from ians.files import (
    check_size,
    line_of,
    load_yaml_file,
    load_yaml_text,
    to_plain,
    validate,
    validation_problems,
)
from ians.scenarios.model import (
    TIME_FIELDS,
    TIME_HINT,
    UNKNOWN_QUESTION_TYPE,
    ConnectivityTest,
    ConsultationScenario,
    DrillScenario,
    Inject,
    Scenario,
)
from ians.wording import located

M = TypeVar("M", bound=BaseModel)
FieldPath = list[str | int]  # a field path: ["injects", 2, "to", 0]

KINDS = ("drill", "connectivity_test", "consultation")
_KIND_HINT = "use drill, connectivity_test or consultation"
_NOMINAL_START = datetime(2026, 1, 1, tzinfo=UTC)  # content is checked as if sent then
_SUFFIXES = (".yaml", ".yml")
_FIELD_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_CODES: TypeAdapter[list[str]] = TypeAdapter(list[CountryCode])
_READER = ThreadPoolExecutor(1, thread_name_prefix="scenario-reader")


def load_scenario_file(path: Path, registry: Registry) -> Scenario:
    """The scenario in the YAML file `path`, checked against `registry`.

    Raises FileError with every problem found (file, line, field): an unreadable file,
    YAML syntax, the schema, inject content, ids, references and the registry.
    """
    return _checked(load_yaml_file(path), str(path), registry)


def load_scenario(
    source: str | Mapping[str, Any], registry: Registry, name: str = "<scenario>"
) -> Scenario:
    """The scenario in `source`, YAML text or an already parsed object (as the API gets
    it), checked against `registry`; problems name `name` as their file, and have lines
    only when `source` is text.

    Raises FileError with every problem found (see `load_scenario_file`).
    """
    if isinstance(source, str):
        data = load_yaml_text(source, name)
    else:
        check_size(source, name)
        data = source
    return _checked(data, name, registry)


async def read_scenario(
    source: str | Mapping[str, Any], registry: Registry, name: str = "<scenario>"
) -> Scenario:
    """`load_scenario` off the event loop, in the one thread that reads scenarios: reading
    takes up to a second (ruamel is pure Python), and scenarios read side by side would
    each take a share of the interpreter from the loop that answers requests."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_READER, load_scenario, source, registry, name)


def start_problems(scenario: Scenario, start: datetime) -> list[tuple[str, str]]:
    """Why `scenario` cannot start at `start`, as (field, message) pairs: a start outside
    the times IANS accepts, or an inject whose message cannot be built then (a content
    time such as `start-20m` that falls outside them). Empty if it can."""
    when = time_problem(start)
    if when:
        return [("start", when)]
    problems: list[tuple[str, str]] = []
    if isinstance(scenario, DrillScenario):
        for n, inject in enumerate(scenario.injects):
            own = {inject.refers_to: inject.refers_to} if inject.refers_to else {}
            try:
                inject.draft(Mode(scenario.mode), start, own)
            except ValidationError as error:
                data = {"content": inject.content}  # the draft's only part a start changes
                problems += [(f"injects[{n}].{e.field}", e.message) for e in located(error, data)]
    return problems


def check_files(paths: Sequence[Path], contacts: Sequence[Path] | None = None) -> list[Problem]:
    """Every problem in the contacts and scenario files named by `paths` (files, or
    folders of `*.yaml`/`*.yml` files); empty if all of them load.

    A file whose YAML has a top-level `countries` is a contacts file, one with `kind` a
    scenario. The contacts files found make one registry, whose problems are reported as
    they are; the scenarios are checked against it, or, if `paths` hold no contacts file,
    against the registry of `contacts` (default `contacts/`). When that registry does not
    load, the scenarios are still checked, without the checks that need it.
    """
    problems: list[Problem] = []
    contact_files: list[Path] = []
    scenarios: list[tuple[Path, Any]] = []
    seen: set[Path] = set()
    for path in map(Path, paths):
        files = _yaml_files(path)
        if not files:
            message = "no such file or folder" if files is None else "no YAML files in the folder"
            problems.append(Problem(str(path), None, "", message))
        for file in [f for f in files or [] if f.resolve() not in seen]:
            seen.add(file.resolve())
            try:
                data = load_yaml_file(file)
            except FileError as error:
                problems.extend(error.problems)
                continue
            if isinstance(data, Mapping) and "countries" in data:
                contact_files.append(file)
            elif isinstance(data, Mapping) and "kind" in data:
                scenarios.append((file, data))
            else:
                message = "neither contacts (countries:) nor a scenario (kind:)"
                problems.append(Problem(str(file), None, "", message))
    registry = None
    if contact_files or scenarios:
        try:
            registry = load_registry(contact_files or list(contacts or [Path("contacts")]))
        except FileError as error:
            problems.extend(error.problems)
    for path, data in scenarios:
        problems.extend(check_scenario(data, str(path), registry)[1])
    return problems


def check_scenario(
    data: Any, name: str, registry: Registry | None
) -> tuple[Scenario | None, list[Problem]]:
    """The scenario in `data` (plain or ruamel round-trip data read from `name`) and every
    problem in it, sorted by line; the scenario is None if it has any problem.

    Without a registry the checks that need one (countries, participants, PoCs) are skipped.
    """
    if data is None:
        return None, [
            Problem(name, None, "", f"the scenario is empty: expected kind: ({_KIND_HINT})")
        ]
    if not isinstance(data, Mapping):
        return None, [
            Problem(name, line_of(data, []), "", f"expected a mapping with kind: ({_KIND_HINT})")
        ]
    kind = data.get("kind")
    if kind not in KINDS:
        message = (
            f"unknown kind {kind!r}: {_KIND_HINT}" if "kind" in data else f"missing: {_KIND_HINT}"
        )
        return None, [Problem(name, line_of(data, ["kind"]), "kind", message)]
    scenario: Scenario | None
    if kind == "drill":
        scenario, problems = _check_drill(data, name, registry)
    elif kind == "connectivity_test":
        scenario, problems = _validated(ConnectivityTest, data, name)
        codes = scenario.participants if scenario else _codes(data.get("participants"))
        problems += _country_list(codes or [], ["participants"], registry, data, name)
    else:
        scenario, problems = _check_consultation(data, name, registry)
    problems.sort(key=lambda p: (p.line is not None, p.line or 0))
    return (None if problems else scenario), problems


def _checked(data: Any, name: str, registry: Registry) -> Scenario:
    scenario, problems = check_scenario(data, name, registry)
    if scenario is None:
        raise FileError(problems)
    return scenario


def _validated(model: type[M], data: Any, name: str) -> tuple[M | None, list[Problem]]:
    try:
        return validate(model, data, name), []
    except FileError as error:
        return None, list(error.problems)


# -- drills ---------------------------------------------------------------------------


def _check_drill(
    data: Mapping[str, Any], name: str, registry: Registry | None
) -> tuple[DrillScenario | None, list[Problem]]:
    """Both rounds at once: the schema, and the meaning of every part that is right on its
    own (each inject valid by itself; participants if they are a list of codes)."""
    scenario, problems = _validated(DrillScenario, data, name)
    raw = data.get("injects")
    raw = raw if isinstance(raw, list) else []
    participants: list[str] | None
    if scenario is not None:
        injects = list(enumerate(scenario.injects))
        mode, participants = Mode(scenario.mode), scenario.participants
    elif len(raw) > MAX_INJECTS:
        return None, problems  # too many to look into
    else:  # still check what is right on its own
        injects = [(n, inject) for n, item in enumerate(raw) if (inject := _inject(item))]
        mode, participants = Mode.EXERCISE, _codes(data.get("participants"))
    drafts: dict[int, AnyDraft] = {}
    for n, inject in injects:
        own = {inject.refers_to: inject.refers_to} if inject.refers_to else {}
        try:
            drafts[n] = inject.draft(mode, _NOMINAL_START, own)
        except ValidationError as error:
            problems += _content_problems(error, raw[n], n, name)
    ids = {n: item.get("id") for n, item in enumerate(raw) if isinstance(item, Mapping)}
    problems += _inject_ids(injects, data, name)
    problems += _references(injects, ids, drafts, data, name)
    problems += _country_list(participants or [], ["participants"], registry, data, name)
    if registry is not None:
        codes = list(participants) if participants is not None else list(registry.countries)
        problems += _routes(injects, codes, drafts, registry, data, name)
    return scenario, problems


def _inject(item: Any) -> Inject | None:
    try:
        return Inject.model_validate(to_plain(item))
    except ValidationError:
        return None


def _codes(value: Any) -> list[str] | None:
    """`value` if it is a list of country codes (the schema's participants), else None."""
    try:
        return _CODES.validate_python(to_plain(value)) if value is not None else None
    except ValidationError:
        return None


def _content_problems(error: ValidationError, node: Any, n: int, name: str) -> list[Problem]:
    """The draft's problems as fields of `injects[n]`, with a hint for times."""
    problems = []
    for problem in validation_problems(error, node, name):
        message = problem.message
        key = problem.field.removeprefix("content.")
        if key in TIME_FIELDS and isinstance(value := node["content"].get(key), str):
            message = f"{value!r} is not a time: {TIME_HINT}"
        field = f"injects[{n}].{problem.field}" if problem.field else f"injects[{n}]"
        problems.append(Problem(name, problem.line, field, message))
    return problems


Injects = Sequence[tuple[int, Inject]]  # the injects checked, by their index in the file


def _inject_ids(injects: Injects, data: Any, name: str) -> list[Problem]:
    problems = []
    first: dict[str, int] = {}
    for n, inject in injects:
        if inject.id in first:
            message = f"inject id {inject.id!r} is already used by injects[{first[inject.id]}]"
            problems.append(_problem(data, name, ["injects", n, "id"], message))
        first.setdefault(inject.id, n)
    return problems


def _references(
    injects: Injects,
    ids: Mapping[int, Any],
    drafts: Mapping[int, AnyDraft],
    data: Any,
    name: str,
) -> list[Problem]:
    """`refers_to` names an inject sent earlier, and meets the rules of `check_reference`
    applied to the message that inject sends. `ids` are every inject's id as written,
    so that a reference to an inject with mistakes of its own is not called unknown."""
    problems = []
    checked = dict(injects)
    first: dict[str, int] = {}
    for n, id_ in ids.items():
        if isinstance(id_, str):
            first.setdefault(id_, n)
    for n, inject in injects:
        path: FieldPath = ["injects", n, "refers_to"]
        ref, referred = inject.refers_to, None
        if ref is not None:
            if ref not in first:
                problems.append(_problem(data, name, path, f"no inject {ref!r} in this scenario"))
                continue
            if first[ref] == n:
                problems.append(_problem(data, name, path, "an inject cannot refer to itself"))
                continue
            earlier = checked.get(first[ref])
            if earlier is None:
                continue  # that inject has mistakes of its own, reported
            if (earlier.at, first[ref]) > (inject.at, n):
                when = (
                    f"later, at {format_duration(earlier.at)}"
                    if earlier.at > inject.at
                    else "at the same time but comes later in the file"
                )
                problems.append(_problem(data, name, path, f"{ref!r} is sent {when}"))
                continue
            if first[ref] not in drafts:
                continue  # its content is wrong, and reported
            referred = _sent(earlier, drafts[first[ref]])
        if n in drafts:
            try:
                check_reference(drafts[n], referred)
            except InvalidInput as error:
                problems += _relocated(error, ["injects", n], data, name)
    return problems


def _sent(inject: Inject, draft: AnyDraft) -> Message:
    """The message an inject's draft becomes, as `check_reference` sees it."""
    return Message(
        id=inject.id,
        type=draft.type,
        mode=draft.mode,
        sender=draft.sender,
        to=draft.to,
        sent_at=_NOMINAL_START + inject.at,
        refers_to=draft.refers_to,
        content=draft.content,
    )


def _country_list(
    codes: Sequence[str], path: FieldPath, registry: Registry | None, data: Any, name: str
) -> list[Problem]:
    """Each country listed once, and in `registry` if there is one."""
    problems = []
    seen: set[str] = set()
    for i, code in enumerate(codes):
        if code in seen:
            problems.append(_problem(data, name, [*path, i], f"{code} is listed twice"))
            continue
        seen.add(code)
        if registry is not None and code not in registry:
            message = f"no country {code!r} in the registry"
            problems.append(_problem(data, name, [*path, i], message))
    return problems


def _routes(
    injects: Injects,
    participants: Sequence[str],
    drafts: Mapping[int, AnyDraft],
    registry: Registry,
    data: Any,
    name: str,
) -> list[Problem]:
    """Each inject's sender and recipients exist, take part, and can receive its type."""
    problems = []
    taking = set(participants)
    for n, inject in injects:
        if n in drafts:
            for field, message in _route_problems(drafts[n], registry):
                problems.append(_problem(data, name, ["injects", n, *_parts(field)], message))
        taking_part: list[tuple[FieldPath, str | None]] = [(["from"], inject.sender)]
        taking_part += [(["to", i], code) for i, code in enumerate(inject.to)]
        for path, code in taking_part:
            if code in registry and code not in taking:
                message = f"{code} is not a participant of this drill"
                problems.append(_problem(data, name, ["injects", n, *path], message))
    return problems


def _route_problems(draft: AnyDraft, registry: Registry) -> list[tuple[str, str]]:
    """Every (field, message) that `route` finds in `draft`."""
    try:
        route(draft, registry)
    except InvalidInput as error:
        return [(detail["field"], detail["message"]) for detail in error.details]
    return []


# -- consultations --------------------------------------------------------------------


def _check_consultation(
    data: Mapping[str, Any], name: str, registry: Registry | None
) -> tuple[ConsultationScenario | None, list[Problem]]:
    scenario, problems = _validated(ConsultationScenario, data, name)
    problems = [_question_type(problem, data) for problem in problems]
    if scenario is None:
        return None, problems
    first: dict[str, int] = {}
    for n, question in enumerate(scenario.questions):
        if question.id in first:
            message = (
                f"question id {question.id!r} is already used by questions[{first[question.id]}]"
            )
            problems.append(_problem(data, name, ["questions", n, "id"], message))
        first.setdefault(question.id, n)
    deadline = scenario.deadline
    if not isinstance(deadline, datetime):
        for i, reminder in enumerate(scenario.reminders):
            if reminder >= deadline:
                message = (
                    f"{format_duration(reminder)} before the deadline is not after the opening:"
                    f" use less than {format_duration(deadline)}"
                )
                problems.append(_problem(data, name, ["reminders", i], message))
    countries = scenario.audience.countries
    listed = [] if countries == "all" else countries
    path: FieldPath = ["audience", "countries"]
    audience = _country_list(listed, path, registry, data, name)
    problems += audience
    if registry is not None and not audience and not scenario.audience_pocs(registry):
        roles = " or ".join(scenario.audience.roles)
        message = f"no point of contact with the role {roles} in these countries"
        problems.append(_problem(data, name, ["audience"], message))
    return scenario, problems


def _question_type(problem: Problem, data: Mapping[str, Any]) -> Problem:
    """A question of unknown type: pydantic names the question, this names its `type`."""
    question = re.fullmatch(r"questions\[(\d+)\]", problem.field)
    if question is None or problem.message != UNKNOWN_QUESTION_TYPE:
        return problem
    path: FieldPath = ["questions", int(question[1]), "type"]
    node = data["questions"][int(question[1])]
    hint = UNKNOWN_QUESTION_TYPE.removeprefix("unknown question type: ")
    given = node.get("type") if isinstance(node, Mapping) else None
    message = (
        f"unknown question type {given!r}: {hint}" if given is not None else f"missing: {hint}"
    )
    return _problem(data, problem.file, path, message)


# -- helpers --------------------------------------------------------------------------


def _problem(data: Any, name: str, path: FieldPath, message: str) -> Problem:
    return Problem(name, line_of(data, path), _field(path), message)


def _field(path: FieldPath) -> str:
    """["injects", 2, "to", 0] as `injects[2].to[0]`."""
    field = ""
    for part in path:
        field += f"[{part}]" if isinstance(part, int) else f".{part}" if field else part
    return field


def _parts(field: str) -> FieldPath:
    """`to[2]` as ["to", 2]: the inverse of `_field`."""
    return [name or int(index) for name, index in _FIELD_PART.findall(field)]


def _relocated(error: InvalidInput, prefix: FieldPath, data: Any, name: str) -> list[Problem]:
    """The fields an InvalidInput names (`to[0]`, `refers_to`), under `prefix`."""
    return [
        _problem(data, name, [*prefix, *_parts(detail["field"])], detail["message"])
        for detail in error.details
    ]


def _yaml_files(path: Path) -> list[Path] | None:
    """The files `path` names: itself, or a folder's YAML files by name; None if it does
    not exist."""
    if path.is_dir():
        return sorted(
            (f for f in path.iterdir() if f.suffix.lower() in _SUFFIXES and f.is_file()),
            key=lambda f: f.name,
        )
    return [path] if path.exists() else None

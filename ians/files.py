"""YAML files with positions: loading, and pydantic validation whose errors name file:line.

Files are read with ruamel.yaml's round-trip loader, which remembers the line of every
mapping key and sequence item, so a validation error can point at the line to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from ians.errors import FileError, Problem

M = TypeVar("M", bound=BaseModel)

_MISSING = object()  # a loc part that is not in the data (a missing field)
_DUPLICATE_KEY = re.compile(r'found duplicate key "(.*?)"')
_MESSAGES = {  # pydantic messages that name Python types rather than YAML ones
    "extra_forbidden": "unknown field",
    "tuple_type": "Input should be a list",
    "list_type": "Input should be a list",
    "model_type": "Input should be a mapping",
    "model_attributes_type": "Input should be a mapping",
    "dict_type": "Input should be a mapping",
}


def load_yaml_file(path: Path) -> Any:
    """The YAML document in `path` as ruamel round-trip data (dicts and lists with lines).

    Raises FileError with one Problem if the file cannot be read, is not UTF-8, or is not
    valid YAML (see `load_yaml_text`).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileError(
            [Problem(str(path), None, "", f"not UTF-8 text ({error.reason})")]
        ) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise FileError([Problem(str(path), None, "", f"cannot read the file: {reason}")]) from None
    return load_yaml_text(text, str(path))


def load_yaml_text(text: str, name: str) -> Any:
    """The YAML document in `text` (named `name` in errors) as ruamel round-trip data.

    An empty document gives None. Raises FileError with one Problem, at the 1-based line
    of the mistake, for a syntax error, a duplicate key or more than one document.
    """
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as error:
        raise FileError([_syntax_problem(error, name)]) from None
    except YAMLError as error:
        raise FileError([Problem(name, None, "", f"YAML syntax error: {error}")]) from None


def validate(model: type[M], data: Any, file: str, *, context: dict[str, Any] | None = None) -> M:
    """`model` validated from `data` (plain or ruamel round-trip data loaded from `file`).

    Raises FileError with one Problem per pydantic error: the dotted field path
    (`countries.SRB.points_of_contact[1].hours`), the line of the deepest part of that
    path present in `data`, and pydantic's message without its "Value error, " prefix.
    """
    try:
        return model.model_validate(to_plain(data), context=context)
    except ValidationError as error:
        raise FileError(validation_problems(error, data, file)) from None


def validation_problems(error: ValidationError, data: Any, file: str) -> list[Problem]:
    """One Problem per error in `error`, located in `data` (see `validate`)."""
    problems = []
    for detail in error.errors(include_url=False):
        field, line = _locate(data, detail["loc"])
        problems.append(Problem(file, line, field, _message(detail)))
    return problems


def line_of(data: Any, path: Sequence[str | int]) -> int | None:
    """The 1-based line of the deepest node along `path` that exists in ruamel `data`:
    a mapping entry's key line, a sequence item's line; None if `data` has no lines."""
    return _locate(data, path)[1]


def to_plain(data: Any) -> Any:
    """`data` with ruamel's round-trip types (CommentedMap, ScalarFloat, TimeStamp, ...)
    replaced by plain dict, list, tuple, str, int, float, bool, datetime and date."""
    if isinstance(data, Mapping):
        return {to_plain(key): to_plain(value) for key, value in data.items()}
    if isinstance(data, tuple):
        return tuple(to_plain(item) for item in data)
    if isinstance(data, list):
        return [to_plain(item) for item in data]
    if isinstance(data, ScalarBoolean):  # an int subclass, for anchored booleans
        return bool(data)
    if isinstance(data, bool):
        return data
    for kind in (int, float, str):
        if isinstance(data, kind):
            return kind(data)
    if isinstance(data, datetime):
        return datetime(
            data.year, data.month, data.day, data.hour, data.minute, data.second,
            data.microsecond, data.tzinfo, fold=data.fold,
        )  # fmt: skip
    if isinstance(data, date):
        return date(data.year, data.month, data.day)
    return data


def _syntax_problem(error: MarkedYAMLError, name: str) -> Problem:
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = str(error.problem or error.context or "invalid YAML")
    duplicate = _DUPLICATE_KEY.search(problem)
    if duplicate:
        return Problem(name, line, "", f"duplicate key {duplicate[1]!r}")
    context_mark = error.context_mark
    if error.context and context_mark is not None and context_mark.line + 1 != line:
        problem += f" ({error.context} on line {context_mark.line + 1})"
    return Problem(name, line, "", f"YAML syntax error: {problem}")


def _locate(data: Any, loc: Sequence[str | int]) -> tuple[str, int | None]:
    """The dotted field path of pydantic `loc` and the line of its deepest node in `data`."""
    node, line, field = data, _own_line(data), ""
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if part == "[key]":  # the error is about the mapping key just reached
            continue
        if isinstance(node, Mapping) and part in node:
            line = _entry_line(node, part, line)
            node, field = node[part], f"{field}.{part}" if field else str(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            line = _entry_line(node, part, line)
            node, field = node[part], f"{field}[{part}]"
        elif (
            node is not _MISSING
            and isinstance(part, str)
            and not (last and isinstance(node, Mapping))
        ):
            continue  # a union member's tag: pydantic's, not the file's
        else:
            node = _MISSING
            step = f"[{part}]" if isinstance(part, int) else f".{part}"
            field = f"{field}{step}" if field else str(part)
    return field, line


def _own_line(node: Any) -> int | None:
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None and lc.line is not None else None


def _entry_line(node: Any, key: Any, default: int | None) -> int | None:
    lc = getattr(node, "lc", None)
    if lc is None:
        return default
    try:
        position = lc.key(key) if isinstance(node, Mapping) else lc.item(key)
    except (KeyError, IndexError, TypeError):  # added after loading, or from a merge key
        return default
    return int(position[0]) + 1


def _message(detail: ErrorDetails) -> str:
    if detail["type"] in _MESSAGES:
        return _MESSAGES[detail["type"]]
    message = detail["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message

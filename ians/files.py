"""YAML files with positions: loading, and pydantic validation whose errors name file:line.

Files are read with ruamel.yaml's round-trip loader, which remembers the line of every
mapping key and sequence item, so a validation error can point at the line to fix.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    NodeEvent,
    ScalarEvent,
)
from ruamel.yaml.parser import RoundTripParser
from ruamel.yaml.scalarbool import ScalarBoolean

from ians.domain.limits import MAX_ALIASES, MAX_DEPTH, MAX_FILE_BYTES, MAX_VALUES, PARSE_SECONDS
from ians.errors import FileError, Problem
from ians.wording import locate, located

M = TypeVar("M", bound=BaseModel)

_DUPLICATE_KEY = re.compile(r'found duplicate key "(.*?)"')


def load_yaml_file(path: Path) -> Any:
    """The YAML document in `path` as ruamel round-trip data (dicts and lists with lines).

    Raises FileError with one Problem if the file cannot be read, is not UTF-8, or is not
    valid YAML (see `load_yaml_text`).
    """
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise FileError([Problem(str(path), None, "", _too_big())])
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
    of the mistake, for a syntax error, a duplicate key or more than one document, and
    for a document over one of the limits of `ians.domain.limits` (size, nesting depth,
    aliases, values once aliases are expanded, time to read), which are checked as the
    text is parsed, so reading stops at the first one passed.
    """
    if len(text) > MAX_FILE_BYTES:
        raise FileError([Problem(name, None, "", _too_big())])
    yaml = YAML(typ="rt")
    yaml.Parser = _BoundedParser
    try:
        return yaml.load(text)
    except _OverLimit as error:
        raise FileError([Problem(name, error.line, "", error.message)]) from None
    except MarkedYAMLError as error:
        raise FileError([_syntax_problem(error, name)]) from None
    except YAMLError as error:
        raise FileError([Problem(name, None, "", f"YAML syntax error: {error}")]) from None


def check_size(data: Any, name: str) -> None:
    """Raises FileError if plain `data` (a JSON object, say) nests deeper than MAX_DEPTH
    mappings and lists or holds more than MAX_VALUES values: the limits of YAML text."""
    values, stack = 0, [(data, 1)]
    while stack:
        node, depth = stack.pop()
        values += 1
        if values > MAX_VALUES:
            message = f"more than the limit of {MAX_VALUES} values"
            raise FileError([Problem(name, None, "", message)])
        if isinstance(node, Mapping | list | tuple):
            if depth > MAX_DEPTH:
                message = f"nested deeper than the limit of {MAX_DEPTH} mappings and lists"
                raise FileError([Problem(name, None, "", message)])
            items = node.values() if isinstance(node, Mapping) else node
            stack.extend((item, depth + 1) for item in items)


def validate(model: type[M], data: Any, file: str, *, context: dict[str, Any] | None = None) -> M:
    """`model` validated from `data` (plain or ruamel round-trip data loaded from `file`).

    Raises FileError with one Problem per invalid field: the dotted field path
    (`countries.SRB.points_of_contact[1].hours`), the line of the deepest part of that
    path present in `data`, and the message in plain words (`ians.wording`).
    """
    try:
        return model.model_validate(to_plain(data), context=context)
    except ValidationError as error:
        raise FileError(validation_problems(error, data, file)) from None


def validation_problems(error: ValidationError, data: Any, file: str) -> list[Problem]:
    """One Problem per error in `error`, located in `data` (see `validate`)."""
    return [Problem(file, e.line, e.field, e.message) for e in located(error, data)]


def line_of(data: Any, path: Sequence[str | int]) -> int | None:
    """The 1-based line of the deepest node along `path` that exists in ruamel `data`:
    a mapping entry's key line, a sequence item's line; None if `data` has no lines."""
    return locate(data, path)[1]


def to_plain(data: Any) -> Any:
    """`data` with ruamel's round-trip types (CommentedMap, ScalarFloat, TimeStamp, ...)
    replaced by plain dict, list, tuple, str, int, float, bool, datetime and date."""
    if isinstance(data, Mapping):
        return {_plain_key(key): to_plain(value) for key, value in data.items()}
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


def _plain_key(key: Any) -> Any:
    """A mapping's key as plain data; a mapping used as a key (`? {a: 1}`), which no
    plain dict can hold, as its text, for validation to call an unknown field."""
    return repr(to_plain(key)) if isinstance(key, Mapping) else to_plain(key)


def _too_big() -> str:
    return f"over the limit of {MAX_FILE_BYTES // 1024} KiB for a file"


class _OverLimit(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        self.line, self.message = line, message


class _BoundedParser(RoundTripParser):
    """ruamel's round-trip parser, counting as it goes: nesting depth, aliases, and values
    with every alias expanded (the size the document takes once loaded), within a time
    budget. Raises _OverLimit at the first event past a limit, so a hostile document is
    refused after reading no more of it than the limits allow."""

    def __init__(self, loader: Any) -> None:
        super().__init__(loader)
        self._deadline = time.monotonic() + PARSE_SECONDS
        self._open: list[list[Any]] = []  # per open collection: [anchor, values so far]
        self._sizes: dict[str, int] = {}  # anchor → values of its node, aliases expanded
        self._anchors: set[str] = set()
        self._aliases = 0
        self._values = 0

    def check_event(self, *choices: Any) -> bool:
        self._produce()
        return bool(super().check_event(*choices))

    def peek_event(self) -> Any:
        self._produce()
        return super().peek_event()

    def get_event(self) -> Any:
        self._produce()
        return super().get_event()

    def _produce(self) -> None:
        """The next event, counted once, as soon as it is made (the composer peeks at an
        event before it takes it)."""
        if self.current_event is None and self.state:
            self.current_event = self.state()
            if isinstance(self.current_event, NodeEvent | CollectionEndEvent):
                self._count(self.current_event)

    def _count(self, event: Any) -> None:
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, CollectionEndEvent):
            anchor, size = self._open.pop()
            if anchor is not None:
                self._sizes[anchor] = size
            if self._open:  # the values of a closed collection count in its holder's
                self._open[-1][1] += size
            return
        if not isinstance(event, AliasEvent) and event.anchor is not None:
            if event.anchor in self._anchors:  # ruamel would only warn, and take the last
                raise _OverLimit(
                    line, f"anchor &{event.anchor} is defined twice: give each its own name"
                )
            self._anchors.add(event.anchor)
        if isinstance(event, AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _OverLimit(
                    line, f"more than the limit of {MAX_ALIASES} aliases (*name and <<: *name)"
                )
            size = self._sizes.get(event.anchor, 1)
        else:
            size = 1
            if isinstance(event, ScalarEvent) and event.anchor is not None:
                self._sizes[event.anchor] = 1
        if isinstance(event, CollectionStartEvent):
            self._open.append([event.anchor, 1])
            if len(self._open) > MAX_DEPTH:
                raise _OverLimit(
                    line, f"nested deeper than the limit of {MAX_DEPTH} mappings and lists"
                )
        elif self._open:
            self._open[-1][1] += size
        self._values += size
        if self._values > MAX_VALUES:
            raise _OverLimit(
                line, f"more than the limit of {MAX_VALUES} values once its aliases are expanded"
            )
        if time.monotonic() > self._deadline:
            raise _OverLimit(line, f"took longer than the limit of {PARSE_SECONDS:g}s to read")
        if self._values % 64 == 0:
            # off the event loop, let it have the interpreter now rather than after 5 ms
            time.sleep(0)


# ruamel's words for a syntax error (its `problem`), and what they mean to a person
_SYNTAX = [
    (
        re.compile(r"mapping values are not allowed here"),
        "a ':' where no key can start: quote text that contains ': ', or check the indentation",
    ),
    (re.compile(r"found character '\\t' that cannot start any token"), "a tab: indent with spaces"),
    (
        re.compile(r"found character '(.+)' that cannot start any token"),
        "{0} cannot start a value: quote the text",
    ),
    (
        re.compile(r"expected ',' or '\}'"),
        "a {{ mapping }} is not closed, or two of its entries have no ',' between them",
    ),
    (
        re.compile(r"expected ',' or '\]'"),
        "a [ list ] is not closed, or two of its items have no ',' between them",
    ),
    (
        re.compile(r"expected <block end>|could not find expected ':'"),
        "the indentation does not match the lines above (or a key has no ':')",
    ),
    (re.compile(r"found undefined alias '(.+)'"), "*{0} names no anchor: write &{0} before it"),
    (re.compile(r"found unexpected end of stream"), "the file ends inside a quoted text"),
    (
        re.compile(r"found another document"),
        "more than one document (---): one per file",
    ),
]


def _syntax_problem(error: MarkedYAMLError, name: str) -> Problem:
    """A syntax error at its line, with its column and in plain words where ruamel's
    words are known (else ruamel's own, prefixed `YAML syntax error`)."""
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = str(error.problem or error.context or "invalid YAML")
    duplicate = _DUPLICATE_KEY.search(problem)
    if duplicate:
        return Problem(name, line, "", f"duplicate key {duplicate[1]!r}")
    where = f" at column {mark.column + 1}" if mark is not None else ""
    for pattern, words in _SYNTAX:
        found = pattern.search(problem)
        if found:
            words = words.format(*found.groups())
            return Problem(name, line, "", f"YAML syntax error{where}: {words}")
    context_mark = error.context_mark
    if error.context and context_mark is not None and context_mark.line + 1 != line:
        problem += f" ({error.context} on line {context_mark.line + 1})"
    return Problem(name, line, "", f"YAML syntax error{where}: {problem}")

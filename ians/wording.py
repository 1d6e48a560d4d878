"""The one place where pydantic's errors become plain words, for files and the API alike.

pydantic names Python types (`dict[str,any]`), union members (`scenario.str`), regular
expressions and enum reprs. Here each error gets a message that says what is wrong and
what is allowed, in the words of a YAML file or a JSON body, and a field path made of
the user's own keys: a part of pydantic's location that is not in the data (a union
member's tag) is left out, and the errors of one union's members at one field become
one message (`must be text or a mapping, not a number`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

_MISSING = object()  # a loc part that is not in the data (a missing field)
UNSEEN = object()
"""The data, when it cannot be looked into: field paths are pydantic's locations."""
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
TIME_EXAMPLE = "2026-11-27T08:45:00+01:00"

# what a value of the wrong type should have been, by pydantic error type
_EXPECTED = {
    "string_type": "text",
    "string_unicode": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "none_required": "null",
}


@dataclass(frozen=True)
class Located:
    """One invalid field: its path in the user's keys, its line (files only), what is wrong."""

    field: str
    line: int | None
    message: str


def located(error: ValidationError, data: Any) -> list[Located]:
    """Every error of `error` in plain words, at its field of `data` (the plain or ruamel
    round-trip data that was validated), in pydantic's order; the errors of a union's
    members at one field merged into one."""
    out: list[Located] = []
    pending: dict[str, list[ErrorDetails]] = {}
    lines: dict[str, int | None] = {}
    for detail in error.errors(include_url=False):
        loc = list(detail["loc"])
        if detail["type"] in ("union_tag_invalid", "union_tag_not_found"):  # about the tag
            loc.append(str(detail.get("ctx", {}).get("discriminator", "type")).strip("'\""))
        field, line = (field_path(loc), None) if data is UNSEEN else locate(data, loc)
        if field not in pending:
            pending[field], lines[field] = [], line
        pending[field].append(detail)
    for field, details in pending.items():
        out.append(Located(field, lines[field], _merged(details)))
    return out


def describe(detail: ErrorDetails) -> str:
    """One pydantic error in plain words: what is wrong and what is allowed."""
    kind, ctx, given = detail["type"], detail.get("ctx") or {}, detail.get("input")
    expected = _expected(detail)
    if expected is not None:
        return f"must be {expected}, not {_kind(given)}"
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "invalid_key":
        return f"a field name must be text, not {_kind(given)}"
    if kind == "union_tag_invalid":
        return f"{ctx.get('tag')!r} is not one of {', '.join(_choices(ctx.get('expected_tags')))}"
    if kind == "union_tag_not_found":
        return "required"
    if kind in ("literal_error", "enum"):
        choices = _choices(ctx.get("expected"))
        return f"{_shown(given)} is not one of {', '.join(choices)}"
    if kind == "too_short":
        n, actual = ctx.get("min_length"), ctx.get("actual_length")
        return f"needs at least {_items(n)}, {'none' if not actual else actual} given"
    if kind == "too_long":
        return f"at most {_items(ctx.get('max_length'))}, {ctx.get('actual_length')} given"
    if kind == "string_too_short":
        n = ctx.get("min_length")
        return "must not be empty" if n == 1 else f"needs at least {n} characters"
    if kind == "string_too_long":
        size = f" ({len(given)} given)" if isinstance(given, str) else ""
        return f"at most {ctx.get('max_length')} characters{size}"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        size = "small" if key.startswith("g") else "large"
        return f"{_shown(given)} is too {size}: must be {words} {_shown(ctx.get(key))}"
    if kind.startswith(("datetime_", "date_")) or kind == "datetime_from_date_parsing":
        return f"{_shown(given)} is not a time: use RFC 3339, such as {TIME_EXAMPLE}"
    if kind == "timezone_aware":
        return f"{_shown(given)} needs an offset, such as Z or +01:00"
    if kind == "string_pattern_mismatch":
        return f"{_shown(given)} does not have the expected form"
    if kind == "recursion_loop":
        return "nested too deeply"
    message = str(detail["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def field_path(loc: Sequence[str | int]) -> str:
    """`('content', 'substances', 0, 'cas')` → `content.substances[0].cas`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def locate(data: Any, loc: Sequence[str | int]) -> tuple[str, int | None]:
    """The dotted field path of pydantic `loc` in `data`, without the parts that are not
    the data's (union members' tags), and the 1-based line of its deepest node when `data`
    is ruamel round-trip data (None otherwise)."""
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
            continue  # a union member's tag: pydantic's, not the data's
        else:
            node = _MISSING
            step = f"[{part}]" if isinstance(part, int) else f".{part}"
            field = f"{field}{step}" if field else str(part)
    return field, line


def _merged(details: list[ErrorDetails]) -> str:
    """One message for the errors at one field: a union's members, each expecting a kind
    of value, say what any of them would take."""
    if len(details) == 1:
        return describe(details[0])
    expected = [_expected(d) for d in details]
    if all(e is not None for e in expected):
        kinds = list(dict.fromkeys(e for e in expected if e is not None))
        return f"must be {' or '.join(kinds)}, not {_kind(details[0].get('input'))}"
    return "; or ".join(dict.fromkeys(describe(d) for d in details))


def _expected(detail: ErrorDetails) -> str | None:
    """What a value of the wrong kind should have been (`a mapping`), or for a union
    member that takes one literal, that literal; None for other errors."""
    kind = detail["type"]
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    loc = detail["loc"]
    if kind == "literal_error" and loc and str(loc[-1]).startswith("literal["):
        return " or ".join(_choices((detail.get("ctx") or {}).get("expected")))
    return None


def _choices(expected: Any) -> list[str]:
    """The values in pydantic's `'a', 'b' or 'c'` (or enum reprs `<E.A: 'a'>`), unquoted."""
    text = str(expected or "")
    found = [m.replace("\\'", "'") for m in _QUOTED.findall(text)]
    return found or [text]


def _items(n: Any) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the text {_shown(value)}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, date):  # YAML reads 2026-11-27 as a date: quote it for text
        return f"the time {value.isoformat()}"
    return type(value).__name__


def _shown(value: Any) -> str:
    """A value as quoted in a message, cut to a readable length."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, bool):
        text = text.lower()
    return text if len(text) <= 60 else text[:57] + "..."


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

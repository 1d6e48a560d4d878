"""The send-a-message form, read off the domain's own models: one field per field of a
report type's content (a choice for a `Literal`, boxes for a list of them, a few rows for a
list of items such as substances), each named by its path in the API's JSON body
(`content.location.lat`, `content.substances[0].cas`), so that the API's 422 details land
beside the field they name. No rule is checked here: the draft's model and the tracker
check it, as for `POST /api/messages`.
"""

from __future__ import annotations

import itertools
import re
import types
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Union, get_args, get_origin

from multidict import MultiMapping
from pydantic import AwareDatetime, BaseModel

from ians.domain.messages import (
    AssistanceRequestContent,
    AssistanceResponseContent,
    EarlyWarningContent,
    InformationContent,
    MessageType,
    TestContent,
)

CONTENTS: dict[MessageType, type[BaseModel]] = {
    MessageType.EARLY_WARNING: EarlyWarningContent,
    MessageType.INFORMATION: InformationContent,
    MessageType.ASSISTANCE_REQUEST: AssistanceRequestContent,
    MessageType.ASSISTANCE_RESPONSE: AssistanceResponseContent,
    MessageType.TEST: TestContent,
}
ROWS = 3  # rows offered for a list of items (substances, assistance): empty rows are left out
_SHORT = {"name", "facility", "quantity", "cas", "un", "delivery_location"}  # one-line fields
_INDEX = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Field:
    """One input of the form. `kind`: text, textarea, number, time (UTC), choice, choices
    (check boxes), group (a nested object) or rows (a list of objects)."""

    name: str  # the path in the API's body, also the input's name
    label: str
    kind: str
    required: bool = False
    choices: tuple[str, ...] = ()
    parts: tuple[Field, ...] = ()  # a group's fields; a row's fields, `[i]` in their names
    rows: int = 0
    default: str = ""
    hint: str = ""

    @property
    def id(self) -> str:
        """An HTML id for the input (no dots or brackets)."""
        return "f-" + re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")

    def row(self, i: int) -> tuple[Field, ...]:
        """The fields of row `i` of a `rows` field."""
        return tuple(
            Field(p.name.replace("[i]", f"[{i}]"), p.label, p.kind, p.required, p.choices)
            for p in self.parts
        )


_LABELS = {"cas": "CAS number", "un": "UN number", "lat": "Latitude", "lon": "Longitude"}


def _label(name: str) -> str:
    return _LABELS.get(name) or name.replace("_", " ").capitalize()


def _strip_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _base(annotation: Any) -> Any:
    """The type under `Annotated[...]` and `| None`."""
    annotation = _strip_none(annotation)
    while hasattr(annotation, "__metadata__"):
        annotation = get_args(annotation)[0]
    return _strip_none(annotation)


def fields_of(model: type[BaseModel], prefix: str, nested: bool = False) -> tuple[Field, ...]:
    """The form's fields for `model`, named under `prefix`."""
    out: list[Field] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}"
        base = _base(info.annotation)
        required = info.is_required()
        label = _label(name)
        default = info.default if isinstance(info.default, str) else ""
        if get_origin(base) is Literal:
            out.append(Field(path, label, "choice", required, get_args(base), default=default))
        elif get_origin(base) is list:
            item = _base(get_args(base)[0])
            if get_origin(item) is Literal:
                out.append(Field(path, label, "choices", required, get_args(item)))
            else:
                parts = fields_of(item, f"{path}[i]", nested=True)
                out.append(Field(path, label, "rows", required, parts=parts, rows=ROWS))
        elif isinstance(base, type) and issubclass(base, BaseModel):
            out.append(Field(path, label, "group", required, parts=fields_of(base, path, True)))
        elif base in (datetime, AwareDatetime):
            out.append(Field(path, f"{label} (UTC)", "time", required))
        elif base in (float, int):
            out.append(Field(path, label, "number", required))
        else:
            short = nested or name in _SHORT
            out.append(Field(path, label, "text" if short else "textarea", required))
    return tuple(out)


def content_fields(type_: MessageType) -> tuple[Field, ...]:
    return fields_of(CONTENTS[type_], "content")


def _put(tree: dict[str, Any], path: str, value: Any) -> None:
    """Set `value` at a dotted path with `[i]` indices (`content.substances[0].cas`)."""
    keys: list[str | int] = []
    for part in path.split("."):
        name, *indices = _INDEX.split(part)
        keys.append(name)
        keys.extend(int(i) for i in indices if i)
    node: Any = tree
    for key, after in itertools.pairwise([*keys, None]):
        if isinstance(key, int):
            node.extend([None] * (key + 1 - len(node)))
        empty: Any = [] if isinstance(after, int) else {}
        if after is None:
            node[key] = value
        elif isinstance(key, int):
            node[key] = empty if node[key] is None else node[key]
            node = node[key]
        else:
            node = node.setdefault(key, empty)


def _time(raw: str) -> str:
    """A `datetime-local` value read as UTC; anything else as it came (the model names it)."""
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    return raw + "Z" if at.tzinfo is None else raw


@dataclass
class ReadForm:
    """A filled form: the API body it makes, and how its rows were renumbered (empty rows
    are left out, so `content.substances[0]` of the body may be row 1 of the form)."""

    body: dict[str, Any]
    renumbered: dict[str, str]  # body path prefix → form path prefix

    def form_path(self, path: str) -> str:
        for body_prefix, form_prefix in self.renumbered.items():
            if path == body_prefix or path.startswith(body_prefix + "."):
                return form_prefix + path[len(body_prefix) :]
        return path


def read_content(fields: tuple[Field, ...], form: MultiMapping[Any]) -> ReadForm:
    """The `content` object of an API body from the form; blank fields are left out."""
    tree: dict[str, Any] = {}
    renumbered: dict[str, str] = {}

    def text(name: str) -> str | None:
        raw = form.get(name)
        return raw.strip() if isinstance(raw, str) and raw.strip() else None

    def read(f: Field, into: dict[str, Any], name: str) -> None:
        if f.kind == "choices":
            picked = [v for v in form.getall(f.name, []) if isinstance(v, str)]
            if picked:
                _put(into, name, picked)
        elif f.kind == "group":
            for p in f.parts:
                read(p, into, p.name)
        elif f.kind == "rows":
            kept = 0
            for i in range(f.rows):
                row = f.row(i)
                if not any(text(p.name) for p in row):
                    continue
                for p in row:
                    value = text(p.name)
                    if value is not None:
                        _put(into, p.name.replace(f"[{i}]", f"[{kept}]", 1), value)
                renumbered[f"{f.name}[{kept}]"] = f"{f.name}[{i}]"
                kept += 1
        else:
            value = text(f.name)
            if value is not None:
                _put(into, name, _time(value) if f.kind == "time" else value)

    for f in fields:
        read(f, tree, f.name)
    return ReadForm(tree.get("content", {}), renumbered)


def form_values(form: MultiMapping[Any]) -> dict[str, list[str]]:
    """The form's values to show again, as they came: every value of each name."""
    return {
        key: [v for v in form.getall(key) if isinstance(v, str)]
        for key in set(form.keys())
        if key not in ("csrf", "confirm", "edit")
    }

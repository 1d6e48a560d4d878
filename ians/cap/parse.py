"""A CAP 1.2 alert from outside as the draft of a message (the inverse of render.py).

An Alert becomes an early warning, an Update information about the early warning its
first reference names. The result is the same draft a JSON body gives, validated by
the same model; `lines` says which line of the CAP each draft field came from, so
that every error can name its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from ians.cap import mapping as m
from ians.cap.xml import NS, Problem, invalid
from ians.domain.messages import MessageType
from ians.errors import IansError, InvalidInput

_Q = f"{{{NS}}}"
_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_CIRCLE = re.compile(rf"^\s*({_NUMBER})\s*,\s*({_NUMBER})\s+{_NUMBER}\s*$")
_POINT = re.compile(rf"^({_NUMBER}),({_NUMBER})$")
_ADDRESS = re.compile(r'"([^"]*)"|(\S+)')


@dataclass
class CapDraft:
    """What a CAP alert says, as the fields of a message draft (not yet validated)."""

    data: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)

    def located(self, error: IansError) -> InvalidInput:
        """The same error with each detail's CAP line (found by its field path)."""
        details = []
        for detail in error.details:
            line = self.line_of(str(detail.get("field", "")))
            details.append({**detail, "line": line} if line else dict(detail))
        first = details[0] if details else {}
        where = f"line {first['line']}: " if first.get("line") else ""
        return InvalidInput(where + error.message, details)

    def line_of(self, path: str) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", path) if re.search(r"[.\[]", path) else ""
        return None


def draft_of(root: etree._Element, default_sender: str | None) -> CapDraft:
    """The draft a valid CAP alert stands for. `default_sender` is the country of the PoC
    that sends it (an `ians:<country>` sender overrides it; the secretariat must give one).

    Raises InvalidInput naming the line of every element IANS cannot take.
    """
    reader = _Reader(root)
    draft = reader.draft(default_sender)
    if reader.problems:
        raise invalid(reader.problems)
    return draft


class _Reader:
    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.lines: dict[str, int] = {}

    def problem(self, element: etree._Element | None, name: str, message: str) -> None:
        line = element.sourceline if element is not None else self.root.sourceline
        self.problems.append(Problem(line, name, message))

    def draft(self, default_sender: str | None) -> CapDraft:
        root = self.root
        data: dict[str, Any] = {}
        status = _child(root, "status")
        mode = m.MODE.get(_text(status))
        if mode is None:
            self.problem(
                status, "status", f"{_text(status)!r}: IANS takes Actual, Exercise or Test"
            )
        data["mode"] = mode.value if mode else None
        self.at("mode", status)

        sender = _child(root, "sender")
        country = m.country_of(_text(sender)) or default_sender
        if country is None:
            self.problem(sender, "sender", "name the sending country as ians:<ISO 3166 alpha-3>")
        data["from"] = country
        self.at("from", sender)

        msg_type = _child(root, "msgType")
        type_ = {"Alert": MessageType.EARLY_WARNING, "Update": MessageType.INFORMATION}.get(
            _text(msg_type)
        )
        if type_ is None:
            self.problem(
                msg_type,
                "msgType",
                f"{_text(msg_type)!r}: IANS takes Alert (an early warning) or Update"
                " (information about one of its early warnings)",
            )
            return CapDraft(data, self.lines)
        data["type"] = type_.value
        self.at("type", msg_type)

        addresses = _child(root, "addresses")
        data["to"] = [a or b for a, b in _ADDRESS.findall(_text(addresses))]
        self.at("to", addresses if addresses is not None else _child(root, "scope"))
        if not data["to"]:
            self.problem(addresses, "addresses", "name the recipient countries (HUN ROU)")

        if type_ is MessageType.INFORMATION:
            data["refers_to"] = self.referred(_child(root, "references"))

        info = _child(root, "info")
        if info is None:
            self.problem(None, "info", f"an {type_.value} needs an <info> block")
            return CapDraft(data, self.lines)
        declared = _code(info, "eventCode", m.TYPE_CODE)
        if declared is not None and declared[0] != type_.value:
            self.problem(
                declared[1],
                "eventCode",
                f"this alert is {declared[0]!r}: CAP brings in only early warnings and"
                " information (send the others as JSON)",
            )
        content = (
            self.early_warning(info)
            if type_ is MessageType.EARLY_WARNING
            else self.information(info)
        )
        content.update(self.parameters(info, m.PARAMETERS[type_]))
        data["content"] = content
        self.at("content", info)
        return CapDraft(data, self.lines)

    def referred(self, references: etree._Element | None) -> str | None:
        """The identifier of the message an Update refers to: of its references, the first
        that IANS sent (sender `ians:…`), else the first."""
        refs = [r.split(",") for r in _text(references).split()]
        if not refs:
            self.problem(references, "references", "an Update names the alert it updates")
            return None
        bad = next((r for r in refs if len(r) != 3 or not r[1]), None)
        if bad is not None:
            self.problem(
                references, "references", f"{','.join(bad)!r} is not sender,identifier,sent"
            )
            return None
        self.at("refers_to", references)
        ours = [r for r in refs if r[0].startswith(m.PREFIX)]
        return (ours or refs)[0][1]

    def early_warning(self, info: etree._Element) -> dict[str, Any]:
        content: dict[str, Any] = {}
        code = _code(info, "eventCode", m.EVENT_TYPE_CODE)
        if code is not None:
            content["event_type"] = code[0]
            self.at("content.event_type", code[1])
        else:
            categories = info.findall(f"{_Q}category")
            found = [m.EVENT_TYPE[c.text] for c in categories if c.text in m.EVENT_TYPE]
            content["event_type"] = found[0] if found else "other"
            self.at("content.event_type", categories[0] if categories else info)
        when = next(
            (e for e in (_child(info, "onset"), _child(info, "effective")) if e is not None),
            _child(self.root, "sent"),
        )
        content["occurred_at"] = _text(when)
        self.at("content.occurred_at", when)
        severity = _child(info, "severity")
        content["severity"] = _text(severity).lower()
        self.at("content.severity", severity)
        description = _child(info, "description")
        if _text(description):
            content["description"] = _text(description)
            self.at("content.description", description)
        content["location"] = self.location(_child(info, "area"), info)
        return content

    def location(self, area: etree._Element | None, info: etree._Element) -> dict[str, Any]:
        if area is None:
            self.problem(
                info, "area", "an early warning needs the place: an <area> with a <circle>"
            )
            return {}
        name = _child(area, "areaDesc")
        self.at("content.location", area)
        self.at("content.location.name", name)
        circle, polygon = _child(area, "circle"), _child(area, "polygon")
        if circle is not None:
            match = _CIRCLE.match(_text(circle))
            if match is None:
                self.problem(circle, "circle", f"{_text(circle)!r} is not 'lat,lon radius'")
                return {"name": _text(name)}
            lat, lon = float(match.group(1)), float(match.group(2))
            self.at("content.location.lat", circle)
            self.at("content.location.lon", circle)
        elif polygon is not None:
            points = [_POINT.match(p) for p in _text(polygon).split()]
            if not points or not all(points):
                self.problem(polygon, "polygon", "is not a list of lat,lon pairs")
                return {"name": _text(name)}
            # the place is the polygon's mean point (its first point repeats as the last)
            pairs = [(float(p.group(1)), float(p.group(2))) for p in points if p][:-1] or [(0, 0)]
            lat = sum(p[0] for p in pairs) / len(pairs)
            lon = sum(p[1] for p in pairs) / len(pairs)
            self.at("content.location.lat", polygon)
            self.at("content.location.lon", polygon)
        else:
            self.problem(area, "area", "give the place as a <circle> (lat,lon radius)")
            return {"name": _text(name)}
        return {"name": _text(name), "lat": lat, "lon": lon}

    def information(self, info: etree._Element) -> dict[str, Any]:
        content: dict[str, Any] = {}
        description = _child(info, "description")
        source = description if _text(description) else _child(info, "headline")
        content["developments"] = _text(source)
        self.at("content.developments", source if source is not None else info)
        instruction = _child(info, "instruction")
        if _text(instruction):
            content["protective_actions"] = _text(instruction)
            self.at("content.protective_actions", instruction)
        return content

    def parameters(self, info: etree._Element, known: frozenset[str]) -> dict[str, Any]:
        """The IANS content fields among the parameters; other parameters are left aside."""
        content: dict[str, Any] = {}
        lists: dict[str, dict[int, dict[str, str]]] = {}
        for parameter in info.iterchildren(f"{_Q}parameter"):
            name, value = _pair(parameter)
            path = m.parameter_path(name)
            if path is None or path[0] not in known:
                continue
            root, index, sub = path
            self.at(f"content.{name}", parameter)
            if index is not None:  # a missing field of this item is found on its first line
                self.at(f"content.{root}[{index}]", parameter, first=True)
            if index is None:
                content[root] = value.split() if root == "media" else value
                continue
            assert sub is not None
            lists.setdefault(root, {}).setdefault(index, {})[sub] = value
        for root, items in lists.items():
            if sorted(items) != list(range(len(items))):
                missing = min(set(range(len(items) + 1)) - set(items))
                self.problem(
                    info, f"{root}[{missing}]", f"{root} are numbered 0, 1, 2 … without gaps"
                )
                continue
            content[root] = [items[i] for i in range(len(items))]
        return content

    def at(self, path: str, element: etree._Element | None, first: bool = False) -> None:
        if element is not None and element.sourceline and not (first and path in self.lines):
            self.lines[path] = element.sourceline


def _child(parent: etree._Element, tag: str) -> etree._Element | None:
    return parent.find(f"{_Q}{tag}")


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _pair(element: etree._Element) -> tuple[str, str]:
    """(valueName, value) of a valid parameter, eventCode or geocode (the schema fixes the
    order of its two children)."""
    return (element[0].text or "").strip(), (element[1].text or "").strip()


def _code(info: etree._Element, tag: str, name: str) -> tuple[str, etree._Element] | None:
    for element in info.iterchildren(f"{_Q}{tag}"):
        key, value = _pair(element)
        if key == name:
            return value, element
    return None

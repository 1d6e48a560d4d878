"""Reading CAP XML from outside safely, and checking it against the OASIS CAP 1.2 schema.

The parser never fetches anything, never expands an entity and keeps libxml2's limits
on depth and text size; a document with a DOCTYPE is refused outright (CAP has none,
and a DTD is where entity bombs and external entities live).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree

from ians.errors import InvalidInput

NS = "urn:oasis:names:tc:emergency:cap:1.2"
MEDIA_TYPE = "application/cap+xml"
SCHEMA_PATH = Path(__file__).parent / "schema" / "CAP-v1.2.xsd"

_WHERE = re.compile(r",? line \d+, column \d+$")
_ELEMENT = re.compile(r"^Element '([^']+)'(?:, attribute '([^']+)')?: ")
_FACET = re.compile(r"\[facet '[^']+'\] ")
_DOCTYPES = tuple("<!DOCTYPE".encode(e) for e in ("utf-8", "utf-16-le", "utf-16-be"))
# libxml2's words, and the same in words a CAP sender can act on
_SYNTAX = {
    "Document is empty": "the body is empty",
    "Excessive depth in document": "elements nested too deep",
    "Maximum entity amplification": "entities expand too much",
}
_SCHEMA = [
    (
        re.compile(r"The value '(.*)' is not accepted by the pattern '\\d\\d\\d\\d-.*"),
        r"'\1' is not a CAP time: write 2026-11-27T08:45:00+01:00"
        " (an explicit offset such as +00:00, no Z, no fractions of a second)",
    ),
    (
        re.compile(r"The value '(.*)' is not an element of the set \{(.*)\}\.$"),
        r"'\1' is not one of \2",
    ),
    (
        re.compile(r"This element is not expected\. Expected is \( (.*) \)\.$"),
        r"not expected here; expected: \1",
    ),
    (
        re.compile(r"This element is not expected\. Expected is one of \( (.*) \)\.$"),
        r"not expected here; expected one of: \1",
    ),
    (re.compile(r"This element is not expected\.$"), "not expected here"),
    (re.compile(r"Missing child element\(s\)\. Expected is \( (.*) \)\.$"), r"missing: \1"),
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in a CAP document: its line, the element, what is wrong."""

    line: int | None
    element: str
    message: str

    def detail(self) -> dict[str, object]:
        return {"field": self.element, "line": self.line, "message": self.message}

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.element}: {self.message}" if self.element else where + self.message


def invalid(problems: list[Problem]) -> InvalidInput:
    """The API's 422 for these problems: the first in the message, every one in details."""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return InvalidInput(
        f"not a valid CAP 1.2 alert: {problems[0]}{more}", [p.detail() for p in problems]
    )


@cache
def schema() -> etree.XMLSchema:
    """The OASIS CAP 1.2 schema (shipped with IANS), loaded once."""
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


def _parser() -> etree.XMLParser:
    # a parser is not thread-safe: one per document (it costs about a microsecond)
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        collect_ids=False,
        remove_pis=True,
        remove_comments=True,  # so that an element's children are elements only
    )


_NO_DTD = "a DOCTYPE is not allowed: CAP has no DTD"


def parse(body: bytes) -> etree._Element:
    """The `<alert>` element of `body`, well-formed and in the CAP 1.2 namespace (not yet
    checked against the schema). Raises InvalidInput naming the line."""
    for doctype in _DOCTYPES:  # before parsing: an entity bomb is refused unread
        at = body.find(doctype)
        if at >= 0:
            line = body.count(b"\n", 0, at) + 1
            raise invalid([Problem(line, "", _NO_DTD)])
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        text = _WHERE.sub("", str(exc.msg or exc)).strip()
        text = next((plain for raw, plain in _SYNTAX.items() if text.startswith(raw)), text)
        raise invalid([Problem(exc.lineno or None, "", f"not well-formed XML: {text}")]) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # in an encoding not scanned above
        raise invalid([Problem(1, "", _NO_DTD)])
    if root.tag != f"{{{NS}}}alert":
        qname = etree.QName(root)
        where = f"in namespace {qname.namespace}" if qname.namespace else "in no namespace"
        raise invalid(
            [
                Problem(
                    root.sourceline,
                    qname.localname,
                    f"the root element is <{qname.localname}> {where}; "
                    f'a CAP 1.2 alert is <alert xmlns="{NS}">',
                )
            ]
        )
    return root


def check(root: etree._Element) -> list[Problem]:
    """Every way `root` breaks the OASIS CAP 1.2 schema, with its line ([] when valid)."""
    validator = schema()
    if validator.validate(root):
        return []
    return [_problem(entry) for entry in validator.error_log]


def read(body: bytes) -> etree._Element:
    """`body` as a CAP 1.2 alert valid against the OASIS schema. Raises InvalidInput
    listing every problem with its line."""
    root = parse(body)
    problems = check(root)
    if problems:
        raise invalid(problems)
    return root


def _problem(entry: etree._LogEntry) -> Problem:
    text = entry.message.replace(f"{{{NS}}}", "")
    text = _FACET.sub("", text)
    element = ""
    match = _ELEMENT.match(text)
    if match:
        element = match.group(1) if match.group(2) is None else f"{match.group(1)}@{match.group(2)}"
        text = text[match.end() :]
    text = text.strip()
    for pattern, plain in _SCHEMA:
        if pattern.match(text):
            text = pattern.sub(plain, text)
            break
    return Problem(entry.line or None, element, text)

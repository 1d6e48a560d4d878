"""The improvement plan of an exercise: what its facts say should be fixed, and by whom.

Pure: the rows and chases of the exercise, what the registry says of each PoC and when
each last confirmed its details, in; findings out, in a fixed order (by issue, then
country, then PoC). The secretariat may edit them before publishing; an edited list is
stored with the exercise and shown instead (ians/reports/build.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ians.domain.chase import Chase, Event, EventKind
from ians.reports.channels import Reach

CONFIRMATION_AGE = timedelta(days=365)
"""Contact details not confirmed for longer than this, before the exercise, are a finding."""

ISSUES = ("office_hours", "never_answered", "bounced", "not_confirmed", "escalation")


@dataclass(frozen=True, slots=True)
class PocFacts:
    """What the registry says of one PoC, as far as findings ask."""

    country: str
    hours: str  # `24/7` or the windows
    always: bool  # operational at all times
    addresses: Mapping[str, str]  # channel: address (`email`: `ian@hun.example`)


@dataclass(frozen=True, slots=True)
class Found:
    kind: str  # one of ISSUES
    country: str
    poc: str | None
    issue: str
    action: str


def automatic_findings(
    chases: Sequence[Chase],
    events: Sequence[Event],
    reaches: Mapping[tuple[str, str], Reach],
    pocs: Mapping[str, PocFacts],
    confirmed: Mapping[str, datetime],
    as_of: datetime,
) -> list[Found]:
    """The findings of an exercise.

    - office_hours: a recipient country whose first PoC (the one every message reaches
      first) keeps office hours only; Art. 17 asks for PoCs operational at all times.
    - never_answered: a PoC that messages reached and that acknowledged none of them.
    - bounced: a PoC address (e-mail, webhook) that bounced or failed for good.
    - not_confirmed: a PoC of a recipient country whose contact details were not
      confirmed in the CONFIRMATION_AGE before `as_of` (or never).
    - escalation: a country that had to be escalated to a further PoC, with how often.
    PoCs the registry no longer lists are left out of office_hours and not_confirmed.
    """
    found: list[Found] = []
    countries = sorted({c.country for c in chases})
    first = {c.country: c.pocs[0] for c in chases if c.pocs}
    for country in countries:
        poc = pocs.get(first.get(country, ""))
        if poc is not None and not poc.always:
            found.append(
                Found(
                    "office_hours",
                    country,
                    first[country],
                    f"The first point of contact, {first[country]}, keeps office hours only"
                    f" ({poc.hours}); notifications outside them wait or are escalated.",
                    "Name a first point of contact operational at all times (Art. 17), such"
                    " as a 24/7 duty service, or move this one down the escalation order.",
                )
            )
    reached: dict[str, set[str]] = defaultdict(set)
    for c in chases:
        for p in c.reached_pocs:
            reached[p].add(c.country)
    acknowledging = {e.poc for e in events if e.kind is EventKind.ACKNOWLEDGED and e.poc}
    for poc_id in sorted(reached.keys() - acknowledging):
        for country in sorted(reached[poc_id]):
            found.append(
                Found(
                    "never_answered",
                    country,
                    poc_id,
                    f"{poc_id} was notified and acknowledged nothing during the exercise.",
                    "Check that this point of contact knows its role and watches the channel"
                    " it is notified on; confirm its details.",
                )
            )
    bounced: dict[tuple[str, str], str] = {}
    for (_, country), r in reaches.items():
        for poc_id, channel in r.bounced:
            bounced.setdefault((poc_id, channel), country)
    for (poc_id, channel), country in sorted(bounced.items(), key=lambda i: (i[1], i[0])):
        address = pocs[poc_id].addresses.get(channel) if poc_id in pocs else None
        shown = f" ({address})" if address else ""
        found.append(
            Found(
                "bounced",
                country,
                poc_id,
                f"The {channel} address of {poc_id}{shown} bounced or was refused.",
                f"Correct the {channel} address in the registry and ask the PoC to confirm it.",
            )
        )
    cutoff = as_of - CONFIRMATION_AGE
    for poc_id, poc in sorted(pocs.items(), key=lambda i: (i[1].country, i[0])):
        if poc.country not in countries:
            continue
        last = confirmed.get(poc_id)
        if last is None or last < cutoff:
            when = "never" if last is None else f"last on {last:%Y-%m-%d}"
            found.append(
                Found(
                    "not_confirmed",
                    poc.country,
                    poc_id,
                    f"The contact details of {poc_id} were not confirmed in the 12 months"
                    f" before the exercise ({when}).",
                    "Ask the PoC to confirm its details (its page, or"
                    " POST /api/pocs/{id}/confirm-details).",
                )
            )
    escalations: dict[str, tuple[int, int]] = {}
    for c in chases:
        if c.escalations:
            rows, further = escalations.get(c.country, (0, 0))
            escalations[c.country] = (rows + 1, further + c.escalations)
    for country, (rows, further) in sorted(escalations.items()):
        found.append(
            Found(
                "escalation",
                country,
                None,
                f"{rows} message{'s' if rows > 1 else ''} had to be escalated"
                f" ({further} further PoC{'s' if further > 1 else ''} notified).",
                "Find out why the first point of contact did not acknowledge in time;"
                " review its hours, channels and stand-in arrangements.",
            )
        )
    order = {kind: i for i, kind in enumerate(ISSUES)}
    return sorted(found, key=lambda f: order[f.kind])  # stable: each kind keeps its order

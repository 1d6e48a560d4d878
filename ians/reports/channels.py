"""How each recipient country was reached, channel by channel, from the stored events.

Pure: events in, outcomes out. A channel's outcome for one (message, country) is the best
over the PoCs it was tried for, in the order of OUTCOMES: an e-mail to one PoC that came
back with an automatic reply beats one to another PoC that bounced.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ians.domain.chase import Event, EventKind

OUTCOMES = ("replied", "auto_reply", "delivered", "bounced", "failed", "retrying")
"""A channel's outcomes, best first.

- replied: a person answered on it (an acknowledgement or a reply IANS could not read);
- auto_reply: an automatic answer came back (an out-of-office): it arrived;
- delivered: the peer accepted it (SMTP relay, webhook 2xx, the IANS inbox) and no
  delivery status notification said otherwise later;
- bounced: accepted, then reported undeliverable (a delivery status notification);
- failed: refused for good when sent (a 5xx SMTP answer, a 4xx webhook answer, or
  retries used up);
- retrying: only temporary failures so far.
"""
ARRIVED = frozenset({"replied", "auto_reply", "delivered"})
INBOX = "inbox"

# how an acknowledgement came (`via`), and the channel it came through
VIA_CHANNEL: Mapping[str, str] = {
    "email": "email",
    "link": "email",
    "webhook": "webhook",
    "api": INBOX,
    "web": INBOX,
}


@dataclass
class _PocTrail:
    delivered: set[object] = field(default_factory=set)  # notice ids (None: in-process)
    bounced: set[object] = field(default_factory=set)
    failed: bool = False
    retrying: bool = False
    auto_reply: bool = False
    replied: bool = False

    def outcome(self) -> str | None:
        if self.replied:
            return "replied"
        if self.auto_reply:
            return "auto_reply"
        if self.delivered - self.bounced:
            return "delivered"
        if self.bounced:
            return "bounced"
        if self.failed:
            return "failed"
        return "retrying" if self.retrying else None


@dataclass(frozen=True)
class Reach:
    """One (message, country): each channel's outcome, and whether a PoC was reached."""

    channels: dict[str, str]  # channel: outcome, by channel name
    reached: bool
    bounced: tuple[tuple[str, str], ...] = ()  # (poc, channel) that bounced or failed for good
    auto_replied: tuple[tuple[str, str], ...] = ()  # (poc, channel) that answered automatically

    @property
    def bounces(self) -> int:
        return len(self.bounced)


NOT_REACHED = Reach({}, False)


def reach(events: Iterable[Event]) -> dict[tuple[str, str], Reach]:
    """Per (message id, country), how its PoCs were reached, from the message events.

    A row is reached when a notice arrived where a PoC of the country reads it: on an
    external channel (e-mail, webhook, a simulated PoC) with the outcome replied,
    auto_reply or delivered, or by an acknowledgement, which proves it. A PoC with no
    external channel for the message reads its IANS inbox: for it, the inbox entry counts.
    """
    trails: dict[tuple[str, str], dict[tuple[str, str], _PocTrail]] = defaultdict(
        lambda: defaultdict(_PocTrail)
    )
    acknowledged: dict[tuple[str, str], str] = {}
    for e in events:
        if e.country is None:
            continue
        row = (e.message_id, e.country)
        if e.kind is EventKind.ACKNOWLEDGED:
            acknowledged.setdefault(row, str(e.detail.get("via", "api")))
            continue
        if e.poc is None:
            continue
        channel = str(e.detail.get("channel", INBOX))
        if e.kind is EventKind.DELIVERED:
            trails[row][(e.poc, channel)].delivered.add(e.detail.get("notice_id"))
        elif e.kind is EventKind.DELIVERY_FAILED:
            trail = trails[row][(e.poc, channel)]
            if e.detail.get("reported_by") is not None:  # a DSN about an accepted notice
                trail.bounced.add(e.detail.get("notice_id"))
            elif e.detail.get("permanent", True):
                trail.failed = True
            else:
                trail.retrying = True
        elif e.kind is EventKind.AUTO_REPLY:
            trails[row][(e.poc, channel)].auto_reply = True
        elif e.kind is EventKind.REPLY_UNPARSED:
            trails[row][(e.poc, channel)].replied = True
    out: dict[tuple[str, str], Reach] = {}
    for row in trails.keys() | acknowledged.keys():
        out[row] = _reach(trails.get(row, {}), acknowledged.get(row))
    return out


def _reach(trails: Mapping[tuple[str, str], _PocTrail], via: str | None) -> Reach:
    channels: dict[str, str] = {}
    external = {poc for poc, channel in trails if channel != INBOX}
    reached = via is not None
    bounced: list[tuple[str, str]] = []
    auto_replied: list[tuple[str, str]] = []
    for (poc, channel), trail in sorted(trails.items()):
        if trail.auto_reply:
            auto_replied.append((poc, channel))
        outcome = trail.outcome()
        if outcome is None:
            continue
        if outcome in ("bounced", "failed"):
            bounced.append((poc, channel))  # this address took no notice
        if outcome in ARRIVED and (channel != INBOX or poc not in external):
            reached = True
        if channel not in channels or OUTCOMES.index(outcome) < OUTCOMES.index(channels[channel]):
            channels[channel] = outcome
    if via is not None and via in VIA_CHANNEL and VIA_CHANNEL[via] in channels:
        channels[VIA_CHANNEL[via]] = "replied"
    return Reach(dict(sorted(channels.items())), reached, tuple(bounced), tuple(auto_replied))


@dataclass(frozen=True)
class Funnel:
    """One channel over an exercise's rows: tried, arrived, acknowledged through it."""

    channel: str
    sent: int  # rows it was tried for
    delivered: int  # rows where it arrived (delivered, auto-reply, replied)
    acknowledged: int  # rows acknowledged through it (`via`)
    bounced: int  # rows where it bounced or failed for good, and never arrived
    auto_replies: int  # rows that got an automatic answer on it


def funnels(rows: Sequence[tuple[Reach, str | None]]) -> list[Funnel]:
    """Per channel, by name: the funnel over `rows`, each its Reach and the `via` of its
    acknowledgement. `bounced` and `auto_replies` count addresses (PoCs), not rows: a
    country whose first address bounced and whose second answered has one of each."""
    names = sorted({c for r, _ in rows for c in r.channels})
    out = []
    for name in names:
        tried = [(r, via) for r, via in rows if name in r.channels]
        out.append(
            Funnel(
                name,
                len(tried),
                sum(r.channels[name] in ARRIVED for r, _ in tried),
                sum(via is not None and VIA_CHANNEL.get(via) == name for _, via in tried),
                sum(c == name for r, _ in tried for _, c in r.bounced),
                sum(c == name for r, _ in tried for _, c in r.auto_replied),
            )
        )
    return out

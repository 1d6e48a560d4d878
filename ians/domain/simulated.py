"""Simulated points of contact (SPEC §5): when a PoC played by IANS acknowledges.

A simulated PoC reached at t acknowledges at s + d: s is t if t falls within its
office hours, else the next start of its hours (in its country's time zone); d is
drawn from a log-normal with the model's median and spread; with probability
`miss` it never acknowledges. A simulated assistance PoC that acknowledges a
request responds a second draw later.

Draws are keyed, not sequential: each is a hash of (seed, key), so the same PoC
reached by the same inject gives the same delay whatever else happens, in any
order, in a virtual run or in a real-time exercise, and after a restart.
"""

from __future__ import annotations

import hashlib
import math
import struct
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from ians.domain.contacts import Country, PointOfContact, SimulationModel
from ians.domain.hours import ALWAYS, OfficeHours

DEFAULT_MODEL = SimulationModel(median=timedelta(minutes=10), spread=0.8, miss=0.0)
"""For a simulated PoC whose registry entry has no model."""

_TWO_PI = 2 * math.pi
_UNIT = 1 / 2**53


def uniforms(seed: str, key: str) -> tuple[float, float, float]:
    """Three independent uniforms in (0, 1), fixed by (seed, key)."""
    digest = hashlib.blake2b(f"{seed}|{key}".encode(), digest_size=24).digest()
    a, b, c = struct.unpack("<QQQ", digest)
    return ((a >> 11) + 0.5) * _UNIT, ((b >> 11) + 0.5) * _UNIT, ((c >> 11) + 0.5) * _UNIT


def draw_delay(model: SimulationModel, seed: str, key: str) -> timedelta | None:
    """The log-normal delay for `key`, or None when the draw is a miss."""
    miss, u1, u2 = uniforms(seed, key)
    if miss < model.miss:
        return None
    if model.spread == 0:
        return model.median
    z = math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)  # Box–Muller
    return model.median * math.exp(model.spread * z)


def ack_time(
    poc: PointOfContact, country: Country, reached_at: datetime, seed: str, key: str
) -> datetime | None:
    """When the simulated `poc`, reached at `reached_at`, acknowledges; None if never.

    `key` names the message (e.g. the inject id); the PoC id is added to it.
    """
    delay = draw_delay(poc.simulation or DEFAULT_MODEL, seed, f"{key}|{poc.id}|ack")
    if delay is None:
        return None
    if poc.hours is ALWAYS:
        return reached_at + delay
    return opening(poc.hours, reached_at, country.tz) + delay


@lru_cache(maxsize=65_536)  # runs reach the same PoCs at the same instants
def opening(hours: OfficeHours, at: datetime, tz: ZoneInfo) -> datetime:
    """`at` if the hours are open then, else their next opening (cached: runs repeat them)."""
    return hours.next_opening(at, tz)


def response_delay(poc: PointOfContact, seed: str, key: str) -> timedelta:
    """How long after acknowledging a request the simulated `poc` sends its response."""
    model = poc.simulation or DEFAULT_MODEL
    delay = draw_delay(model.model_copy(update={"miss": 0.0}), seed, f"{key}|{poc.id}|response")
    assert delay is not None  # miss is 0
    return delay

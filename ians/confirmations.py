"""Contact details confirmed: a PoC says its entry in the registry is still right.

Art. 17 asks for PoCs that can be reached at all times; a registry entry nobody has
looked at for a year is the usual reason they cannot. Each confirmation is kept; the
registry listing and the report's findings use the latest one of each PoC.
"""

from __future__ import annotations

from datetime import datetime

from ians.clock import Clock
from ians.domain.contacts import Registry
from ians.errors import Forbidden
from ians.store import Store
from ians.tokens import Principal


async def confirm_details(
    store: Store, registry: Registry, clock: Clock, who: Principal, poc_id: str
) -> datetime:
    """Record, now, that `poc_id`'s contact details are up to date; returns the time.

    The PoC itself or the secretariat may confirm. Raises UnknownPointOfContact, or
    Forbidden for another PoC.
    """
    registry.poc(poc_id)
    if who.poc is not None and who.poc.id != poc_id:
        raise Forbidden(f"a PoC confirms only its own contact details ({who.poc.id})")
    at = clock.now()
    await store.confirm_details(poc_id, at)
    return at

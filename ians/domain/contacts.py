"""The contacts registry: countries and their points of contact (PoCs), in escalation order."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from enum import StrEnum
from functools import cache
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from ians.domain.durations import Duration
from ians.domain.hours import ALWAYS, Hours
from ians.errors import NotFound, UnknownPointOfContact

_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
_COUNTRY_CODE = re.compile(r"[A-Z]{3}")
_POC_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Role(StrEnum):
    """What a PoC is contacted for: notification (reports I, II, tests) or assistance."""

    NOTIFICATION = "notification"
    ASSISTANCE = "assistance"


class WebhookFormat(StrEnum):
    """What a PoC's webhook receives: the notice as JSON, or the message as a CAP 1.2 alert."""

    JSON = "json"
    CAP = "cap"


class SimulationModel(BaseModel):
    """How a simulated PoC acknowledges: a log-normal delay, or never with probability `miss`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    median: Duration
    spread: float = Field(default=0.8, ge=0, strict=True, allow_inf_nan=False)
    miss: float = Field(default=0.0, ge=0, le=1, strict=True)

    @field_validator("median")
    @classmethod
    def _positive(cls, median: timedelta) -> timedelta:
        if median <= timedelta(0):
            raise ValueError("must be longer than 0s")
        return median


class PointOfContact(BaseModel):
    """One point of contact of a country.

    `country` is the code of the country the PoC is listed under. The loader fills it in
    from the file's structure and reports a file that sets it, so files never contain it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(json_schema_extra={"pattern": _POC_ID})
    roles: tuple[Role, ...] = Field(min_length=1)
    organization: str = ""
    email: str | None = None
    phone: str | None = None
    webhook: str | None = None
    webhook_format: WebhookFormat = WebhookFormat.JSON
    hours: Hours = ALWAYS
    languages: tuple[str, ...] = ()
    simulation: SimulationModel | None = None
    country: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, poc_id: str) -> str:
        if not re.match(_POC_ID, poc_id):
            raise ValueError(
                f"{poc_id!r} is not a point of contact id: use up to 64 lower-case letters,"
                " digits, '-', '_' and '.', starting with a letter or digit"
            )
        return poc_id

    @field_validator("roles")
    @classmethod
    def _distinct_roles(cls, roles: tuple[Role, ...]) -> tuple[Role, ...]:
        for role in roles:
            if roles.count(role) > 1:
                raise ValueError(f"role '{role}' is listed twice")
        return roles

    @field_validator("email")
    @classmethod
    def _email(cls, email: str | None) -> str | None:
        if email is not None and not _EMAIL.fullmatch(email):
            raise ValueError(f"{email!r} is not an e-mail address")
        return email

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, url: str | None) -> str | None:
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r} is not an http or https URL")
        return url

    @field_validator("webhook_format")
    @classmethod
    def _format_needs_a_webhook(cls, value: WebhookFormat, info: ValidationInfo) -> WebhookFormat:
        if "webhook" in info.data and info.data["webhook"] is None:
            raise ValueError("there is no webhook to send in this format: give `webhook` too")
        return value

    @field_validator("languages")
    @classmethod
    def _languages(cls, languages: tuple[str, ...]) -> tuple[str, ...]:
        for language in languages:
            if not _LANGUAGE.fullmatch(language):
                raise ValueError(f"{language!r} is not a language code such as 'en' or 'sr'")
        return languages

    def has_role(self, role: Role) -> bool:
        """True if this PoC is contacted for `role`."""
        return role in self.roles


class Country(BaseModel):
    """A country of the registry with its PoCs in escalation order (the first is primary).

    Has at least one PoC with role notification. `code` is the key of the country in a
    contacts file; the loader fills it in.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    name: Text
    timezone: str
    points_of_contact: tuple[PointOfContact, ...] = Field(min_length=1)

    @field_validator("code")
    @classmethod
    def _alpha3(cls, code: str) -> str:
        if not _COUNTRY_CODE.fullmatch(code):
            raise ValueError(
                f"{code!r} is not a country code: use ISO 3166-1 alpha-3 in upper case, such as SRB"
            )
        return code

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, timezone: str) -> str:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as 'Europe'
            raise ValueError(
                f"unknown time zone {timezone!r}: use an IANA name such as Europe/Belgrade"
            ) from None
        return timezone

    @field_validator("points_of_contact")
    @classmethod
    def _reachable(cls, pocs: tuple[PointOfContact, ...]) -> tuple[PointOfContact, ...]:
        if pocs and not any(p.has_role(Role.NOTIFICATION) for p in pocs):
            raise ValueError("no point of contact has the role 'notification'; one must")
        return pocs

    @property
    def tz(self) -> ZoneInfo:
        """The country's time zone, in which its PoCs' hours are read."""
        return _zone(self.timezone)

    def escalation_order(self, role: Role) -> tuple[PointOfContact, ...]:
        """The PoCs holding `role`, in file order: the first is reached first."""
        return tuple(p for p in self.points_of_contact if p.has_role(role))


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)  # ZoneInfo's own cache keeps only 8 zones alive


class Registry:
    """Every country and PoC, looked up by country code and by PoC id."""

    def __init__(self, countries: Iterable[Country]) -> None:
        """Index `countries`. Raises ValueError on a repeated country code or PoC id."""
        by_code: dict[str, Country] = {}
        for country in countries:
            if country.code in by_code:
                raise ValueError(f"country {country.code} is in the registry twice")
            by_code[country.code] = country
        self.countries: dict[str, Country] = dict(sorted(by_code.items()))
        self.pocs: dict[str, PointOfContact] = {}
        for country in self.countries.values():
            for poc in country.points_of_contact:
                if poc.id in self.pocs:
                    raise ValueError(f"point of contact id {poc.id!r} is in the registry twice")
                self.pocs[poc.id] = poc
        self._orders: dict[tuple[str, Role], tuple[str, ...]] = {}

    def escalation_ids(self, code: str, role: Role) -> tuple[str, ...]:
        """The ids of `code`'s PoCs holding `role`, in escalation order (cached: the
        registry does not change). Raises NotFound for an unknown country."""
        key = (code, role)
        ids = self._orders.get(key)
        if ids is None:
            order = self.country(code).escalation_order(role)
            ids = self._orders[key] = tuple(p.id for p in order)
        return ids

    def country(self, code: str) -> Country:
        """The country with ISO alpha-3 `code`. Raises NotFound if there is none."""
        try:
            return self.countries[code]
        except KeyError:
            raise NotFound(f"no country {code!r} in the registry") from None

    def poc(self, poc_id: str) -> PointOfContact:
        """The PoC with `poc_id`. Raises UnknownPointOfContact if there is none."""
        try:
            return self.pocs[poc_id]
        except KeyError:
            raise UnknownPointOfContact(poc_id) from None

    def __len__(self) -> int:
        return len(self.countries)

    def __contains__(self, code: object) -> bool:
        return code in self.countries

    def __repr__(self) -> str:
        return f"<Registry of {len(self.countries)} countries, {len(self.pocs)} PoCs>"

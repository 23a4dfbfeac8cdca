"""The TinkerTank catalog: every holiday camp, party package and Ignite class we sell.

Frozen dataclasses the rest of the system relies on without re-checking: every venue, room
and term reference resolves, every date is a real date, every price is a positive number of
cents. `core/catalog_file.py` reads and checks the file staff edit by hand
(``data/catalog.toml``) into them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from types import MappingProxyType
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
BILLING_INTERVALS = ("week", "month")
CAMP_SESSION_KINDS = ("day", "all_day")
DEFAULT_TIMEZONE = "Australia/Sydney"
DEFAULT_CURRENCY = "aud"
DEFAULT_PARTY_MINUTES = 120
# The kinds a parent may change online (docs/catalog.md, "Cancellation policy"); an Ignite
# enrolment is a subscription, ended by staff.
SELF_SERVICE_KINDS = ("camp", "party")


class CatalogError(ValueError):
    """The catalog cannot be used; ``problems`` holds one readable line per problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        # Passing the list (not the message) to ValueError keeps the error picklable.
        super().__init__(self.problems)

    def __str__(self) -> str:
        count = len(self.problems)
        heading = f"catalog has {count} problem{'' if count == 1 else 's'}:"
        return "\n".join([heading, *(f"  - {problem}" for problem in self.problems)])


@dataclass(frozen=True)
class Room:
    id: str
    name: str


@dataclass(frozen=True)
class Venue:
    id: str
    name: str
    address: str
    rooms: tuple[Room, ...]


@dataclass(frozen=True)
class Term:
    id: str
    name: str
    start: date
    end: date


@dataclass(frozen=True)
class SessionTimes:
    start: time
    end: time


@dataclass(frozen=True, kw_only=True)
class Camp:
    kind: ClassVar[str] = "camp"
    id: str
    name: str
    venue: str
    room: str
    dates: tuple[date, ...]
    capacity: int
    prices: Mapping[str, int]  # cents, keyed by camp session kind: "day" and "all_day"
    min_age: int
    max_age: int
    description: str


@dataclass(frozen=True, kw_only=True)
class Party:
    kind: ClassVar[str] = "party"
    id: str
    name: str
    venue: str
    rooms: tuple[str, ...]
    weekdays: tuple[int, ...]  # 0 = Monday, as date.weekday()
    slots: tuple[time, ...]
    duration_minutes: int = DEFAULT_PARTY_MINUTES
    price: int  # cents
    max_guests: int
    first_date: date
    last_date: date
    description: str


@dataclass(frozen=True, kw_only=True)
class Ignite:
    kind: ClassVar[str] = "ignite"
    id: str
    name: str
    venue: str
    room: str
    weekday: int  # 0 = Monday, as date.weekday()
    start: time
    duration_minutes: int
    capacity: int
    terms: tuple[str, ...]
    excluded_dates: tuple[date, ...]
    stripe_price_id: str
    price: int  # cents per billing period
    billing_interval: str  # "week" | "month"
    min_age: int
    max_age: int
    description: str


Product = Camp | Party | Ignite


@dataclass(frozen=True, kw_only=True)
class CancellationPolicy:
    """What a parent may do online with a booking of one kind (core/self_service.py):
    cancel for a full refund up to `full_refund_days_before` days before its start, after
    that cancel for credit if `credit_after`, and swap to another day up to
    `swap_days_before` days before (both the booking's day and the new one)."""

    full_refund_days_before: int = 7
    credit_after: bool = True
    swap_days_before: int = 2


DEFAULT_CANCELLATION_POLICY = MappingProxyType(
    {kind: CancellationPolicy() for kind in SELF_SERVICE_KINDS}
)


@dataclass(frozen=True, kw_only=True)
class Catalog:
    timezone: str
    currency: str
    venues: tuple[Venue, ...]
    terms: tuple[Term, ...]
    public_holidays: tuple[date, ...]
    camp_sessions: Mapping[str, SessionTimes]
    camps: tuple[Camp, ...]
    parties: tuple[Party, ...]
    ignite: tuple[Ignite, ...]
    # By kind of booking ("camp", "party"); absent from the file: the defaults above.
    cancellation_policy: Mapping[str, CancellationPolicy] = field(
        default_factory=lambda: DEFAULT_CANCELLATION_POLICY
    )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def products(self) -> dict[str, Product]:
        return {product.id: product for product in (*self.camps, *self.parties, *self.ignite)}

    def product(self, product_id: str) -> Product:
        return _find(self.products.values(), product_id, "product")

    def venue(self, venue_id: str) -> Venue:
        return _find(self.venues, venue_id, "venue")

    def term(self, term_id: str) -> Term:
        return _find(self.terms, term_id, "term")


def _find(items: Any, wanted: str, what: str) -> Any:
    for item in items:
        if item.id == wanted:
            return item
    raise KeyError(f"unknown {what} {wanted!r}")

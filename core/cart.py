"""Carts: what a parent is buying, checked against the catalog before any booking is made.

Carts arrive through two doors, and both apply the same item rules (`core/cart_rules.py`):

- ``validate_checkout`` (`core/cart_rules.py`) checks the storefront's ``POST /api/checkout``
  body before we create a Stripe Checkout Session for it.
- ``parse_metadata_cart`` (`core/cart_metadata.py`) reads the cart back out of Stripe metadata
  for payments the storefront took itself (its own PaymentIntent flow), when the webhook
  reports them.

Prices always come from the catalog, never from the request. A body that names a price is
rejected as having an unknown key rather than silently repriced, so a tampered or outdated
storefront shows up instead of hiding.

Every problem is collected with the exact path of the offending value (``items[0].date``) and all
of them are reported at once, so the storefront can mark every bad field in one round trip.

This module holds what a valid cart is, and the error that lists why a body is not one.
Pure: no I/O and no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from core.catalog import WEEKDAYS, Camp, Ignite, Party, Product
from core.validation import Problem

MAX_ITEMS = 20
MAX_NAME_LENGTH = 100
MAX_NOTES_LENGTH = 500
MAX_PHONE_LENGTH = 20
MAX_EMERGENCY_CONTACTS = 3  # per child
MAX_COLLECTORS = 6  # adults allowed to collect a child, besides the parent who booked
MIN_STUDENT_AGE, MAX_STUDENT_AGE = 2, 18
# Hand-rolled so descriptions do not depend on the process locale (strftime's %b and %a do).
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# One problem with a cart, at the path of the value at fault ("" is the whole body).
CartProblem = Problem


class InvalidCart(ValueError):
    """The cart cannot be sold or fulfilled; ``problems`` lists every reason, in body order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        # Passing the list (not the message) to ValueError keeps the error picklable.
        super().__init__(self.problems)

    def __str__(self) -> str:
        count = len(self.problems)
        heading = f"cart has {count} problem{'' if count == 1 else 's'}:"
        return "\n".join([heading, *(f"  - {problem}" for problem in self.problems)])

    def as_dict(self) -> dict[str, Any]:
        """The 422 response body of ``POST /api/checkout``."""
        return {"error": "invalid_cart", "problems": [p.as_dict() for p in self.problems]}


@dataclass(frozen=True)
class Customer:
    email: str
    # Empty only for metadata carts whose payment carried no name: the payment has already
    # happened, so it is still fulfilled, and staff can reach the parent by email.
    name: str
    # The parent's mobile in E.164 ("+61412345678"), for text messages; optional.
    phone: str | None = None


@dataclass(frozen=True)
class Contact:
    """An adult a child's parent named: someone to call, or someone allowed to collect."""

    name: str
    phone: str | None  # required for an emergency contact, optional for a collector

    def as_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "phone": self.phone}


@dataclass(frozen=True)
class Student:
    name: str
    age: int | None  # as the parent gave it; None when they gave date_of_birth instead
    date_of_birth: date | None
    notes: str | None  # personal data (allergies etc.): never sent to Stripe
    # Personal data too, given at checkout only and never sent to Stripe: whom staff call,
    # and the adults besides the parent who may collect the child at the door.
    emergency_contacts: tuple[Contact, ...] = ()
    authorised_collectors: tuple[Contact, ...] = ()


@dataclass(frozen=True)
class CartItem:
    position: int  # index in the request's items, so bookings can point back at it
    product_id: str
    kind: str  # "camp" | "party" | "ignite"
    date: date | None  # None for Ignite: a subscription, not a day
    session: str | None  # camps only: "day" | "all_day"
    start_time: time | None  # parties only
    student: Student
    unit_amount: int  # cents, from the catalog
    description: str  # shown by Stripe, so it never names the student

    @property
    def is_subscription(self) -> bool:
        return self.kind == "ignite"


@dataclass(frozen=True)
class Cart:
    customer: Customer
    items: tuple[CartItem, ...]
    currency: str

    @property
    def amount_total(self) -> int:
        """Cents for the first payment: one-off items plus the first period of each Ignite."""
        return sum(item.unit_amount for item in self.items)

    @property
    def mode(self) -> str:
        # Stripe Checkout takes one-off prices alongside recurring ones in subscription mode
        # (they go on the first invoice), so one Ignite item turns the whole cart into one.
        return "subscription" if any(item.is_subscription for item in self.items) else "payment"


def item_price(product: Product, session: str | None) -> int:
    """Cents, from the catalog: a price is never taken from the request."""
    if isinstance(product, Camp):
        assert session is not None  # read() only prices an item without problems
        return product.prices[session]
    return product.price


def item_description(
    product: Product, day: date | None, session: str | None, start_time: time | None
) -> str:
    """The line Stripe shows for an item; it never names the student."""
    if isinstance(product, Camp) and day is not None:
        label = "day" if session == "day" else "all-day"
        return f"{product.name} — {day_label(day)}, {label} session"
    if isinstance(product, Party) and day is not None and start_time is not None:
        weekday = WEEKDAYS[day.weekday()][:3].title()
        return f"{product.name} — {weekday} {day_label(day)}, {start_time:%H:%M}"
    if isinstance(product, Ignite):
        period = "monthly" if product.billing_interval == "month" else "weekly"
        return f"{product.name} — weekly class, billed {period}"
    return product.name


def day_label(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"

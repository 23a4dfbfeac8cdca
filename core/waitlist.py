"""The waitlist: families waiting for a place of a full camp day, party slot or Ignite
program, and the offers that hold a freed place for the next of them.

Pure: `now` is passed in. The store (`store/waitlist.py`) keeps the entries; the pass that
offers freed places (`fulfilment/waitlist_offers.py`) asks this module what to do.

- An entry is for one *event*: the resources one place of it can take (`event_key`): a camp
  day's seats (both sessions share them), a party's rooms at a start time, an Ignite
  program's places. Staff order the entries of an event; the first waiting one is next.
- When places are free on an event, the next waiting families are offered one each: an
  order that holds the place for OFFER_HOURS, and an email with a link to pay for it.
- An offer not paid for by then lapses: the place is released and offered to the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.cart import Cart, CartItem, Customer, Student, item_description
from core.catalog import Catalog
from core.checkout import HoldRequest

OFFER_HOURS = 24


def event_key(request: HoldRequest) -> str:
    """Which event a waitlist entry waits for: every resource a place of it can take."""
    return "|".join(key for key, _ in request.options)


def event_resources(key: str) -> list[str]:
    return key.split("|")


def offer_expiry(now: datetime) -> datetime:
    return now + timedelta(hours=OFFER_HOURS)


def free_places(used_and_capacity: Sequence[tuple[int, int]]) -> int:
    """Free places of an event, from (used, capacity) of each of its resources."""
    return sum(max(capacity - used, 0) for used, capacity in used_and_capacity)


@dataclass(frozen=True)
class Waiting:
    entry_id: str
    position: int


def next_offers(waiting: Sequence[Waiting], free: int) -> list[str]:
    """The entries to offer a place now: the first `free` waiting ones, in staff's order."""
    if free <= 0:
        return []
    return [w.entry_id for w in sorted(waiting, key=lambda w: (w.position, w.entry_id))[:free]]


def lapsed(offer_expires_at: datetime, now: datetime) -> bool:
    return offer_expires_at <= now


def pay_link(public_base_url: str, order_id: str) -> str:
    """The link an offer or a staff booking's email carries: it opens Stripe Checkout for
    the order whose hold keeps the place (sidecar/payment_links.py)."""
    return f"{public_base_url}/orders/{order_id}/pay"


def offer_email(
    name: str | None, label: str, link: str, expires_at: datetime, tz: ZoneInfo
) -> dict[str, str]:
    """The offer email's subject and text (`expires_at` aware or naive UTC)."""
    local = _local(expires_at, tz)
    greeting = f"Hi {name.split()[0]}," if name and name.split() else "Hi,"
    text = (
        f"{greeting}\n\n"
        f"Good news: a place has come up in {label}, and we are holding it for you"
        f" until {local:%a %-d %b %Y at %-I:%M %p}.\n\n"
        f"Book it here: {link}\n\n"
        "If you no longer need it, there is nothing to do: when the time is up the place"
        " goes to the next family on the waitlist.\n\n"
        "TinkerTank"
    )
    return {"subject": f"A place for you: {label}", "text": text}


def payment_link_email(
    name: str | None, labels: Sequence[str], link: str, expires_at: datetime, tz: ZoneInfo
) -> dict[str, str]:
    """The email of a booking staff took by phone, to be paid through Stripe Checkout."""
    local = _local(expires_at, tz)
    greeting = f"Hi {name.split()[0]}," if name and name.split() else "Hi,"
    places = "\n".join(f"- {label}" for label in labels)
    text = (
        f"{greeting}\n\n"
        "Thanks for calling TinkerTank. We are holding these places for you"
        f" until {local:%a %-d %b %Y at %-I:%M %p}:\n\n{places}\n\n"
        f"Pay for them here to confirm the booking: {link}\n\n"
        "TinkerTank"
    )
    return {"subject": "Your TinkerTank booking: pay to confirm", "text": text}


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz)


def stored_cart(rows: dict[str, Any], catalog: Catalog) -> Cart:
    """An order's cart again, from its stored items, to price it at Stripe Checkout when
    its payment link is opened (the student is not sent to Stripe, so it is left blank)."""
    items = []
    for item in rows["items"]:
        product = catalog.product(item["product_id"])
        start = time.fromisoformat(item["start_time"]) if item["start_time"] else None
        items.append(
            CartItem(
                position=item["position"], product_id=item["product_id"], kind=item["kind"],
                date=item["date"], session=item["session"], start_time=start,
                student=Student("", None, None, None), unit_amount=item["unit_amount"],
                description=item_description(product, item["date"], item["session"], start),
            )
        )  # fmt: skip
    customer = Customer(rows["customer_email"], rows["customer_name"] or "")
    return Cart(customer=customer, items=tuple(items), currency=rows["currency"])


def pay_session_expiry(held_until: datetime, now: datetime) -> datetime:
    """When the Checkout Session of a payment link lapses: with the hold, but Stripe wants
    30 minutes at least (a payment after the hold still books if a place is free) and 24
    hours at most."""
    return min(max(held_until, now + timedelta(minutes=31)), now + timedelta(hours=23, minutes=59))

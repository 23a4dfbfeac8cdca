"""Checkout: what a validated cart holds while the parent pays, and what Stripe is asked for.

Pure: ids, times and URLs are passed in.

Holds are counted against *resources*, the scarce things: a camp day's seats (both sessions
share them), a party room at a start time, an Ignite program's places. A party can go in any
of its rooms, so its request lists the rooms in order of preference and takes the first free.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from core.cart import Cart, CartItem
from core.catalog import Catalog
from core.schedule import party_event, party_room_candidates
from core.slot_keys import camp_capacity_key

HOLD_MINUTES = 30  # Stripe's shortest Checkout Session lifetime is also 30 minutes


@dataclass(frozen=True)
class HoldRequest:
    position: int  # the cart item it is for
    options: tuple[tuple[str, int], ...]  # (resource key, capacity), most preferred first
    seats: int
    unavailable: str  # what the parent is told when every option is full
    label: str = ""  # what it holds a place of ("Robotics Bootcamp on Mon 4 Jan 2027")

    @property
    def capacity(self) -> int:
        """The places of the day, slot or program, over all its options (a party's rooms)."""
        return sum(capacity for _, capacity in self.options)


@dataclass(frozen=True)
class HoldLimits:
    """How much one customer and one client may hold unpaid at once (docs/security.md).

    `per_email` places per mailbox; `per_client` places per client address, and at most
    `client_share_percent` of any one camp day, party slot or program (0 turns either
    per-client limit off)."""

    per_email: int = 6
    per_client: int = 40
    client_share_percent: int = 50

    def client_share(self, capacity: int) -> int | None:
        """The places of a day, slot or program one client may hold; None when unlimited."""
        if not self.client_share_percent:
            return None
        return max(1, capacity * self.client_share_percent // 100)


def hold_expiry(now: datetime) -> datetime:
    return now + timedelta(minutes=HOLD_MINUTES)


def hold_requests(cart: Cart, catalog: Catalog) -> list[HoldRequest]:
    return [_hold_request(item, catalog) for item in cart.items]


def hold_options(
    catalog: Catalog, product_id: str, day: date | None, start: time | None
) -> tuple[tuple[str, int], ...]:
    """The resources one booking of a product can take, most preferred first."""
    product = catalog.product(product_id)
    if product.kind == "camp":
        return ((camp_capacity_key(product.id, day), product.capacity),)
    if product.kind == "party":
        return tuple(
            (party_event(catalog, product.id, day, start, room).slot_key, 1)
            for room in party_room_candidates(catalog, product.id)
        )
    return ((f"ignite:{product.id}", product.capacity),)


def _hold_request(item: CartItem, catalog: Catalog) -> HoldRequest:
    product = catalog.product(item.product_id)
    options = hold_options(catalog, item.product_id, item.date, item.start_time)
    if item.kind == "camp":
        label = f"{product.name} on {item.date:%a %-d %b %Y}"
        unavailable = f"{product.name} is full on {item.date:%a %-d %b %Y}"
    elif item.kind == "party":
        label = f"{product.name} at {item.start_time:%H:%M} on {item.date:%a %-d %b %Y}"
        unavailable = f"{label} is taken"
    else:
        label = product.name
        unavailable = f"{product.name} has no places left"
    return HoldRequest(item.position, options, 1, unavailable, label)


def checkout_session_params(
    order_id: str, cart: Cart, catalog: Catalog, public_base_url: str, expires_at: datetime
) -> dict[str, Any]:
    """The `POST /v1/checkout/sessions` parameters for an order.

    The order id travels as `client_reference_id`, in the session's metadata and in the
    metadata of the PaymentIntent or Subscription the session creates, so that charge,
    refund, dispute and invoice events can be traced back to the order too.
    """
    line_items: list[dict[str, Any]] = []
    for item in cart.items:
        product = catalog.product(item.product_id)
        if item.kind == "ignite":
            line_items.append({"price": product.stripe_price_id, "quantity": 1})
        else:
            line_items.append(
                {
                    "price_data": {
                        "currency": cart.currency,
                        "unit_amount": item.unit_amount,
                        "product_data": {"name": item.description},
                    },
                    "quantity": 1,
                }
            )
    params: dict[str, Any] = {
        "mode": cart.mode,
        "line_items": line_items,
        "client_reference_id": order_id,
        "customer_email": cart.customer.email,
        "metadata": {"order_id": order_id},
        "success_url": f"{public_base_url}/orders/{order_id}/processing",
        "cancel_url": f"{public_base_url}/orders/{order_id}/cancelled",
        "expires_at": int(expires_at.timestamp()),
    }
    linked = "subscription_data" if cart.mode == "subscription" else "payment_intent_data"
    params[linked] = {"metadata": {"order_id": order_id}}
    return params

"""Ours or not: whether a Stripe object carries a marker of TinkerTank's bookings (issue 16).

A Stripe account may carry other sales than bookings: card payments at the front desk
(Stripe Terminal), invoices sent from Stripe's Dashboard, merchandise, another shop's
subscriptions. What we make always carries a marker:

- our Checkout Sessions name the order (`client_reference_id`, `metadata.order_id`), and
  so do the PaymentIntent or Subscription each creates (`metadata.order_id`);
- a storefront payment taken outside our checkout carries its cart (`metadata.tt_items`,
  `tt_items_0`…, `tt_customer`);
- an invoice of one of our subscriptions carries the subscription's metadata
  (`parent.subscription_details.metadata`, current API versions);
- a subscription or invoice for one of our catalog's Ignite prices (`stripe_price_id`) is
  ours even without metadata (one made by hand in Stripe's Dashboard, an invoice of an
  older API version).

Only payments are decided here; whether an order exists is the store's to say. Pure: the
object in, a verdict out.
"""

from __future__ import annotations

from typing import Any

MARKER_PREFIX = "tt_"  # the storefront's metadata keys (core/cart_metadata.py)


def _metadata(obj: Any) -> dict[str, Any]:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    return metadata if isinstance(metadata, dict) else {}


def has_marker(obj: dict[str, Any]) -> bool:
    """Whether the object names one of our orders or carries a storefront cart (even a
    broken one: such a payment is ours, and flagged)."""
    if isinstance(obj.get("client_reference_id"), str) and obj["client_reference_id"]:
        return True
    metadata = _metadata(obj)
    if any(key == "order_id" or key.startswith(MARKER_PREFIX) for key in metadata):
        return True
    # A charge or an invoice may carry its PaymentIntent or subscription expanded.
    for linked in ("payment_intent", "subscription"):
        if isinstance(obj.get(linked), dict) and has_marker(obj[linked]):
            return True
    parent = obj.get("parent") if isinstance(obj.get("parent"), dict) else {}
    details = parent.get("subscription_details")
    return isinstance(details, dict) and has_marker(details)


def price_ids(obj: dict[str, Any]) -> set[str]:
    """The price ids a subscription's items or an invoice's lines are of (`price.id`, or
    `pricing.price_details.price` on current API versions' invoice lines)."""
    found: set[str] = set()
    for key in ("items", "lines"):
        listing = obj.get(key) if isinstance(obj.get(key), dict) else {}
        for entry in listing.get("data") or []:
            if not isinstance(entry, dict):
                continue
            price = entry.get("price")
            if isinstance(price, dict) and isinstance(price.get("id"), str):
                found.add(price["id"])
            elif isinstance(price, str):
                found.add(price)
            pricing = entry.get("pricing") if isinstance(entry.get("pricing"), dict) else {}
            details = pricing.get("price_details")
            if isinstance(details, dict) and isinstance(details.get("price"), str):
                found.add(details["price"])
    return found


def of_our_prices(obj: dict[str, Any], ours: set[str]) -> bool:
    """Whether a subscription or invoice is for one of our catalog's Ignite prices
    (`stripe_price_id`): a marker of ours even without our metadata."""
    return bool(price_ids(obj) & ours)


def front_desk(obj: dict[str, Any]) -> bool:
    """A card presented in person (Stripe Terminal): never a booking of the storefront."""
    types = obj.get("payment_method_types")
    if isinstance(types, list) and types and all(t in ("card_present", "interac_present")
                                                  for t in types):  # fmt: skip
        return True
    details = obj.get("payment_method_details")
    return isinstance(details, dict) and details.get("type") in ("card_present", "interac_present")


def why_not_ours(obj: dict[str, Any]) -> str:
    """The reason shown on the Webhooks page for an object recorded as not ours."""
    kind = obj.get("object") if isinstance(obj.get("object"), str) else "object"
    if front_desk(obj):
        return f"not ours: a front-desk card payment ({kind} paid in person, Stripe Terminal)"
    if kind == "invoice":
        return "not ours: an invoice of no subscription of ours (sent from Stripe's Dashboard?)"
    if kind == "subscription":
        return "not ours: a subscription no checkout of ours made (no metadata.order_id)"
    return f"not ours: a {kind} without any marker of ours (no order id, no cart)"

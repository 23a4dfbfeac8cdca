"""Realistic Stripe events for demos, load and benchmarks (shaped like Stripe's own objects).

Pure: callers pass ids and times; nothing here reads the clock or talks to the network.
"""

from __future__ import annotations

import json
from typing import Any

API_VERSION = "2025-09-30.clover"


def event_envelope(
    event_id: str, event_type: str, obj: dict[str, Any], created: int, livemode: bool = False
) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": obj},
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def checkout_session(
    session_id: str,
    order_id: str,
    created: int,
    amount_total: int,
    email: str,
    name: str,
    payment_intent_id: str | None,
    items: list[dict[str, Any]] | None = None,
    currency: str = "aud",
) -> dict[str, Any]:
    """A completed, paid one-off Checkout Session for `order_id`."""
    metadata = {"order_id": order_id}
    if items is not None:
        metadata["tt_items"] = json.dumps(items, separators=(",", ":"))
    return {
        "id": session_id,
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": "https://tinkertank.example/cart",
        "client_reference_id": order_id,
        "consent": None,
        "created": created,
        "currency": currency,
        "custom_fields": [],
        "customer": None,
        "customer_creation": "if_required",
        "customer_details": {
            "address": {
                "city": "Marrickville",
                "country": "AU",
                "line1": None,
                "line2": None,
                "postal_code": "2204",
                "state": "NSW",
            },
            "email": email,
            "name": name,
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
        "customer_email": email,
        "expires_at": created + 1800,
        "invoice": None,
        "livemode": False,
        "locale": None,
        "metadata": metadata,
        "mode": "payment",
        "payment_intent": payment_intent_id,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "payment_status": "paid",
        "status": "complete",
        "submit_type": "book",
        "subscription": None,
        "success_url": "https://tinkertank.example/orders/{CHECKOUT_SESSION_ID}/processing",
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": None,
    }


def payment_intent(
    payment_intent_id: str,
    created: int,
    amount: int,
    metadata: dict[str, str],
    email: str,
    currency: str = "aud",
) -> dict[str, Any]:
    """A succeeded PaymentIntent from the storefront's own flow (cart in its metadata)."""
    return {
        "id": payment_intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": amount,
        "capture_method": "automatic_async",
        "client_secret": f"{payment_intent_id}_secret_demo",
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": None,
        "description": "TinkerTank booking",
        "latest_charge": "ch_" + payment_intent_id.removeprefix("pi_"),
        "livemode": False,
        "metadata": metadata,
        "payment_method": "pm_card_visa",
        "payment_method_types": ["card"],
        "receipt_email": email,
        "status": "succeeded",
    }


def charge_refunded(
    charge_id: str, payment_intent_id: str, order_id: str | None, amount: int, created: int,
    currency: str = "aud",
) -> dict[str, Any]:  # fmt: skip
    """A fully refunded charge."""
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount,
        "captured": True,
        "created": created,
        "currency": currency,
        "livemode": False,
        "metadata": {"order_id": order_id} if order_id else {},
        "paid": True,
        "payment_intent": payment_intent_id,
        "refunded": True,
        "status": "succeeded",
    }


def subscription_checkout_session(
    session_id: str,
    created: int,
    amount_total: int,
    email: str,
    name: str,
    metadata: dict[str, str],
    subscription_id: str,
    customer_id: str,
    invoice_id: str,
    currency: str = "aud",
) -> dict[str, Any]:
    """A completed subscription-mode Checkout Session (an Ignite sign-up) whose metadata
    carries the cart, as the storefront's own checkout would make it."""
    session = checkout_session(
        session_id, "", created, amount_total, email, name, None, currency=currency
    )
    session.update(
        {
            "client_reference_id": None,
            "customer": customer_id,
            "invoice": invoice_id,
            "metadata": dict(metadata),
            "mode": "subscription",
            "payment_intent": None,
            "submit_type": None,
            "subscription": subscription_id,
        }
    )
    return session


def expired_checkout_session(
    session_id: str, created: int, amount_total: int, email: str, currency: str = "aud"
) -> dict[str, Any]:
    """A Checkout Session the parent walked away from (no order was ever made for it)."""
    session = checkout_session(session_id, "", created, amount_total, email, "", None,
                               currency=currency)  # fmt: skip
    session.update(
        {
            "client_reference_id": None,
            "customer_details": None,
            "metadata": {},
            "payment_status": "unpaid",
            "status": "expired",
        }
    )
    return session


def subscription(
    subscription_id: str,
    customer_id: str,
    price_id: str,
    amount: int,
    created: int,
    period_start: int,
    period_end: int,
    status: str = "active",
    currency: str = "aud",
) -> dict[str, Any]:
    """An Ignite subscription: one monthly price."""
    return {
        "id": subscription_id,
        "object": "subscription",
        "billing_cycle_anchor": period_start,
        "cancel_at_period_end": False,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": customer_id,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_" + subscription_id.removeprefix("sub_"),
                    "object": "subscription_item",
                    "current_period_start": period_start,
                    "current_period_end": period_end,
                    "price": {
                        "id": price_id,
                        "object": "price",
                        "currency": currency,
                        "recurring": {"interval": "month", "interval_count": 1},
                        "type": "recurring",
                        "unit_amount": amount,
                    },
                    "quantity": 1,
                }
            ],
        },
        "livemode": False,
        "metadata": {},
        "status": status,
    }


def paid_invoice(
    invoice_id: str,
    subscription_id: str,
    customer_id: str,
    amount: int,
    created: int,
    period_start: int,
    period_end: int,
    currency: str = "aud",
) -> dict[str, Any]:
    """A paid subscription invoice, shaped as current API versions send it (the subscription
    under `parent.subscription_details`)."""
    return {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": amount,
        "amount_paid": amount,
        "amount_remaining": 0,
        "attempt_count": 1,
        "billing_reason": "subscription_create",
        "created": created,
        "currency": currency,
        "customer": customer_id,
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": "il_" + invoice_id.removeprefix("in_"),
                    "object": "line_item",
                    "amount": amount,
                    "currency": currency,
                    "period": {"start": period_start, "end": period_end},
                }
            ],
        },
        "livemode": False,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription_id, "metadata": {}},
        },
        "period_start": period_start,
        "period_end": period_end,
        "status": "paid",
    }


def failed_payment_intent(
    payment_intent_id: str,
    created: int,
    amount: int,
    metadata: dict[str, str],
    email: str,
    currency: str = "aud",
) -> dict[str, Any]:
    """A declined attempt (the parent then pays with another card)."""
    intent = payment_intent(payment_intent_id, created, amount, metadata, email, currency)
    intent.update(
        {
            "amount_received": 0,
            "last_payment_error": {
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
                "type": "card_error",
            },
            "latest_charge": None,
            "status": "requires_payment_method",
        }
    )
    return intent


def dispute(
    dispute_id: str, charge_id: str, payment_intent_id: str, amount: int, created: int,
    currency: str = "aud",
) -> dict[str, Any]:  # fmt: skip
    """A dispute opened by the card holder's bank."""
    return {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "charge": charge_id,
        "created": created,
        "currency": currency,
        "is_charge_refundable": False,
        "livemode": False,
        "payment_intent": payment_intent_id,
        "reason": "product_not_received",
        "status": "needs_response",
    }

"""Realistic Stripe events for demos, load and benchmarks (shaped like Stripe's own objects).

Pure: callers pass ids and times; nothing here reads the clock or talks to the network.
"""

from __future__ import annotations

import json
from typing import Any

import stripe

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
    payment_intent_id: str,
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


def signed_delivery(
    event: dict[str, Any], secret: str, timestamp: int, *, indent: int | None = None
) -> tuple[str, str]:
    """The body and `Stripe-Signature` header Stripe would send for `event`."""
    body = json.dumps(event, indent=indent, separators=None if indent else (",", ":"))
    return body, stripe.WebhookSignature.generate_signature_header(body, secret, timestamp)


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

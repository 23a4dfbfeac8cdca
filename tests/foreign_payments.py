"""Stripe objects of sales that are not bookings, shaped as Stripe sends them (API version
2025-09-30.clover; the fields fulfilment reads, and the ones that tell them apart):

- a card payment at the front desk (Stripe Terminal): a PaymentIntent with
  `payment_method_types: ["card_present"]`, no metadata, and its charge (and refund);
- an invoice sent from Stripe's Dashboard to a school: `billing_reason: "manual"`, no
  subscription (`parent.type: "quote_details"` or none), paid by its own PaymentIntent;
- another shop's subscription on the same account, and its invoices
  (`parent.subscription_details` with the other shop's metadata).
"""

from __future__ import annotations

import secrets
from typing import Any

API_VERSION = "2025-09-30.clover"


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def envelope(event_type: str, obj: dict[str, Any], created: int) -> dict[str, Any]:
    return {
        "id": _id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def front_desk_payment(created: int, amount: int = 4500) -> dict[str, Any]:
    """`payment_intent.succeeded` of a card tapped on the front desk's reader."""
    intent_id = _id("pi")
    intent = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": amount,
        "capture_method": "automatic",
        "confirmation_method": "automatic",
        "created": created,
        "currency": "aud",
        "customer": None,
        "description": "Front desk: LEGO kit and holiday snack pack",
        "latest_charge": _id("ch"),
        "livemode": False,
        "metadata": {},
        "payment_method": _id("pm"),
        "payment_method_options": {
            "card_present": {
                "request_extended_authorization": False,
                "request_incremental_authorization_support": False,
                "routing": {"requested_priority": None},
            }
        },
        "payment_method_types": ["card_present"],
        "processing": None,
        "receipt_email": None,
        "status": "succeeded",
    }
    return envelope("payment_intent.succeeded", intent, created)


def front_desk_refund(payment: dict[str, Any], created: int) -> dict[str, Any]:
    """`charge.refunded` of a front-desk payment, refunded in full."""
    intent = payment["data"]["object"]
    charge = {
        "id": intent["latest_charge"],
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"],
        "amount_refunded": intent["amount"],
        "captured": True,
        "created": created,
        "currency": "aud",
        "customer": None,
        "metadata": {},
        "paid": True,
        "payment_intent": intent["id"],
        "payment_method_details": {
            "card_present": {"brand": "visa", "last4": "4242", "read_method": "contactless_emv"},
            "type": "card_present",
        },
        "refunded": True,
        "status": "succeeded",
    }
    return envelope("charge.refunded", charge, created)


def dashboard_invoice(created: int, amount: int = 132000) -> list[dict[str, Any]]:
    """An invoice sent from Stripe's Dashboard to a school, paid: `invoice.paid` and its
    PaymentIntent's `payment_intent.succeeded` (which has the school as customer)."""
    customer = _id("cus")
    invoice_id = _id("in")
    intent_id = _id("pi")
    invoice = {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": amount,
        "amount_paid": amount,
        "amount_remaining": 0,
        "attempt_count": 1,
        "billing_reason": "manual",
        "collection_method": "send_invoice",
        "created": created,
        "currency": "aud",
        "customer": customer,
        "customer_email": "accounts@school.example.edu.au",
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": _id("il"),
                    "object": "line_item",
                    "amount": amount,
                    "currency": "aud",
                    "description": "Robotics incursion, Year 4 (two classes)",
                    "metadata": {},
                    "parent": {
                        "type": "invoice_item_details",
                        "invoice_item_details": {
                            "invoice_item": _id("ii"),
                            "proration": False,
                            "subscription": None,
                        },
                    },
                    "period": {"start": created, "end": created},
                    "quantity": 1,
                }
            ],
            "has_more": False,
        },
        "livemode": False,
        "metadata": {},
        "parent": None,
        "status": "paid",
    }
    intent = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "created": created,
        "currency": "aud",
        "customer": customer,
        "description": "Payment for Invoice",
        "livemode": False,
        "metadata": {},
        "payment_method_types": ["card", "au_becs_debit"],
        "status": "succeeded",
    }
    return [
        envelope("payment_intent.succeeded", intent, created),
        envelope("invoice.paid", invoice, created + 1),
    ]


def foreign_subscription(created: int, amount: int = 2900) -> list[dict[str, Any]]:
    """Another shop's subscription on the account (a monthly kit box): created, and its
    first invoice paid."""
    customer = _id("cus")
    subscription_id = _id("sub")
    subscription = {
        "id": subscription_id,
        "object": "subscription",
        "collection_method": "charge_automatically",
        "created": created,
        "currency": "aud",
        "customer": customer,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": _id("si"),
                    "object": "subscription_item",
                    "quantity": 1,
                    "price": {
                        "id": _id("price"),
                        "object": "price",
                        "currency": "aud",
                        "unit_amount": amount,
                        "recurring": {"interval": "month"},
                    },
                }
            ],
        },
        "livemode": False,
        "metadata": {"shop": "kit-box"},
        "status": "active",
    }
    invoice = {
        "id": _id("in"),
        "object": "invoice",
        "amount_due": amount,
        "amount_paid": amount,
        "billing_reason": "subscription_create",
        "created": created,
        "currency": "aud",
        "customer": customer,
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": _id("il"),
                    "object": "line_item",
                    "amount": amount,
                    "currency": "aud",
                    "period": {"start": created, "end": created + 30 * 86400},
                }
            ],
        },
        "livemode": False,
        "metadata": {},
        "parent": {
            "type": "subscription_details",
            "subscription_details": {
                "metadata": {"shop": "kit-box"},
                "subscription": subscription_id,
            },
        },
        "status": "paid",
    }
    return [
        envelope("customer.subscription.created", subscription, created),
        envelope("invoice.paid", invoice, created + 1),
    ]


def cartless_payment(created: int, amount: int = 8900, **metadata: str) -> dict[str, Any]:
    """`payment_intent.succeeded` of an online card payment with no cart (or, with
    `metadata`, a broken one)."""
    intent = {
        "id": _id("pi"),
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "created": created,
        "currency": "aud",
        "customer": None,
        "livemode": False,
        "metadata": dict(metadata),
        "payment_method_types": ["card"],
        "receipt_email": "someone@example.com",
        "status": "succeeded",
    }
    return envelope("payment_intent.succeeded", intent, created)

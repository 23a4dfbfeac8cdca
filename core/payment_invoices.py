"""Which invoice a PaymentIntent paid, as Stripe's invoice payments say (issues 12 and 16).

A PaymentIntent made by an invoice (an Ignite renewal, an invoice sent from Stripe's
Dashboard) carries no invoice id and no metadata on current API versions, only a
customer; its charge names no invoice either. The sidecar asks Stripe once per
PaymentIntent, `GET /v1/invoice_payments?payment[type]=payment_intent&payment[payment_intent]=…`
with the invoice expanded (`runtime/invoice_lookups.py`), and keeps the answer
(`store/payment_invoices.py`). This module reads that answer: pure, the listing in, the
facts out, and the lookup's retry rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from core.ownership import has_marker, of_our_prices

# A lookup Stripe did not answer (down, 5xx, a timeout) is asked again after 2 s, doubling
# up to 30 minutes, like a waiting event (fulfilment/events.py); after LOOKUP_ATTEMPTS
# tries (about two hours) it is given up, and the events waiting on it end by their rules.
RETRY_FIRST = timedelta(seconds=2)
RETRY_CAP = timedelta(minutes=30)
LOOKUP_ATTEMPTS = 14


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed ask (1 for the first)."""
    return min(RETRY_FIRST * 2 ** max(attempts - 1, 0), RETRY_CAP)


@dataclass(frozen=True)
class PaidInvoice:
    """What Stripe said a PaymentIntent paid: `invoice_id` None for no invoice; the
    invoice's subscription, if any; whether the invoice carries a marker of ours (our
    subscription's metadata, one of our catalog's Ignite prices)."""

    invoice_id: str | None
    subscription_id: str | None = None
    marked: bool = False


def _id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def invoice_subscription(invoice: dict[str, Any]) -> str | None:
    """The subscription an invoice is of: `parent.subscription_details.subscription`
    (current API versions) or `subscription` (older ones)."""
    parent = invoice.get("parent") if isinstance(invoice.get("parent"), dict) else {}
    details = parent.get("subscription_details")
    if isinstance(details, dict):
        return _id(details.get("subscription"))
    return _id(invoice.get("subscription"))


def paid_invoice(
    listing: dict[str, Any], payment_intent_id: str, our_prices: set[str]
) -> PaidInvoice:
    """The invoice a listing of invoice payments (filtered by the PaymentIntent) shows it
    paid: a paid one first, else any; no invoice when the listing has none of it."""
    entries = [
        entry for entry in listing.get("data") or [] if isinstance(entry, dict)
        and isinstance(entry.get("payment"), dict)
        and entry["payment"].get("type") == "payment_intent"
        and _id(entry["payment"].get("payment_intent")) == payment_intent_id
    ]  # fmt: skip
    entries.sort(key=lambda entry: entry.get("status") != "paid")
    for entry in entries:
        invoice = entry.get("invoice")
        invoice_id = _id(invoice)
        if invoice_id is None:
            continue
        if not isinstance(invoice, dict):  # not expanded: the id alone
            return PaidInvoice(invoice_id)
        return PaidInvoice(
            invoice_id,
            invoice_subscription(invoice),
            has_marker(invoice) or of_our_prices(invoice, our_prices),
        )
    return PaidInvoice(None)

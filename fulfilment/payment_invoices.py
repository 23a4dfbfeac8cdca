"""Which invoice a payment paid, for the handlers of events about a PaymentIntent nothing
of ours names (issues 12 and 16): an unmarked `payment_intent.succeeded` with a customer,
a `charge.refunded` or dispute of a payment we have no order for.

The handler asks `match`: the stored answer (`store/payment_invoices.py`), or, when none
is stored and the sidecar has a Stripe key, a lookup wanted, which the lookup pass
(`runtime/invoice_lookups.py`) asks Stripe for outside any transaction, once per
PaymentIntent; the event waits for it (waiting for the PaymentIntent) and is woken when
the answer is stored (`record_lookups`). An invoice of one of our orders (its subscription
is an order's; or its periods are an enrolment's) is recorded as that order's invoice
payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from core.payment_invoices import PaidInvoice
from fulfilment.context import Context
from store import inbox, payment_invoices

ASKING = "asking Stripe which invoice this payment paid"


@dataclass(frozen=True)
class Match:
    """What a handler can go on: `asking` (Stripe not answered yet: wait for the
    PaymentIntent), an `order_id` (the payment of that order's invoice), `waiting_for` (an
    invoice of ours whose subscription's order is not recorded yet: wait for it), or none of
    those: no invoice of ours, `reason` says why."""

    asking: bool = False
    order_id: str | None = None
    invoice_id: str | None = None
    waiting_for: str | None = None
    reason: str = ""


def match(conn: duckdb.DuckDBPyConnection, payment_intent_id: str, ctx: Context) -> Match | None:
    """Which invoice of ours, if any, the PaymentIntent paid. None: nothing to go on (no
    Stripe key and nothing stored, or Stripe never answered): the handler's rules as
    without lookups."""
    found = payment_invoices.lookup(conn, payment_intent_id)
    if found is None or found.status == "wanted":
        if not ctx.lookups:
            return None
        if found is None:
            payment_invoices.want(conn, payment_intent_id, ctx.now)
        return Match(asking=True)
    if found.status != "answered" or found.paid is None:
        return None  # given up: Stripe never answered
    paid = found.paid
    if found.order_id is not None:
        return Match(order_id=found.order_id, invoice_id=paid.invoice_id)
    if paid.invoice_id is None:
        return Match(reason="Stripe shows it paid no invoice")
    order_id = order_of_invoice(conn, paid)
    if order_id is not None:
        payment_invoices.record_order(conn, payment_intent_id, order_id)
        return Match(order_id=order_id, invoice_id=paid.invoice_id)
    if paid.subscription_id and (paid.marked or not ctx.shared):
        return Match(invoice_id=paid.invoice_id, waiting_for=paid.subscription_id)
    return Match(
        invoice_id=paid.invoice_id,
        reason=f"it paid invoice {paid.invoice_id}, "
        + (
            f"of a subscription not ours ({paid.subscription_id})" if paid.subscription_id
            else "of no subscription (sent from Stripe's Dashboard?)"
        ),
    )  # fmt: skip


def order_of_invoice(conn: duckdb.DuckDBPyConnection, paid: PaidInvoice) -> str | None:
    """The order an invoice is of: its subscription's order, or the order whose enrolment
    periods it paid (`enrolment_periods` is keyed `<invoice>:<enrolment>`)."""
    if paid.subscription_id:
        row = conn.execute(
            "SELECT order_id FROM orders WHERE subscription_id = ? LIMIT 1", [paid.subscription_id]
        ).fetchone()
        if row:
            return row[0]
    prefix = f"{paid.invoice_id}:"
    row = conn.execute(
        "SELECT e.order_id FROM enrolment_periods p JOIN enrolments e"
        " ON e.enrolment_id = p.enrolment_id WHERE left(p.invoice_id, ?) = ? LIMIT 1",
        [len(prefix), prefix],
    ).fetchone()
    return row[0] if row else None


def record_lookups(
    conn: duckdb.DuckDBPyConnection, answers: dict[str, PaidInvoice], failures: dict[str, str],
    now: datetime,
) -> int:  # fmt: skip
    """What the lookup pass learnt, in one write: each answer kept once, each failure
    backed off; the events waiting for a PaymentIntent answered (or given up) are due at
    once. The number of events woken."""
    settled = [
        pi for pi, paid in answers.items() if payment_invoices.record_answer(conn, pi, paid, now)
    ]
    for pi, error in failures.items():
        if payment_invoices.record_failure(conn, pi, error, now) == "failed":
            settled.append(pi)
    return inbox.wake_waiting_for(conn, settled, now)

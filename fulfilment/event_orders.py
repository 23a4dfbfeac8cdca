"""The order a Stripe event is about: found by any of its ids, or made from the cart in
a payment's metadata; and the order's payment state, which only moves forward.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from core.cart import InvalidCart
from core.cart_metadata import parse_metadata_cart
from core.catalog import Catalog
from core.payments import PaymentFacts, amount_paid, facts_from, payment_problem
from fulfilment.context import Context
from store import fulfilment_steps, order_state, orders
from store.error_log import log_error, log_grouped

# --- finding and creating orders -----------------------------------------------------------


def order_from_metadata(
    conn: duckdb.DuckDBPyConnection,
    facts: PaymentFacts,
    catalog: Catalog,
    event_id: str,
    now: datetime,
) -> str:
    """A payment taken outside our checkout: the order comes from the cart in its metadata.
    Without a usable cart the payment is still recorded, on an order that needs attention."""
    order_id = orders.new_id("ord")
    problems: list[str] = []
    cart = None
    if facts.order_id:
        problems.append(f"metadata.order_id: no order {facts.order_id!r} exists")
    else:
        try:
            cart = parse_metadata_cart(facts.metadata, catalog, facts.email, facts.name)
        except InvalidCart as exc:
            problems.extend(str(p) for p in exc.problems)
    order_state.insert_metadata_order(conn, order_id, cart, facts, problems, now)
    if cart is None:
        log_unusable(conn, facts, problems, order_id, event_id, now)
    return order_id


def log_unusable(
    conn: duckdb.DuckDBPyConnection, facts: PaymentFacts, problems: list[str],
    order_id: str, event_id: str, now: datetime, count: int = 1,
) -> None:  # fmt: skip
    """Payments without a usable cart come in floods (a storefront bug, a shared account
    set as dedicated): one entry and one alert per kind and window, with a count; each
    order says what is missing and is on the list of orders that need attention."""
    unknown = bool(facts.order_id)
    log_grouped(
        conn,
        group_kind="unknown-order" if unknown else "no-cart",
        category="payment",
        severity="high",
        message=(
            "payments naming an order we do not know" if unknown
            else "payments received without a usable cart"
        ) + "; the first: " + "; ".join(problems),
        context={"payment_intent": facts.payment_intent_id, "email": facts.email},
        order_id=order_id,
        stripe_event_id=event_id,
        now=now,
        count=count,
    )  # fmt: skip


# --- payment state -------------------------------------------------------------------------


def mark_paid(
    conn: duckdb.DuckDBPyConnection, order_id: str, facts: PaymentFacts, ctx: Context
) -> None:
    """Step 1, record payment, is this transaction; the other steps are queued behind it.
    A payment of another amount or currency than the order's is recorded as it is, on an
    order that needs attention (its other steps skipped), with a critical error-log entry,
    which raises an alert."""
    now = ctx.now
    if not order_state.advance_payment_status(conn, order_id, "paid", now):
        return  # already paid: the second of checkout.session.completed/payment_intent.succeeded
    total, currency = order_state.money(conn, order_id)
    problem = payment_problem(total, currency, facts.amount, facts.currency)
    # An order becomes paid once (state only moves forward), so the steps are inserted once;
    # their primary key would refuse a second set. (A plain INSERT costs DuckDB a third of
    # one with ON CONFLICT.)
    attention = order_state.record_payment(
        conn, order_id, amount_paid(currency, facts.amount, facts.currency), problem, now
    )
    if problem is not None:
        log_error(
            conn,
            category="payment",
            severity="critical",
            message=f"wrong payment: {problem}. Nothing was booked: refund it, or ask for the"
            " rest and book by hand",
            context={"expected": total, "currency": currency, "paid": facts.amount,
                     "paid_currency": facts.currency, "checkout_session":
                     facts.checkout_session_id, "payment_intent": facts.payment_intent_id},
            order_id=order_id,
            stripe_event_id=ctx.event_id,
            now=now,
            dedupe_key=f"wrong-payment:{order_id}",
        )  # fmt: skip
    later = "skipped" if attention else "pending"
    fulfilment_steps.queue_after_payment(conn, order_id, later, now)


def order_for(
    conn, event: dict[str, Any], ctx: Context, create: bool
) -> tuple[str | None, PaymentFacts]:
    facts = facts_from(event["type"], event["data"]["object"])
    order_id = order_state.find_order(conn, facts)
    if order_id is None and create:
        order_id = order_from_metadata(conn, facts, ctx.catalog, ctx.event_id, ctx.now)
    if order_id is not None:
        order_state.link(conn, order_id, facts)
    ctx.order_id = order_id
    return order_id, facts


def text_id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None

"""Stripe events about a payment: a checkout session completed, paid later (BECS),
failed or expired, and PaymentIntents that succeeded or failed."""

from __future__ import annotations

from datetime import timedelta

from core.payments import facts_from, has_cart
from fulfilment import waitlist_offers
from fulfilment.context import Context, Deferred
from fulfilment.event_orders import (
    mark_paid,
    order_for,
)
from store import holds, order_state
from store.error_log import log_error

# How long a PaymentIntent without order id or cart waits for its subscription order to be
# linked before it is taken for a payment without a cart (a needs-attention order).
SUBSCRIPTION_LINK_WAIT = timedelta(minutes=10)


def handle_checkout_session_completed(conn, event, ctx: Context) -> None:
    order_id, facts = order_for(conn, event, ctx, create=True)
    # "unpaid" means a delayed method (BECS direct debit): wait for async_payment_succeeded.
    if event["data"]["object"].get("payment_status") in ("paid", "no_payment_required"):
        mark_paid(conn, order_id, facts, ctx)


def handle_async_payment_succeeded(conn, event, ctx: Context) -> None:
    order_id, facts = order_for(conn, event, ctx, create=True)
    mark_paid(conn, order_id, facts, ctx)


def handle_async_payment_failed(conn, event, ctx: Context) -> None:
    order_id, _ = order_for(conn, event, ctx, create=False)
    if order_id is None:
        raise Deferred("no order for this checkout session yet")
    if order_state.advance_payment_status(conn, order_id, "failed", ctx.now):
        holds.release_active(conn, order_id)


def handle_checkout_session_expired(conn, event, ctx: Context) -> None:
    order_id, _ = order_for(conn, event, ctx, create=False)
    if order_id is None:
        return  # a session we never made an order for: nothing held
    if order_state.advance_payment_status(conn, order_id, "expired", ctx.now):
        holds.release_active(conn, order_id)
        # The places go to the waitlist's next families at once.
        waitlist_offers.order_places_freed(conn, ctx.catalog, order_id, ctx.now)


def handle_payment_intent_succeeded(conn, event, ctx: Context) -> None:
    facts = facts_from(event["type"], event["data"]["object"])
    if order_state.find_order(conn, facts) is None and not facts.order_id and not has_cart(facts):
        # The PaymentIntent of a subscription invoice (an Ignite sign-up or renewal) carries
        # neither our order id nor a cart; invoice.paid books its classes. Its customer is
        # the subscription order's, once checkout.session.completed has been recorded.
        if facts.customer_id and _subscription_order_of_customer(conn, facts.customer_id):
            return
        if facts.customer_id and ctx.now - ctx.received_at < SUBSCRIPTION_LINK_WAIT:
            raise Deferred("waiting to see whether this pays a subscription invoice")
    order_id, facts = order_for(conn, event, ctx, create=True)
    mark_paid(conn, order_id, facts, ctx)


def _subscription_order_of_customer(conn, customer_id: str) -> str | None:
    row = conn.execute(
        "SELECT order_id FROM orders WHERE stripe_customer_id = ? AND mode = 'subscription'"
        " LIMIT 1",
        [customer_id],
    ).fetchone()
    return row[0] if row else None


def handle_payment_intent_payment_failed(conn, event, ctx: Context) -> None:
    order_id, _ = order_for(conn, event, ctx, create=False)
    if order_id is None:
        return  # an attempt that never became an order: nothing to undo
    if not order_state.advance_payment_status(conn, order_id, "failed", ctx.now):
        log_error(
            conn,
            category="payment",
            severity="low",
            message="payment failure reported after the order was"
            f" {order_state.payment_status(conn, order_id)}; recorded, not applied",
            order_id=order_id,
            stripe_event_id=ctx.event_id,
            now=ctx.now,
            dedupe_key=f"late-failure:{ctx.event_id}",
        )
    # Holds stay: the parent can retry within the same Checkout Session until it expires.

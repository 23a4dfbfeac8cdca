"""Stripe events about a payment: a checkout session completed, paid later (BECS),
failed or expired, and PaymentIntents that succeeded or failed."""

from __future__ import annotations

from datetime import timedelta

from core.ownership import front_desk, has_marker, why_not_ours
from core.payments import facts_from, has_cart
from fulfilment import payment_invoices, waitlist_offers
from fulfilment.context import Context, Deferred, NotOurs
from fulfilment.event_orders import (
    mark_paid,
    order_for,
)
from store import holds, order_state

# How long a PaymentIntent without order id or cart waits for its subscription order to be
# linked before it is taken for a payment without a cart (a needs-attention order).
SUBSCRIPTION_LINK_WAIT = timedelta(minutes=10)


def not_ours_unless_marked(conn, event, ctx: Context) -> None:
    """In a shared account, a payment of no order of ours and without any marker of ours
    (a front-desk payment, another shop's checkout) is not ours: raises NotOurs."""
    obj = event["data"]["object"]
    if not ctx.shared or has_marker(obj):
        return
    if order_state.find_order(conn, facts_from(event["type"], obj)) is None:
        raise NotOurs(why_not_ours(obj))


def handle_checkout_session_completed(conn, event, ctx: Context) -> None:
    not_ours_unless_marked(conn, event, ctx)
    order_id, facts = order_for(conn, event, ctx, create=True)
    # "unpaid" means a delayed method (BECS direct debit): wait for async_payment_succeeded.
    if event["data"]["object"].get("payment_status") in ("paid", "no_payment_required"):
        mark_paid(conn, order_id, facts, ctx)


def handle_async_payment_succeeded(conn, event, ctx: Context) -> None:
    not_ours_unless_marked(conn, event, ctx)
    order_id, facts = order_for(conn, event, ctx, create=True)
    mark_paid(conn, order_id, facts, ctx)


def handle_async_payment_failed(conn, event, ctx: Context) -> None:
    not_ours_unless_marked(conn, event, ctx)
    order_id, facts = order_for(conn, event, ctx, create=False)
    if order_id is None:
        raise Deferred("no order for this checkout session yet", facts.checkout_session_id)
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
    obj = event["data"]["object"]
    if ctx.shared and front_desk(obj) and not has_marker(obj):
        raise NotOurs(why_not_ours(obj))
    facts = facts_from(event["type"], obj)
    # The PaymentIntent of a subscription invoice (an Ignite sign-up or renewal) carries
    # neither our order id nor a cart, only a customer; invoice.paid books its classes.
    if (
        facts.customer_id and not facts.order_id and not has_cart(facts)
        and order_state.find_order(conn, facts) is None
        and _pays_an_invoice(conn, obj, facts, ctx)
    ):  # fmt: skip
        return
    not_ours_unless_marked(conn, event, ctx)
    order_id, facts = order_for(conn, event, ctx, create=True)
    mark_paid(conn, order_id, facts, ctx)


def _pays_an_invoice(conn, obj, facts, ctx: Context) -> bool:
    """Whether a PaymentIntent with a customer and nothing else of ours is the payment of
    one of our subscription invoices (nothing more to do: invoice.paid books the classes).
    Its customer is the subscription order's once checkout.session.completed is recorded;
    else Stripe is asked which invoice it paid (fulfilment/payment_invoices.py), and it
    waits for the answer. No invoice of ours: in a shared account not ours at once (raises
    NotOurs); in a dedicated one it waits up to SUBSCRIPTION_LINK_WAIT for the customer's
    subscription order, then is a payment without a cart (False)."""
    if _subscription_order_of_customer(conn, facts.customer_id):
        return True
    marked = has_marker(obj)
    found = payment_invoices.match(conn, facts.payment_intent_id, ctx) if (
        facts.payment_intent_id) else None  # fmt: skip
    if found is not None and found.asking:
        raise Deferred(payment_invoices.ASKING, facts.payment_intent_id, marked=marked)
    if found is not None and found.order_id is not None:
        ctx.order_id = found.order_id  # that order's invoice payment, recorded by `match`
        return True
    if found is not None and found.waiting_for is not None:
        raise Deferred(
            f"it paid invoice {found.invoice_id}, of subscription {found.waiting_for}: waiting"
            " for that subscription's order", found.waiting_for, marked=True,
        )  # fmt: skip
    if found is not None and ctx.shared and not marked:
        raise NotOurs(f"{why_not_ours(obj)}; {found.reason}")
    if ctx.now - ctx.received_at < SUBSCRIPTION_LINK_WAIT:
        raise Deferred(
            "waiting to see whether this pays a subscription invoice", facts.customer_id,
            marked=marked,
        )  # fmt: skip
    return False


def _subscription_order_of_customer(conn, customer_id: str) -> str | None:
    row = conn.execute(
        "SELECT order_id FROM orders WHERE stripe_customer_id = ? AND mode = 'subscription'"
        " LIMIT 1",
        [customer_id],
    ).fetchone()
    return row[0] if row else None


def handle_payment_intent_payment_failed(conn, event, ctx: Context) -> None:
    not_ours_unless_marked(conn, event, ctx)
    order_id, _ = order_for(conn, event, ctx, create=False)
    if order_id is None:
        return  # an attempt that never became an order: nothing to undo
    # A failure that does not move the state on is an earlier attempt's, delivered late (a
    # declined card before the one that paid, or a second decline): the delivery stays in
    # the inbox and on the order's timeline; it is no error for staff to look at.
    order_state.advance_payment_status(conn, order_id, "failed", ctx.now)
    # Holds stay: the parent can retry within the same Checkout Session until it expires.

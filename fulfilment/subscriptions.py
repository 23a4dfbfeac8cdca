"""Ignite: subscriptions and the classes of each paid period. A subscription event sets
the enrolments' status; each paid invoice books the period's classes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.ownership import has_marker, of_our_prices, why_not_ours
from core.payments import PaymentFacts, payment_problem, same_currency
from core.schedule import ScheduleError, ignite_classes_in_period
from fulfilment.context import Context, Deferred, NotOurs, PermanentFailure
from fulfilment.event_orders import text_id
from fulfilment.refunds import queue_cancellation
from store import bookings, holds, order_state
from store.enrolments import ensure_enrolments, record_period, set_current_period, set_status
from store.error_log import log_error

# Stripe subscription status -> enrolment status.
_ENROLMENT_STATUS = {
    "incomplete": "pending",
    "trialing": "active",
    "active": "active",
    "past_due": "past_due",
    "unpaid": "past_due",
    "paused": "past_due",
    "canceled": "ended",
    "incomplete_expired": "ended",
}


def _subscription_order(conn, subscription_id: str | None, metadata: dict) -> str | None:
    facts = PaymentFacts(
        metadata.get("order_id"), None, None, subscription_id, None, None, None, None, None, {}
    )
    order_id = order_state.find_order(conn, facts)
    if order_id is not None and subscription_id:
        order_state.link(conn, order_id, facts)
    return order_id


def _apply_subscription(conn, event: dict[str, Any], ctx: Context, deleted: bool) -> None:
    subscription = event["data"]["object"]
    metadata = (
        subscription.get("metadata") if isinstance(subscription.get("metadata"), dict) else {}
    )
    subscription_id = text_id(subscription.get("id"))
    order_id = ctx.order_id = _subscription_order(conn, subscription_id, metadata)
    if order_id is None:
        # Our checkout gives every subscription it makes metadata.order_id: in a shared
        # account, one without it is another's (a foreign subscription).
        if ctx.shared and not _marked(subscription, ctx):
            raise NotOurs(why_not_ours(subscription))
        raise Deferred("no order for this subscription yet", subscription_id)
    ensure_enrolments(conn, [order_id], text_id(subscription.get("id")), ctx.now)
    status = "ended" if deleted else _ENROLMENT_STATUS.get(str(subscription.get("status")))
    if status is None:
        raise PermanentFailure(f"unknown subscription status {subscription.get('status')!r}")
    created = datetime.fromtimestamp(int(event["created"]), UTC).replace(tzinfo=None)
    changed = set_status(conn, order_id, status, created, ctx.now)
    if changed and status == "ended":
        _end_enrolments(conn, order_id, ctx.now)


def _end_enrolments(conn, order_id: str, now: datetime) -> None:
    """Subscription over: classes still to come are cancelled, the place freed, and the
    family gets the cancellation email with their weekly series ended."""
    bookings.cancel_classes_to_come(conn, order_id, now)
    holds.release_ignite(conn, order_id)
    queue_cancellation(conn, order_id, "subscription_ended", now)


def handle_subscription_created_or_updated(conn, event, ctx: Context) -> None:
    _apply_subscription(conn, event, ctx, deleted=False)


def handle_subscription_deleted(conn, event, ctx: Context) -> None:
    _apply_subscription(conn, event, ctx, deleted=True)


def _invoice_subscription(invoice: dict[str, Any]) -> tuple[str | None, dict]:
    """Current API versions name the subscription under parent.subscription_details;
    older ones at the top level."""
    parent = invoice.get("parent") if isinstance(invoice.get("parent"), dict) else {}
    details = parent.get("subscription_details")
    if isinstance(details, dict):
        metadata = details.get("metadata") if isinstance(details.get("metadata"), dict) else {}
        return text_id(details.get("subscription")), metadata
    return text_id(invoice.get("subscription")), {}


def _invoice_order(
    conn, invoice: dict[str, Any], subscription_id: str | None, metadata: dict, ctx: Context
) -> str | None:
    """The order a subscription invoice is for; None for an invoice of no subscription.
    In a shared account, an invoice of no subscription (one sent from Stripe's Dashboard)
    or of a subscription without our marker (our metadata, or one of our catalog's Ignite
    prices on its lines) is not ours (NotOurs). An invoice of a subscription we have no
    order for yet waits for it (Deferred); one that shows neither its subscription's
    metadata (older API versions) nor all its lines waits unmarked and, in a shared
    account, ends as not ours."""
    if subscription_id is None:
        if ctx.shared and not _marked(invoice, ctx):
            raise NotOurs(why_not_ours(invoice))
        return None
    order_id = _subscription_order(conn, subscription_id, metadata)
    if order_id is not None:
        return order_id
    parent = invoice.get("parent") if isinstance(invoice.get("parent"), dict) else {}
    knows_metadata = isinstance(parent.get("subscription_details"), dict)
    lines = invoice.get("lines") if isinstance(invoice.get("lines"), dict) else {}
    knows_prices = bool(lines.get("data")) and not lines.get("has_more")
    marked = _marked(invoice, ctx)
    if ctx.shared and not marked and (knows_metadata or knows_prices):
        raise NotOurs(why_not_ours(invoice))
    raise Deferred(
        "no order for this subscription yet", subscription_id, marked=marked or not ctx.shared
    )


def _marked(obj: dict[str, Any], ctx: Context) -> bool:
    """Our metadata, or one of our catalog's Ignite prices."""
    return has_marker(obj) or of_our_prices(obj, {p.stripe_price_id for p in ctx.catalog.ignite})


def _invoice_period(invoice: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """The service period the invoice pays for: its lines' periods (the invoice's own
    period_start/period_end describe something else for subscriptions)."""
    lines = invoice.get("lines", {}).get("data") if isinstance(invoice.get("lines"), dict) else None
    periods = [
        line["period"] for line in lines or [] if isinstance(line, dict)
        and isinstance(line.get("period"), dict)
    ]  # fmt: skip
    starts = [p.get("start") for p in periods if isinstance(p.get("start"), int)]
    ends = [p.get("end") for p in periods if isinstance(p.get("end"), int)]
    if not starts or not ends:
        return None
    return (datetime.fromtimestamp(min(starts), UTC), datetime.fromtimestamp(max(ends), UTC))


def handle_invoice_paid(conn, event, ctx: Context) -> None:
    """Book each Ignite student of the order into every class of the paid period, once per
    invoice (the invoice id is the key of enrolment_periods)."""
    invoice = event["data"]["object"]
    subscription_id, metadata = _invoice_subscription(invoice)
    order_id = ctx.order_id = _invoice_order(conn, invoice, subscription_id, metadata, ctx)
    if order_id is None:
        return  # not a subscription invoice: nothing of ours
    period = _invoice_period(invoice)
    if period is None:
        raise PermanentFailure("invoice.paid without a service period on its lines")
    if _wrong_invoice(conn, order_id, invoice, ctx):
        return  # nothing booked for it; staff have the entry and the alert
    ensure_enrolments(conn, [order_id], subscription_id, ctx.now)
    enrolments = conn.execute(
        "SELECT enrolment_id, order_item_id, student_id, product_id FROM enrolments"
        " WHERE order_id = ?",
        [order_id],
    ).fetchall()
    for enrolment_id, item_id, student_id, product_id in enrolments:
        start, end = period[0].replace(tzinfo=None), period[1].replace(tzinfo=None)
        booked = record_period(
            conn, f"{text_id(invoice.get('id'))}:{enrolment_id}", enrolment_id, start, end,
            invoice.get("amount_paid") or 0, ctx.now,
        )  # fmt: skip
        if not booked:
            continue  # this invoice's classes are already booked
        try:
            classes = ignite_classes_in_period(ctx.catalog, product_id, period[0], period[1])
        except (KeyError, ScheduleError) as exc:
            raise PermanentFailure(f"enrolment {enrolment_id}: {exc}") from None
        for planned in classes:
            event_id = bookings.upsert_event(conn, planned, ctx.now)
            bookings.insert_class_booking(
                conn, order_id, item_id, student_id, event_id, enrolment_id, ctx.now
            )
        set_current_period(conn, enrolment_id, start, end, ctx.now)


def _wrong_invoice(conn, order_id: str, invoice: dict[str, Any], ctx: Context) -> bool:
    """Whether a paid invoice is not the order's money: the first invoice is the order's
    total (its one-off items too), a renewal the sum of its Ignite prices. Another amount or
    currency books nothing, flags the order and raises an alert. An invoice of any other
    billing reason (a proration staff made in Stripe) has its currency checked only."""
    total, currency = order_state.money(conn, order_id)
    reason = invoice.get("billing_reason")
    if reason == "subscription_create":
        expected = total
    elif reason in (None, "subscription_cycle"):
        (expected,) = conn.execute(
            "SELECT coalesce(sum(unit_amount), 0) FROM order_items"
            " WHERE order_id = ? AND kind = 'ignite'",
            [order_id],
        ).fetchone()
    else:
        expected = None
    paid = invoice.get("amount_paid")
    paid = paid if isinstance(paid, int) and not isinstance(paid, bool) else None
    paid_currency = invoice.get("currency") if isinstance(invoice.get("currency"), str) else None
    if expected is None:
        problem = None if same_currency(paid_currency, currency) else (
            f"paid in {(paid_currency or 'no currency').upper()}, but the order is in"
            f" {currency.upper()}: wrong currency"
        )  # fmt: skip
    else:
        problem = payment_problem(expected, currency, paid, paid_currency)
    if problem is None:
        return False
    order_state.needs_attention(
        conn, order_id, ctx.now, when=("waiting", "in_progress", "fulfilled", "needs_attention"),
        reason=f"invoice {invoice.get('id')}: {problem}",
    )  # fmt: skip
    log_error(
        conn,
        category="payment",
        severity="critical",
        message=f"wrong invoice payment: {problem}. Its classes were not booked: refund it,"
        " or ask for the rest and book by hand",
        context={"invoice": invoice.get("id"), "billing_reason": reason, "expected": expected,
                 "currency": currency, "paid": paid, "paid_currency": paid_currency},
        order_id=order_id,
        stripe_event_id=ctx.event_id,
        now=ctx.now,
        dedupe_key=f"wrong-invoice:{invoice.get('id') or ctx.event_id}",
    )  # fmt: skip
    return True


def handle_invoice_payment_failed(conn, event, ctx: Context) -> None:
    invoice = event["data"]["object"]
    subscription_id, metadata = _invoice_subscription(invoice)
    order_id = ctx.order_id = _invoice_order(conn, invoice, subscription_id, metadata, ctx)
    if order_id is None:
        return
    log_error(
        conn,
        category="payment",
        severity="medium",
        message="an Ignite renewal payment failed; Stripe will retry it. The classes of the"
        " unpaid period are not booked until it is paid",
        context={"invoice": invoice.get("id"), "subscription": subscription_id},
        order_id=order_id,
        stripe_event_id=ctx.event_id,
        now=ctx.now,
        dedupe_key=f"invoice-failed:{invoice.get('id')}:{invoice.get('attempt_count')}",
    )

"""Money going back: refunds (partial and full) and disputes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from core.ownership import front_desk, has_marker, why_not_ours
from core.payments import PaymentFacts, dollars, refund_from
from fulfilment import payment_invoices
from fulfilment.context import Context, Deferred, NotOurs, PermanentFailure
from fulfilment.event_orders import (
    order_for,
    text_id,
)
from fulfilment.staff_actions import apply_item_refunds
from store import bookings, fulfilment_steps, holds, order_state, outbox, staff_refunds
from store.error_log import log_error
from store.inbox_archive import every_event

# How long a dispute of a payment nothing of ours names waits for Stripe to say which
# invoice it paid before it is flagged as it stands (with no order, when none is found).
LOOKUP_WAIT = timedelta(minutes=10)


def handle_charge_refunded(conn, event, ctx: Context) -> None:
    charge = event["data"]["object"]
    intent = text_id(charge.get("payment_intent"))
    invoice_order = staff_refunds.order_of_invoice_payment(conn, intent) if intent else None
    if invoice_order is not None:
        _invoice_refunded(conn, invoice_order, intent, charge, ctx)  # type: ignore[arg-type]
        return
    order_id, facts = order_for(conn, event, ctx, create=False)
    unmarked = order_id is None and not has_marker(charge)
    if (
        unmarked
        and ctx.shared
        and (front_desk(charge) or _payment_not_ours(conn, facts.payment_intent_id))
    ):
        raise NotOurs(why_not_ours(charge))
    if unmarked and intent and not front_desk(charge):
        # A refund made in Stripe's Dashboard of an Ignite invoice's payment names no
        # invoice and no order: which invoice it paid is asked of Stripe once.
        found = payment_invoices.match(conn, intent, ctx)
        if found is not None and found.asking:
            raise Deferred(payment_invoices.ASKING, intent, marked=False)
        if found is not None and found.order_id is not None:
            _invoice_refunded(conn, found.order_id, intent, charge, ctx)
            return
        if found is not None and found.waiting_for is not None:
            raise Deferred(
                f"a refund of invoice {found.invoice_id}'s payment, of subscription"
                f" {found.waiting_for}: waiting for that subscription's order",
                found.waiting_for,
            )  # fmt: skip
        if found is not None and ctx.shared and found.invoice_id is not None:
            # An invoice not ours: our checkouts make no invoice of no subscription. A
            # payment of no invoice may still be a checkout's whose payment is late: it
            # waits for it below, as without lookups.
            raise NotOurs(f"{why_not_ours(charge)}; {found.reason}")
    status = order_state.payment_status(conn, order_id) if order_id else None
    if status not in ("paid", "partially_refunded", "refunded", "disputed"):
        # Woken when the payment's order is recorded; in a shared account, a refund without
        # a marker of ours whose payment never comes ends as not ours.
        raise Deferred(
            "refund for a payment not recorded yet", facts.payment_intent_id,
            marked=order_id is not None or has_marker(charge),
        )  # fmt: skip
    refund = refund_from(charge)
    if refund is None:
        raise PermanentFailure("charge.refunded without amount and amount_refunded")
    order_state.record_refund(conn, order_id, refund.amount_refunded, ctx.event_id, ctx.now)
    if not refund.full:
        order_state.advance_payment_status(conn, order_id, "partially_refunded", ctx.now)
        # Refunds staff asked for (by item) that this total now covers cancel their items.
        covered = staff_refunds.apply_covered(conn, order_id, refund.amount_refunded, ctx.now)
        if covered:
            apply_item_refunds(conn, order_id, covered, ctx.catalog, ctx.now)
            return
        # Every further partial refund is flagged too; a redelivery of one is not.
        log_error(
            conn,
            category="payment",
            severity="medium",
            message=f"partial refund of {dollars(refund.amount_refunded, refund.currency)} of"
            f" {dollars(refund.charge_amount, refund.currency)}:"
            " bookings kept; check whether any should be cancelled",
            order_id=order_id,
            stripe_event_id=ctx.event_id,
            now=ctx.now,
            dedupe_key=f"partial-refund:{order_id}:{refund.amount_refunded}",
        )
        return
    staff_refunds.apply_all(conn, order_id, ctx.now)
    if order_state.advance_payment_status(conn, order_id, "refunded", ctx.now):
        cancel_order(conn, order_id, ctx.now)


def _invoice_refunded(
    conn, order_id: str, intent: str, charge: dict[str, Any], ctx: Context
) -> None:
    """A refund of an Ignite invoice's payment, that staff asked for or that was made in
    Stripe's Dashboard: counted against that payment (the order's other invoices are
    untouched), once by Stripe's running total; the items of a staff refund have their
    bookings (the classes to come of an enrolment) cancelled once; a refund made in Stripe
    keeps every class and is flagged for staff. The order is partially refunded, never
    cancelled as a whole: ending the subscription is Stripe's `customer.subscription.*`."""
    ctx.order_id = order_id
    refund = refund_from(charge)
    if refund is None:
        raise PermanentFailure("charge.refunded without amount and amount_refunded")
    rise = order_state.record_invoice_refund(
        conn, order_id, intent, refund.amount_refunded, ctx.event_id, ctx.now
    )
    order_state.advance_payment_status(conn, order_id, "partially_refunded", ctx.now)
    covered = staff_refunds.apply_covered(
        conn, order_id, refund.amount_refunded, ctx.now, payment_intent_id=intent
    )
    if covered:
        apply_item_refunds(conn, order_id, covered, ctx.catalog, ctx.now)
    elif rise:
        log_error(
            conn,
            category="payment",
            severity="medium",
            message=f"refund of {dollars(rise, refund.currency)} of an Ignite invoice's"
            f" {dollars(refund.charge_amount, refund.currency)} made in Stripe, not here:"
            " classes kept; check whether any class should be cancelled",
            order_id=order_id,
            stripe_event_id=ctx.event_id,
            now=ctx.now,
            dedupe_key=f"partial-refund:{order_id}:{intent}:{refund.amount_refunded}",
        )


def _payment_not_ours(conn, payment_intent_id: str | None) -> bool:
    """Whether the payment was already recorded as not ours (its payment_intent.succeeded,
    archived if it came more than 35 days ago)."""
    if payment_intent_id is None:
        return False
    return bool(conn.execute(
        f"SELECT 1 FROM {every_event('object_id, not_ours')} WHERE object_id = ? AND not_ours"
        " LIMIT 1",
        [payment_intent_id],
    ).fetchone())  # fmt: skip


def queue_cancellation(
    conn: duckdb.DuckDBPyConnection, order_id: str, reason: str, now: datetime
) -> bool:
    """The family's copy of the order's events is cancelled: the order's calendar sequence
    goes up (every event in their next .ics carries a higher SEQUENCE, so calendar programs
    replace what they have) and the cancellation email goes into the outbox under
    `cancellation:<order>:<sequence>`. It is rendered when sent, with the cancelling .ics."""
    row = order_state.next_calendar_sequence(conn, order_id)
    if row is None or row[1] is None:
        return False
    sequence, email = row
    return outbox.enqueue(
        conn,
        dedupe_key=f"cancellation:{order_id}:{sequence}",
        channel="email",
        payload={"template": "cancellation", "reason": reason, "sequence": sequence},
        now=now,
        recipient=email,
        order_id=order_id,
    )


def cancel_order(conn: duckdb.DuckDBPyConnection, order_id: str, now: datetime) -> None:
    """Full refund: bookings cancelled, places freed, steps not yet run skipped; a family
    that had bookings gets the cancellation email."""
    cancelled = bookings.cancel_order_bookings(conn, order_id, now)
    if cancelled:
        queue_cancellation(conn, order_id, "refund", now)
    holds.release_all(conn, order_id)
    fulfilment_steps.skip_remaining(conn, order_id, now)
    order_state.cancel(conn, order_id, now)


def handle_charge_dispute_created(conn, event, ctx: Context) -> None:
    dispute = event["data"]["object"]
    facts = PaymentFacts(
        None, None, text_id(dispute.get("payment_intent")), None, None, None, None,
        dispute.get("amount"), dispute.get("currency"), {},
    )  # fmt: skip
    order_id = ctx.order_id = order_state.find_order(conn, facts)
    intent = facts.payment_intent_id
    if order_id is None and intent and not has_marker(dispute):
        # Perhaps an Ignite invoice's payment: which invoice it paid is asked of Stripe
        # once, waited for a short while only (the alert must not wait for Stripe).
        found = payment_invoices.match(conn, intent, ctx)
        if found is not None and found.asking and ctx.now - ctx.received_at < LOOKUP_WAIT:
            raise Deferred(payment_invoices.ASKING, intent, marked=False)
        if found is not None and found.order_id is not None:
            order_id = ctx.order_id = found.order_id
    if order_id is None and ctx.shared and not has_marker(dispute):
        raise NotOurs("not ours: a dispute of a payment of no order of ours")
    if order_id is not None:
        order_state.advance_payment_status(conn, order_id, "disputed", ctx.now)
    log_error(
        conn,
        category="payment",
        severity="critical",
        message=f"dispute opened ({dispute.get('reason') or 'no reason given'}) for"
        f" {dollars(_whole(dispute.get('amount')), dispute.get('currency'))}"
        f"{_deadline(dispute)}:"
        " respond in Stripe before the deadline",
        context={"dispute": dispute.get("id"), "charge": dispute.get("charge")},
        order_id=order_id,
        stripe_event_id=ctx.event_id,
        now=ctx.now,
        dedupe_key=f"dispute:{dispute.get('id') or ctx.event_id}",
    )


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _deadline(dispute: dict[str, Any]) -> str:
    """`, evidence due 12 Jan 2027 10:59 UTC`: Stripe's deadline for the evidence, if given."""
    due = (dispute.get("evidence_details") or {}).get("due_by")
    if not isinstance(due, int) or isinstance(due, bool):
        return ""
    return f", evidence due {datetime.fromtimestamp(due, UTC):%d %b %Y %H:%M} UTC"

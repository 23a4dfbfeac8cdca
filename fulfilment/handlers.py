"""Fulfilment: Stripe events applied to orders, and the steps that turn a paid order into
bookings and calendar events (SPEC §4, §5).

Every function here is a write function (connection first, no commit) run by the store's
single writer, so each event and each step is applied in one transaction together with
the row that records it as done: a crash before the commit leaves nothing behind, and the
worker simply runs it again. What must happen once is guarded by unique keys:
`fulfilment_steps (order_id, step)`, `events.slot_key`, `bookings (order_item_id,
event_id)`, `holds.order_item_id`, `error_log.dedupe_key`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from core.cart import InvalidCart
from core.cart_metadata import parse_metadata_cart
from core.catalog import Catalog
from core.checkout import hold_options
from core.payments import (
    PaymentFacts,
    amount_paid,
    facts_from,
    has_cart,
    moves_forward,
    payment_problem,
    refund_from,
    same_currency,
)
from core.schedule import (
    ScheduleError,
    camp_event,
    ignite_classes_in_period,
    party_event,
    template_id,
)
from store import orders, outbox
from store.error_log import log_error


class Deferred(Exception):
    """The event cannot be applied yet (a refund for a payment not seen yet): try later.
    The transaction still commits, with the deferral recorded, so a handler raises it only
    when what it has written so far is complete on its own (linking ids, say)."""


DEFER_DELAY = timedelta(seconds=2)
DEFER_FOR = timedelta(hours=24)  # then the event is failed, with an error-log entry
# How long a PaymentIntent without order id or cart waits for its subscription order to be
# linked before it is taken for a payment without a cart (a needs-attention order).
SUBSCRIPTION_LINK_WAIT = timedelta(minutes=10)


class PermanentFailure(Exception):
    """Retrying cannot help (the catalog no longer has the product): fail at once."""


# --- finding and creating orders -----------------------------------------------------------


def _find_order(conn: duckdb.DuckDBPyConnection, facts: PaymentFacts) -> str | None:
    for column, value in (
        ("order_id", facts.order_id),
        ("checkout_session_id", facts.checkout_session_id),
        ("payment_intent_id", facts.payment_intent_id),
        ("subscription_id", facts.subscription_id),
    ):
        if value:
            row = conn.execute(
                f"SELECT order_id FROM orders WHERE {column} = ?", [value]
            ).fetchone()
            if row:
                return row[0]
    return None


def _order_from_metadata(
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
    conn.execute(
        "INSERT INTO orders (order_id, source, mode, payment_status, fulfillment_status,"
        " customer_email, customer_name, currency, amount_total, kinds, attention_reason,"
        " created_at, updated_at)"
        " VALUES (?, 'metadata', ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            order_id,
            cart.mode if cart else "payment",
            "waiting" if cart else "needs_attention",
            cart.customer.email if cart else facts.email,
            cart.customer.name if cart else facts.name,
            (cart.currency if cart else facts.currency) or "aud",
            cart.amount_total if cart else (facts.amount or 0),
            orders.kinds_of(cart) if cart else None,
            "; ".join(problems) or None,
            now,
            now,
        ],
    )
    if cart is not None:
        student_ids = orders.insert_students(conn, order_id, cart)
        for item in cart.items:
            orders.insert_item(
                conn,
                order_id,
                f"{order_id}:{item.position}",
                item,
                student_ids[orders.student_key(item)],
                now,
            )
    else:
        log_error(
            conn,
            category="payment",
            severity="high",
            message="payment received without a usable cart: " + "; ".join(problems),
            context={"payment_intent": facts.payment_intent_id, "email": facts.email},
            order_id=order_id,
            stripe_event_id=event_id,
            now=now,
            dedupe_key=f"no-cart:{facts.payment_intent_id or event_id}",
        )
    return order_id


def _link(conn: duckdb.DuckDBPyConnection, order_id: str, facts: PaymentFacts) -> None:
    """Remember every Stripe id of the order's payment, so later events find it."""
    conn.execute(
        "UPDATE orders SET checkout_session_id = coalesce(checkout_session_id, ?),"
        " payment_intent_id = coalesce(payment_intent_id, ?),"
        " subscription_id = coalesce(subscription_id, ?),"
        " stripe_customer_id = coalesce(stripe_customer_id, ?) WHERE order_id = ?",
        [
            facts.checkout_session_id,
            facts.payment_intent_id,
            facts.subscription_id,
            facts.customer_id,
            order_id,
        ],
    )


# --- payment state -------------------------------------------------------------------------


def _payment_status(conn: duckdb.DuckDBPyConnection, order_id: str) -> str:
    return conn.execute(
        "SELECT payment_status FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()[0]


def _set_payment_status(
    conn: duckdb.DuckDBPyConnection, order_id: str, status: str, now: datetime
) -> bool:
    if not moves_forward(_payment_status(conn, order_id), status):
        return False
    conn.execute(
        "UPDATE orders SET payment_status = ?, updated_at = ? WHERE order_id = ?",
        [status, now, order_id],
    )
    return True


def _mark_paid(
    conn: duckdb.DuckDBPyConnection, order_id: str, facts: PaymentFacts, ctx: Context
) -> None:
    """Step 1, record payment, is this transaction; the other steps are queued behind it.
    A payment of another amount or currency than the order's is recorded as it is, on an
    order that needs attention (its other steps skipped), with a critical error-log entry,
    which raises an alert."""
    now = ctx.now
    if not _set_payment_status(conn, order_id, "paid", now):
        return  # already paid: the second of checkout.session.completed/payment_intent.succeeded
    total, currency = conn.execute(
        "SELECT amount_total, currency FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()
    problem = payment_problem(total, currency, facts.amount, facts.currency)
    # An order becomes paid once (state only moves forward), so the steps are inserted once;
    # their primary key would refuse a second set. (A plain INSERT costs DuckDB a third of
    # one with ON CONFLICT.)
    conn.execute(
        "UPDATE orders SET amount_paid = ?, paid_at = ?, fulfillment_status ="
        " CASE WHEN ? AND fulfillment_status IN ('waiting', 'in_progress')"
        " THEN 'needs_attention' WHEN fulfillment_status = 'waiting' THEN 'in_progress'"
        " ELSE fulfillment_status END,"
        " attention_reason = CASE WHEN ? THEN concat_ws('; ', attention_reason, ?)"
        " ELSE attention_reason END WHERE order_id = ?",
        [amount_paid(currency, facts.amount, facts.currency), now, problem is not None,
         problem is not None, problem, order_id],
    )  # fmt: skip
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
    attention = conn.execute(
        "SELECT fulfillment_status = 'needs_attention' FROM orders WHERE order_id = ?",
        [order_id],
    ).fetchone()[0]
    later = "skipped" if attention else "pending"
    conn.execute(
        "INSERT INTO fulfilment_steps (order_id, step, status, attempts, next_attempt_at,"
        " updated_at, finished_at, created_at)"
        " SELECT ?, s.step, CASE s.step WHEN 'record_payment' THEN 'done' ELSE ? END,"
        " CASE s.step WHEN 'record_payment' THEN 1 ELSE 0 END,"
        " CASE s.step WHEN 'create_bookings' THEN ?::TIMESTAMP END, ?,"
        " CASE s.step WHEN 'record_payment' THEN ?::TIMESTAMP END, ?"
        " FROM (VALUES ('record_payment'), ('create_bookings'), ('schedule_events'),"
        " ('send_confirmation'), ('notify_staff')) s(step)",
        [order_id, later, now, now, now, now],
    )


def _release_holds(conn: duckdb.DuckDBPyConnection, order_id: str) -> None:
    conn.execute(
        "UPDATE holds SET status = 'released' WHERE order_id = ? AND status = 'active'",
        [order_id],
    )


# --- event handlers ------------------------------------------------------------------------

Handler = Callable[[duckdb.DuckDBPyConnection, dict[str, Any], "Context"], None]


class Context:
    def __init__(
        self, catalog: Catalog, now: datetime, event_id: str, received_at: datetime
    ) -> None:
        self.catalog = catalog
        self.now = now
        self.event_id = event_id
        self.received_at = received_at
        self.order_id: str | None = None  # the order the event turned out to be about


def _order_for(
    conn, event: dict[str, Any], ctx: Context, create: bool
) -> tuple[str | None, PaymentFacts]:
    facts = facts_from(event["type"], event["data"]["object"])
    order_id = _find_order(conn, facts)
    if order_id is None and create:
        order_id = _order_from_metadata(conn, facts, ctx.catalog, ctx.event_id, ctx.now)
    if order_id is not None:
        _link(conn, order_id, facts)
    ctx.order_id = order_id
    return order_id, facts


def handle_checkout_session_completed(conn, event, ctx: Context) -> None:
    order_id, facts = _order_for(conn, event, ctx, create=True)
    # "unpaid" means a delayed method (BECS direct debit): wait for async_payment_succeeded.
    if event["data"]["object"].get("payment_status") in ("paid", "no_payment_required"):
        _mark_paid(conn, order_id, facts, ctx)


def handle_async_payment_succeeded(conn, event, ctx: Context) -> None:
    order_id, facts = _order_for(conn, event, ctx, create=True)
    _mark_paid(conn, order_id, facts, ctx)


def handle_async_payment_failed(conn, event, ctx: Context) -> None:
    order_id, _ = _order_for(conn, event, ctx, create=False)
    if order_id is None:
        raise Deferred("no order for this checkout session yet")
    if _set_payment_status(conn, order_id, "failed", ctx.now):
        _release_holds(conn, order_id)


def handle_checkout_session_expired(conn, event, ctx: Context) -> None:
    order_id, _ = _order_for(conn, event, ctx, create=False)
    if order_id is None:
        return  # a session we never made an order for: nothing held
    if _set_payment_status(conn, order_id, "expired", ctx.now):
        _release_holds(conn, order_id)


def handle_payment_intent_succeeded(conn, event, ctx: Context) -> None:
    facts = facts_from(event["type"], event["data"]["object"])
    if _find_order(conn, facts) is None and not facts.order_id and not has_cart(facts):
        # The PaymentIntent of a subscription invoice (an Ignite sign-up or renewal) carries
        # neither our order id nor a cart; invoice.paid books its classes. Its customer is
        # the subscription order's, once checkout.session.completed has been recorded.
        if facts.customer_id and _subscription_order_of_customer(conn, facts.customer_id):
            return
        if facts.customer_id and ctx.now - ctx.received_at < SUBSCRIPTION_LINK_WAIT:
            raise Deferred("waiting to see whether this pays a subscription invoice")
    order_id, facts = _order_for(conn, event, ctx, create=True)
    _mark_paid(conn, order_id, facts, ctx)


def _subscription_order_of_customer(conn, customer_id: str) -> str | None:
    row = conn.execute(
        "SELECT order_id FROM orders WHERE stripe_customer_id = ? AND mode = 'subscription'"
        " LIMIT 1",
        [customer_id],
    ).fetchone()
    return row[0] if row else None


def handle_payment_intent_payment_failed(conn, event, ctx: Context) -> None:
    order_id, _ = _order_for(conn, event, ctx, create=False)
    if order_id is None:
        return  # an attempt that never became an order: nothing to undo
    if not _set_payment_status(conn, order_id, "failed", ctx.now):
        log_error(
            conn,
            category="payment",
            severity="low",
            message="payment failure reported after the order was"
            f" {_payment_status(conn, order_id)}; recorded, not applied",
            order_id=order_id,
            stripe_event_id=ctx.event_id,
            now=ctx.now,
            dedupe_key=f"late-failure:{ctx.event_id}",
        )
    # Holds stay: the parent can retry within the same Checkout Session until it expires.


def handle_charge_refunded(conn, event, ctx: Context) -> None:
    charge = event["data"]["object"]
    order_id, _ = _order_for(conn, event, ctx, create=False)
    status = _payment_status(conn, order_id) if order_id else None
    if status not in ("paid", "partially_refunded", "refunded", "disputed"):
        raise Deferred("refund for a payment not recorded yet")
    refund = refund_from(charge)
    if refund is None:
        raise PermanentFailure("charge.refunded without amount and amount_refunded")
    record_refund(conn, order_id, refund.amount_refunded, ctx.event_id, ctx.now)
    if not refund.full:
        _set_payment_status(conn, order_id, "partially_refunded", ctx.now)
        # Every further partial refund is flagged too; a redelivery of one is not.
        log_error(
            conn,
            category="payment",
            severity="medium",
            message=f"partial refund of {refund.amount_refunded} of {refund.charge_amount}:"
            " bookings kept; check whether any should be cancelled",
            order_id=order_id,
            stripe_event_id=ctx.event_id,
            now=ctx.now,
            dedupe_key=f"partial-refund:{order_id}:{refund.amount_refunded}",
        )
        return
    if _set_payment_status(conn, order_id, "refunded", ctx.now):
        cancel_order(conn, order_id, ctx.now)


def record_refund(
    conn: duckdb.DuckDBPyConnection, order_id: str, amount_refunded: int, event_id: str,
    now: datetime,
) -> None:  # fmt: skip
    """Raise the order's refunded total to Stripe's running `amount_refunded`, with a row in
    the refunds ledger for the rise (none for a redelivery or an older, smaller total)."""
    conn.execute(
        "INSERT INTO refunds (refund_key, order_id, amount, currency, stripe_event_id,"
        " refunded_at) SELECT order_id || ':' || CAST(? AS VARCHAR), order_id,"
        " ? - amount_refunded, currency, ?, ? FROM orders"
        # The total only rises, so a rise is new: its key cannot be in the ledger yet.
        " WHERE order_id = ? AND amount_refunded < ?",
        [amount_refunded, amount_refunded, event_id, now, order_id, amount_refunded],
    )
    conn.execute(
        "UPDATE orders SET amount_refunded = greatest(amount_refunded, ?) WHERE order_id = ?",
        [amount_refunded, order_id],
    )


def queue_cancellation(
    conn: duckdb.DuckDBPyConnection, order_id: str, reason: str, now: datetime
) -> bool:
    """The family's copy of the order's events is cancelled: the order's calendar sequence
    goes up (every event in their next .ics carries a higher SEQUENCE, so calendar programs
    replace what they have) and the cancellation email goes into the outbox under
    `cancellation:<order>:<sequence>`. It is rendered when sent, with the cancelling .ics."""
    row = conn.execute(
        "UPDATE orders SET calendar_sequence = coalesce(calendar_sequence, 0) + 1"
        " WHERE order_id = ? RETURNING calendar_sequence, customer_email",
        [order_id],
    ).fetchone()
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
    cancelled = conn.execute(
        "UPDATE bookings SET status = 'cancelled', updated_at = ? WHERE order_id = ?"
        " AND status <> 'cancelled' RETURNING booking_id",
        [now, order_id],
    ).fetchall()
    if cancelled:
        queue_cancellation(conn, order_id, "refund", now)
    conn.execute(
        "UPDATE holds SET status = 'released' WHERE order_id = ? AND status <> 'released'",
        [order_id],
    )
    conn.execute(
        "UPDATE fulfilment_steps SET status = 'skipped', updated_at = ?"
        " WHERE order_id = ? AND status IN ('pending', 'failed')",
        [now, order_id],
    )
    conn.execute(
        "UPDATE orders SET fulfillment_status = 'cancelled', updated_at = ? WHERE order_id = ?",
        [now, order_id],
    )


def handle_charge_dispute_created(conn, event, ctx: Context) -> None:
    dispute = event["data"]["object"]
    facts = PaymentFacts(
        None, None, _text_id(dispute.get("payment_intent")), None, None, None, None,
        dispute.get("amount"), dispute.get("currency"), {},
    )  # fmt: skip
    order_id = ctx.order_id = _find_order(conn, facts)
    if order_id is not None:
        _set_payment_status(conn, order_id, "disputed", ctx.now)
    log_error(
        conn,
        category="payment",
        severity="critical",
        message=f"dispute opened ({dispute.get('reason') or 'no reason given'}) for"
        f" {dispute.get('amount')} {dispute.get('currency')}:"
        " respond in Stripe before the deadline",
        context={"dispute": dispute.get("id"), "charge": dispute.get("charge")},
        order_id=order_id,
        stripe_event_id=ctx.event_id,
        now=ctx.now,
        dedupe_key=f"dispute:{dispute.get('id') or ctx.event_id}",
    )


def _text_id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


# --- Ignite: subscriptions and the classes of each paid period ----------------------------

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
    order_id = _find_order(conn, facts)
    if order_id is not None and subscription_id:
        _link(conn, order_id, facts)
    return order_id


def ensure_enrolments(
    conn: duckdb.DuckDBPyConnection,
    order_ids: list[str],
    subscription_id: str | None,
    now: datetime,
) -> None:
    """One enrolment per Ignite item of the orders (the unique item id keeps it one), made
    when the order is paid or a subscription event names it, whichever comes first."""
    conn.execute(
        "INSERT INTO enrolments (enrolment_id, order_id, order_item_id, student_id, product_id,"
        " subscription_id, status, updated_at)"
        " SELECT 'enr_' || i.order_item_id, i.order_id, i.order_item_id, i.student_id,"
        " i.product_id, ?, 'pending', ? FROM order_items i"
        " WHERE i.order_id IN (SELECT unnest(?)) AND i.kind = 'ignite' AND NOT EXISTS"
        " (SELECT 1 FROM enrolments e WHERE e.order_item_id = i.order_item_id)",
        [subscription_id, now, order_ids],
    )
    if subscription_id:
        conn.execute(
            "UPDATE enrolments SET subscription_id = ? WHERE subscription_id IS NULL"
            " AND order_id IN (SELECT unnest(?))",
            [subscription_id, order_ids],
        )


def _apply_subscription(conn, event: dict[str, Any], ctx: Context, deleted: bool) -> None:
    subscription = event["data"]["object"]
    metadata = (
        subscription.get("metadata") if isinstance(subscription.get("metadata"), dict) else {}
    )
    order_id = ctx.order_id = _subscription_order(conn, _text_id(subscription.get("id")), metadata)
    if order_id is None:
        raise Deferred("no order for this subscription yet")
    ensure_enrolments(conn, [order_id], _text_id(subscription.get("id")), ctx.now)
    status = "ended" if deleted else _ENROLMENT_STATUS.get(str(subscription.get("status")))
    if status is None:
        raise PermanentFailure(f"unknown subscription status {subscription.get('status')!r}")
    created = datetime.fromtimestamp(int(event["created"]), UTC).replace(tzinfo=None)
    # Stripe's `created` has one-second resolution: at a tie, ending wins.
    changed = conn.execute(
        "UPDATE enrolments SET status = ?, status_event_created = ?, updated_at = ?,"
        " started_at = CASE WHEN ? = 'active' THEN coalesce(started_at, ?) ELSE started_at END,"
        " ended_at = CASE WHEN ? = 'ended' THEN coalesce(ended_at, ?) ELSE ended_at END"
        " WHERE order_id = ? AND status <> 'ended' AND (status_event_created IS NULL"
        " OR status_event_created < ? OR (status_event_created = ? AND ? = 'ended'))"
        " RETURNING enrolment_id",
        [status, created, ctx.now, status, ctx.now, status, ctx.now, order_id, created,
         created, status],
    ).fetchall()  # fmt: skip
    if changed and status == "ended":
        _end_enrolments(conn, order_id, ctx.now)


def _end_enrolments(conn, order_id: str, now: datetime) -> None:
    """Subscription over: classes still to come are cancelled, the place freed, and the
    family gets the cancellation email with their weekly series ended."""
    conn.execute(
        "UPDATE bookings SET status = 'cancelled', updated_at = ? WHERE order_id = ?"
        " AND enrolment_id IS NOT NULL AND status <> 'cancelled' AND event_id IN"
        " (SELECT event_id FROM events WHERE starts_at > ?)",
        [now, order_id, now],
    )
    conn.execute(
        "UPDATE holds SET status = 'released' WHERE order_id = ? AND resource_key LIKE 'ignite:%'",
        [order_id],
    )
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
        return _text_id(details.get("subscription")), metadata
    return _text_id(invoice.get("subscription")), {}


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
    if subscription_id is None:
        return  # not a subscription invoice: nothing of ours
    order_id = ctx.order_id = _subscription_order(conn, subscription_id, metadata)
    if order_id is None:
        raise Deferred("no order for this subscription yet")
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
        booked = conn.execute(
            "INSERT INTO enrolment_periods (invoice_id, enrolment_id, period_start, period_end,"
            " amount_paid, paid_at) SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS"
            " (SELECT 1 FROM enrolment_periods WHERE invoice_id = ?) RETURNING invoice_id",
            [f"{_text_id(invoice.get('id'))}:{enrolment_id}", enrolment_id,
             period[0].replace(tzinfo=None), period[1].replace(tzinfo=None),
             invoice.get("amount_paid") or 0, ctx.now,
             f"{_text_id(invoice.get('id'))}:{enrolment_id}"],
        ).fetchall()  # fmt: skip
        if not booked:
            continue  # this invoice's classes are already booked
        try:
            classes = ignite_classes_in_period(ctx.catalog, product_id, period[0], period[1])
        except (KeyError, ScheduleError) as exc:
            raise PermanentFailure(f"enrolment {enrolment_id}: {exc}") from None
        for planned in classes:
            event_id = upsert_event(conn, planned, ctx.now)
            conn.execute(
                "INSERT INTO bookings (booking_id, order_id, order_item_id, student_id, event_id,"
                " enrolment_id, status, created_at, updated_at)"
                " SELECT ?, ?, ?, ?, ?, ?, 'confirmed', ?, ? WHERE NOT EXISTS (SELECT 1 FROM"
                " bookings WHERE order_item_id = ? AND event_id = ?)",
                [orders.new_id("bkg"), order_id, item_id, student_id, event_id, enrolment_id,
                 ctx.now, ctx.now, item_id, event_id],
            )  # fmt: skip
        conn.execute(
            "UPDATE enrolments SET current_period_start = ?, current_period_end = ?,"
            " updated_at = ? WHERE enrolment_id = ?",
            [period[0].replace(tzinfo=None), period[1].replace(tzinfo=None), ctx.now,
             enrolment_id],
        )  # fmt: skip


def _wrong_invoice(conn, order_id: str, invoice: dict[str, Any], ctx: Context) -> bool:
    """Whether a paid invoice is not the order's money: the first invoice is the order's
    total (its one-off items too), a renewal the sum of its Ignite prices. Another amount or
    currency books nothing, flags the order and raises an alert. An invoice of any other
    billing reason (a proration staff made in Stripe) has its currency checked only."""
    total, currency = conn.execute(
        "SELECT amount_total, currency FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()
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
    conn.execute(
        "UPDATE orders SET fulfillment_status = 'needs_attention', updated_at = ?,"
        " attention_reason = concat_ws('; ', attention_reason, ?) WHERE order_id = ?"
        " AND fulfillment_status <> 'cancelled'",
        [ctx.now, f"invoice {invoice.get('id')}: {problem}", order_id],
    )
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
    if subscription_id is None:
        return
    order_id = ctx.order_id = _subscription_order(conn, subscription_id, metadata)
    if order_id is None:
        raise Deferred("no order for this subscription yet")
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


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": handle_checkout_session_completed,
    "checkout.session.async_payment_succeeded": handle_async_payment_succeeded,
    "checkout.session.async_payment_failed": handle_async_payment_failed,
    "checkout.session.expired": handle_checkout_session_expired,
    "payment_intent.succeeded": handle_payment_intent_succeeded,
    "payment_intent.payment_failed": handle_payment_intent_payment_failed,
    "charge.refunded": handle_charge_refunded,
    "charge.dispute.created": handle_charge_dispute_created,
    "invoice.paid": handle_invoice_paid,
    "invoice.payment_failed": handle_invoice_payment_failed,
    "customer.subscription.created": handle_subscription_created_or_updated,
    "customer.subscription.updated": handle_subscription_created_or_updated,
    "customer.subscription.deleted": handle_subscription_deleted,
}


def handle_event(
    conn: duckdb.DuckDBPyConnection,
    event_id: str,
    catalog: Catalog,
    now: datetime,
    livemode: bool,
) -> str:
    """Apply one stored event and mark it processed, in the same transaction. `livemode` is
    the mode of our Stripe key: an event of the other mode is refused (`wrong_mode`)."""
    row = conn.execute(
        "SELECT type, payload, status, received_at, livemode FROM webhook_inbox WHERE event_id = ?",
        [event_id],
    ).fetchone()
    if row is None or row[2] in ("processed", "ignored"):
        return "already"
    event_type, payload, _, received_at, event_livemode = row
    handler = HANDLERS.get(event_type)
    order_id = None
    if handler is not None and event_livemode != livemode:
        return _refuse_mode(conn, event_id, event_type, payload, livemode, now)
    if handler is None:
        outcome = "ignored"  # a handled type whose handler is not written yet
    else:
        ctx = Context(catalog, now, event_id, received_at)
        try:
            handler(conn, json.loads(payload), ctx)
        except Deferred as exc:
            # Recorded in this transaction rather than raised: a raise would roll back the
            # whole commit group and re-run every job in it alone.
            return _defer(conn, event_id, event_type, str(exc), now)
        outcome, order_id = "processed", ctx.order_id
    conn.execute(
        "UPDATE webhook_inbox SET status = ?, attempts = attempts + 1, processed_at = ?,"
        " last_error = NULL, next_attempt_at = NULL, order_id = coalesce(?, order_id)"
        " WHERE event_id = ?",
        [outcome, now, order_id, event_id],
    )
    return outcome


def _refuse_mode(
    conn: duckdb.DuckDBPyConnection, event_id: str, event_type: str, payload: str,
    livemode: bool, now: datetime,
) -> str:  # fmt: skip
    """An event of the other mode than our key (a test-mode payment reaching the live
    shop, or the reverse) is applied to nothing: it is failed, with a critical error-log
    entry (an alert). The order it names, if any, is left as it was, so that a test-mode
    event cannot park a real order; staff can reprocess the event once the key is right."""
    body = json.loads(payload)
    obj = body.get("data", {}).get("object", {})
    order_id = _find_order(conn, facts_from(event_type, obj)) if isinstance(obj, dict) else None
    reason = (
        "a live-mode event, but this sidecar runs in test mode (STRIPE_SECRET_KEY is a test"
        " key, or unset)"
        if not livemode
        else "a test-mode event, but this sidecar runs in live mode (STRIPE_SECRET_KEY is a"
        " live key)"
    )
    conn.execute(
        "UPDATE webhook_inbox SET status = 'failed', attempts = attempts + 1, last_error = ?,"
        " next_attempt_at = NULL, order_id = coalesce(?, order_id) WHERE event_id = ?",
        [f"wrong mode: {reason}; not applied", order_id, event_id],
    )
    log_error(
        conn,
        category="payment",
        severity="critical",
        message=f"Stripe event {event_type} refused: {reason}. Nothing was applied. Check"
        " who sent it; if the key is wrong, fix STRIPE_SECRET_KEY and reprocess the event",
        context={"event_livemode": not livemode, "key_livemode": livemode},
        order_id=order_id,
        stripe_event_id=event_id,
        now=now,
        dedupe_key=f"wrong-mode:{event_id}",
    )
    return "wrong_mode"


def _defer(
    conn: duckdb.DuckDBPyConnection, event_id: str, event_type: str, reason: str, now: datetime
) -> str:
    (received_at,) = conn.execute(
        "SELECT received_at FROM webhook_inbox WHERE event_id = ?", [event_id]
    ).fetchone()
    if now - received_at <= DEFER_FOR:
        conn.execute(
            "UPDATE webhook_inbox SET attempts = attempts + 1, last_error = ?,"
            " next_attempt_at = ? WHERE event_id = ?",
            [f"deferred: {reason}", now + DEFER_DELAY, event_id],
        )
        return "deferred"
    conn.execute(
        "UPDATE webhook_inbox SET status = 'failed', attempts = attempts + 1, last_error = ?,"
        " next_attempt_at = NULL WHERE event_id = ?",
        [f"gave up after {DEFER_FOR}: {reason}", event_id],
    )
    log_error(
        conn,
        category="payment",
        severity="high",
        message=f"Stripe event {event_type} waited {DEFER_FOR} and still could not be applied:"
        f" {reason}. Check the payment in Stripe, then reprocess it or resolve this entry",
        stripe_event_id=event_id,
        now=now,
        dedupe_key=f"gave-up:{event_id}",
    )
    return "failed"


# --- steps ---------------------------------------------------------------------------------


def create_bookings(conn, order_id: str, catalog: Catalog, now: datetime) -> None:
    """Turn each item's hold into a taken place; a lapsed hold takes a place again if one is
    free. An item that finds none is left for `schedule_events` to book as a conflict."""
    ensure_enrolments(conn, [order_id], None, now)
    items = conn.execute(
        "SELECT i.order_item_id, i.product_id, i.item_date, i.start_time, h.hold_id,"
        " h.status, h.expires_at FROM order_items i LEFT JOIN holds h"
        " ON h.order_item_id = i.order_item_id WHERE i.order_id = ? ORDER BY i.position",
        [order_id],
    ).fetchall()
    for item_id, product_id, day, start, hold_id, status, expires_at in items:
        if status == "converted":
            continue
        if status == "active" and expires_at > now:
            conn.execute("UPDATE holds SET status = 'converted' WHERE hold_id = ?", [hold_id])
            continue
        try:
            options = hold_options(catalog, product_id, day, orders.stored_time(start))
        except (KeyError, ScheduleError) as exc:
            raise PermanentFailure(f"item {item_id}: {exc}") from None
        for key, capacity in options:
            if orders.places_used(conn, key, now) + 1 <= capacity:
                if hold_id is None:
                    conn.execute(
                        "INSERT INTO holds (hold_id, order_id, order_item_id, resource_key,"
                        " seats, status, expires_at, created_at)"
                        " VALUES (?, ?, ?, ?, 1, 'converted', ?, ?)",
                        [orders.new_id("hold"), order_id, item_id, key, now, now],
                    )
                else:
                    conn.execute(
                        "UPDATE holds SET status = 'converted', resource_key = ? WHERE hold_id = ?",
                        [key, hold_id],
                    )
                break


def schedule_events(conn, order_id: str, catalog: Catalog, now: datetime) -> None:
    """Make sure each item's event exists (once, by slot key) and book the student into it:
    confirmed with a taken place, otherwise a conflict for staff to resolve. The step runs
    once, in one transaction, so each booking is inserted once (its unique key backs that)."""
    items = conn.execute(
        "SELECT i.order_item_id, i.product_id, i.kind, i.item_date, i.session, i.start_time,"
        " i.student_id, h.status, h.resource_key FROM order_items i LEFT JOIN holds h"
        " ON h.order_item_id = i.order_item_id WHERE i.order_id = ? ORDER BY i.position",
        [order_id],
    ).fetchall()
    conflicts = 0
    for item_id, product_id, kind, day, session, start, student_id, status, key in items:
        if kind == "ignite":
            continue  # classes are booked per paid period, by invoice.paid
        try:
            if kind == "camp":
                planned = camp_event(catalog, product_id, day, session)
            else:
                room = key.split(":")[2] if key else catalog.product(product_id).rooms[0]
                planned = party_event(catalog, product_id, day, orders.stored_time(start), room)
        except (KeyError, ScheduleError) as exc:
            raise PermanentFailure(f"item {item_id}: {exc}") from None
        event_id = upsert_event(conn, planned, now)
        booking_status = "confirmed" if status == "converted" else "conflict"
        conn.execute(
            "INSERT INTO bookings (booking_id, order_id, order_item_id, student_id, event_id,"
            " status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                orders.new_id("bkg"),
                order_id,
                item_id,
                student_id,
                event_id,
                booking_status,
                now,
                now,
            ],
        )
        if booking_status == "conflict":
            conflicts += 1
            log_error(
                conn,
                category="booking",
                severity="high",
                message=f"{planned.title} on {planned.local_date} was full when the payment"
                " arrived (the hold had lapsed): add a place, move the booking or refund",
                context={"order_item": item_id, "slot": planned.slot_key},
                order_id=order_id,
                step="schedule_events",
                now=now,
                dedupe_key=f"conflict:{item_id}",
            )
    if conflicts:
        conn.execute(
            "UPDATE orders SET fulfillment_status = 'needs_attention', updated_at = ?"
            " WHERE order_id = ? AND fulfillment_status = 'in_progress'",
            [now, order_id],
        )


def upsert_event(conn: duckdb.DuckDBPyConnection, planned: Any, now: datetime) -> str:
    """The event for a slot, created the first time it is needed (slot_key is unique)."""
    row = conn.execute(
        "SELECT event_id FROM events WHERE slot_key = ?", [planned.slot_key]
    ).fetchone()
    if row:
        return row[0]
    event_id = orders.new_id("cal")
    conn.execute(
        "INSERT INTO events (event_id, slot_key, kind, product_id, title, venue_id, room_id,"
        " starts_at, ends_at, capacity, status, template_id, uid, sequence, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'scheduled', ?, ?, 0, ?, ?)",
        [
            event_id,
            planned.slot_key,
            planned.kind,
            planned.product_id,
            planned.title,
            planned.venue_id,
            planned.room_id,
            planned.starts_at_naive_utc,
            planned.ends_at_naive_utc,
            planned.capacity,
            template_id(planned.product_id) if planned.kind == "ignite" else None,
            planned.uid,
            now,
            now,
        ],
    )
    return event_id


def queue_confirmations(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], now: datetime
) -> None:
    """The send_confirmation step: the confirmation email goes into the outbox (once per
    order, by its key). The email is rendered when it is sent, from the order as it stands
    then, with its calendar file attached."""
    conn.execute(
        "INSERT INTO outbox (message_id, dedupe_key, channel, order_id, recipient, payload,"
        " status, attempts, next_attempt_at, created_at)"
        " SELECT 'msg_conf_' || o.order_id, 'confirmation:' || o.order_id, 'email', o.order_id,"
        " o.customer_email, '{\"template\": \"confirmation\"}', 'pending', 0, ?, ?"
        " FROM orders o WHERE o.order_id IN (SELECT unnest(?)) AND o.customer_email IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM outbox m"
        " WHERE m.dedupe_key = 'confirmation:' || o.order_id)",
        [now, now, order_ids],
    )


def resend_confirmation(conn: duckdb.DuckDBPyConnection, order_id: str, now: datetime) -> str:
    """Staff's resend: the confirmation again, as the order stands now. One resend at a time
    (a double click queues one), under `confirmation:<order>:resend:<n>`. Answers `queued`,
    `not_found`, `no_email`, `not_confirmed` (nothing booked yet) or `pending` (one is
    already waiting to go)."""
    row = conn.execute(
        "SELECT customer_email, fulfillment_status FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()
    if row is None:
        return "not_found"
    if row[0] is None:
        return "no_email"
    booked = (
        conn.execute("SELECT count(*) FROM bookings WHERE order_id = ?", [order_id]).fetchone()[0]
        + conn.execute("SELECT count(*) FROM enrolments WHERE order_id = ?", [order_id]).fetchone()[
            0
        ]
    )
    if not booked:
        return "not_confirmed"
    pending, sent = conn.execute(
        "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FROM outbox"
        " WHERE order_id = ? AND (dedupe_key = 'confirmation:' || order_id"
        " OR dedupe_key LIKE 'confirmation:' || order_id || ':resend:%')",
        [order_id],
    ).fetchone()
    if pending:
        return "pending"
    queued = outbox.enqueue(
        conn,
        dedupe_key=f"confirmation:{order_id}:resend:{sent}",
        channel="email",
        payload={"template": "confirmation"},
        now=now,
        recipient=row[0],
        order_id=order_id,
    )
    return "queued" if queued else "pending"


def send_confirmation(conn, order_id: str, catalog: Catalog, now: datetime) -> None:
    queue_confirmations(conn, [order_id], now)


def queue_staff_notices(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], catalog: Catalog, now: datetime
) -> None:
    """The notify_staff step, the last: a Slack message per order, with counts and product
    names only (no child's name or notes ever leaves for Slack); the order is fulfilled."""
    conn.execute(
        "UPDATE orders SET fulfillment_status = 'fulfilled', updated_at = ?"
        " WHERE order_id IN (SELECT unnest(?)) AND fulfillment_status = 'in_progress'",
        [now, order_ids],
    )
    rows = conn.execute(
        "SELECT o.order_id, o.amount_total, o.currency, i.product_id, count(*) FROM orders o"
        " JOIN order_items i ON i.order_id = o.order_id WHERE o.order_id IN (SELECT unnest(?))"
        " GROUP BY ALL ORDER BY 1, 4",
        [order_ids],
    ).fetchall()
    lines: dict[str, list[str]] = {}
    totals: dict[str, str] = {}
    for order_id, amount, currency, product_id, count in rows:
        product = catalog.products.get(product_id)
        lines.setdefault(order_id, []).append(
            f"{product.name if product else product_id} x {count}"
        )
        totals[order_id] = f"{amount / 100:,.2f} {currency.upper()}"
    keys = [order_id for order_id in order_ids if order_id in lines]
    if not keys:
        return
    conn.execute(
        "INSERT INTO outbox (message_id, dedupe_key, channel, order_id, payload, status,"
        " attempts, next_attempt_at, created_at)"
        " SELECT 'msg_staff_' || n.id, 'staff:' || n.id, 'slack', n.id, n.payload, 'pending', 0,"
        " ?, ? FROM (SELECT unnest(?) AS id, unnest(?) AS payload) n WHERE NOT EXISTS"
        " (SELECT 1 FROM outbox m WHERE m.dedupe_key = 'staff:' || n.id)",
        [now, now, keys,
         [json.dumps({"text": f"New booking {k}: " + ", ".join(lines[k]) + f" ({totals[k]})"})
          for k in keys]],
    )  # fmt: skip


def notify_staff(conn, order_id: str, catalog: Catalog, now: datetime) -> None:
    queue_staff_notices(conn, [order_id], catalog, now)


STEP_FUNCTIONS: dict[str, Callable[..., None]] = {
    "create_bookings": create_bookings,
    "schedule_events": schedule_events,
    "send_confirmation": send_confirmation,
    "notify_staff": notify_staff,
}
NEXT_STEP = {
    "create_bookings": "schedule_events",
    "schedule_events": "send_confirmation",
    "send_confirmation": "notify_staff",
}


def run_step(
    conn: duckdb.DuckDBPyConnection, order_id: str, step: str, catalog: Catalog, now: datetime
) -> str:
    """Run a due step and mark it done (queueing the next), in the same transaction."""
    row = conn.execute(
        "SELECT status FROM fulfilment_steps WHERE order_id = ? AND step = ?", [order_id, step]
    ).fetchone()
    if row is None or row[0] in ("done", "skipped"):
        return "already"
    STEP_FUNCTIONS[step](conn, order_id, catalog, now)
    conn.execute(
        "UPDATE fulfilment_steps SET status = 'done', attempts = attempts + 1,"
        " next_attempt_at = NULL, last_error = NULL, updated_at = ?, finished_at = ?"
        " WHERE order_id = ? AND step = ?",
        [now, now, order_id, step],
    )
    if step in NEXT_STEP:
        conn.execute(
            "UPDATE fulfilment_steps SET next_attempt_at = ?, updated_at = ?"
            " WHERE order_id = ? AND step = ? AND status = 'pending'",
            [now, now, order_id, NEXT_STEP[step]],
        )
    return "done"

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
from datetime import datetime, time, timedelta
from typing import Any

import duckdb

from core.cart import InvalidCart, parse_metadata_cart
from core.catalog import Catalog
from core.checkout import hold_options
from core.payments import PaymentFacts, facts_from, moves_forward, refund_from
from core.schedule import ScheduleError, camp_event, party_event
from core.store import orders
from core.store.error_log import log_error

STEPS = ("record_payment", "create_bookings", "schedule_events")


class Deferred(Exception):
    """The event cannot be applied yet (a refund for a payment not seen yet): try later.
    Raised only before a handler has written anything."""


DEFER_DELAY = timedelta(seconds=2)


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
        " customer_email, customer_name, currency, amount_total, attention_reason,"
        " created_at, updated_at) VALUES (?, 'metadata', ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            order_id,
            cart.mode if cart else "payment",
            "waiting" if cart else "needs_attention",
            cart.customer.email if cart else facts.email,
            cart.customer.name if cart else facts.name,
            (cart.currency if cart else facts.currency) or "aud",
            cart.amount_total if cart else (facts.amount or 0),
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
                student_ids[orders._student_key(item)],
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
    conn: duckdb.DuckDBPyConnection, order_id: str, facts: PaymentFacts, now: datetime
) -> None:
    """Step 1, record payment, is this transaction; the other steps are queued behind it."""
    if not _set_payment_status(conn, order_id, "paid", now):
        return  # already paid: the second of checkout.session.completed/payment_intent.succeeded
    conn.execute(
        "UPDATE orders SET amount_paid = coalesce(?, amount_total), paid_at = ?,"
        " fulfillment_status = CASE fulfillment_status WHEN 'waiting' THEN 'in_progress'"
        " ELSE fulfillment_status END WHERE order_id = ?",
        [facts.amount, now, order_id],
    )
    attention = conn.execute(
        "SELECT fulfillment_status = 'needs_attention' FROM orders WHERE order_id = ?",
        [order_id],
    ).fetchone()[0]
    later = "skipped" if attention else "pending"
    conn.execute(
        "INSERT INTO fulfilment_steps (order_id, step, status, attempts, next_attempt_at,"
        " updated_at, finished_at) VALUES"
        " (?, 'record_payment', 'done', 1, NULL, ?, ?),"
        " (?, 'create_bookings', ?, 0, ?, ?, NULL),"
        " (?, 'schedule_events', ?, 0, NULL, ?, NULL)"
        " ON CONFLICT (order_id, step) DO NOTHING",
        [order_id, now, now, order_id, later, now, now, order_id, later, now],
    )


def _release_holds(conn: duckdb.DuckDBPyConnection, order_id: str) -> None:
    conn.execute(
        "UPDATE holds SET status = 'released' WHERE order_id = ? AND status = 'active'",
        [order_id],
    )


# --- event handlers ------------------------------------------------------------------------

Handler = Callable[[duckdb.DuckDBPyConnection, dict[str, Any], "Context"], None]


class Context:
    def __init__(self, catalog: Catalog, now: datetime, event_id: str) -> None:
        self.catalog = catalog
        self.now = now
        self.event_id = event_id


def _order_for(
    conn, event: dict[str, Any], ctx: Context, create: bool
) -> tuple[str | None, PaymentFacts]:
    facts = facts_from(event["type"], event["data"]["object"])
    order_id = _find_order(conn, facts)
    if order_id is None and create:
        order_id = _order_from_metadata(conn, facts, ctx.catalog, ctx.event_id, ctx.now)
    if order_id is not None:
        _link(conn, order_id, facts)
    return order_id, facts


def handle_checkout_session_completed(conn, event, ctx: Context) -> None:
    order_id, facts = _order_for(conn, event, ctx, create=True)
    # "unpaid" means a delayed method (BECS direct debit): wait for async_payment_succeeded.
    if event["data"]["object"].get("payment_status") in ("paid", "no_payment_required"):
        _mark_paid(conn, order_id, facts, ctx.now)


def handle_async_payment_succeeded(conn, event, ctx: Context) -> None:
    order_id, facts = _order_for(conn, event, ctx, create=True)
    _mark_paid(conn, order_id, facts, ctx.now)


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
    order_id, facts = _order_for(conn, event, ctx, create=True)
    _mark_paid(conn, order_id, facts, ctx.now)


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
    conn.execute(
        "UPDATE orders SET amount_refunded = greatest(amount_refunded, ?) WHERE order_id = ?",
        [refund.amount_refunded, order_id],
    )
    if not refund.full:
        if _set_payment_status(conn, order_id, "partially_refunded", ctx.now):
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


def cancel_order(conn: duckdb.DuckDBPyConnection, order_id: str, now: datetime) -> None:
    """Full refund: bookings cancelled, places freed, steps not yet run skipped."""
    conn.execute(
        "UPDATE bookings SET status = 'cancelled', updated_at = ? WHERE order_id = ?"
        " AND status <> 'cancelled'",
        [now, order_id],
    )
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
    order_id = _find_order(conn, facts)
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


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": handle_checkout_session_completed,
    "checkout.session.async_payment_succeeded": handle_async_payment_succeeded,
    "checkout.session.async_payment_failed": handle_async_payment_failed,
    "checkout.session.expired": handle_checkout_session_expired,
    "payment_intent.succeeded": handle_payment_intent_succeeded,
    "payment_intent.payment_failed": handle_payment_intent_payment_failed,
    "charge.refunded": handle_charge_refunded,
    "charge.dispute.created": handle_charge_dispute_created,
}


def handle_event(
    conn: duckdb.DuckDBPyConnection, event_id: str, catalog: Catalog, now: datetime
) -> str:
    """Apply one stored event and mark it processed, in the same transaction."""
    row = conn.execute(
        "SELECT type, payload, status FROM webhook_inbox WHERE event_id = ?", [event_id]
    ).fetchone()
    if row is None or row[2] in ("processed", "ignored"):
        return "already"
    event_type, payload, _ = row
    handler = HANDLERS.get(event_type)
    if handler is None:
        outcome = "ignored"  # a handled type whose handler is not written yet
    else:
        try:
            handler(conn, json.loads(payload), Context(catalog, now, event_id))
        except Deferred as exc:
            # Handlers raise Deferred before writing anything, so the transaction is
            # clean and the deferral is recorded in it (a raise would cost the whole group).
            conn.execute(
                "UPDATE webhook_inbox SET attempts = attempts + 1, last_error = ?,"
                " next_attempt_at = ? WHERE event_id = ?",
                [f"deferred: {exc}", now + DEFER_DELAY, event_id],
            )
            return "deferred"
        outcome = "processed"
    conn.execute(
        "UPDATE webhook_inbox SET status = ?, attempts = attempts + 1, processed_at = ?,"
        " last_error = NULL, next_attempt_at = NULL WHERE event_id = ?",
        [outcome, now, event_id],
    )
    return outcome


# --- steps ---------------------------------------------------------------------------------


def create_bookings(conn, order_id: str, catalog: Catalog, now: datetime) -> None:
    """Turn each item's hold into a taken place; a lapsed hold takes a place again if one is
    free. An item that finds none is left for `schedule_events` to book as a conflict."""
    items = conn.execute(
        "SELECT i.order_item_id, i.product_id, i.kind, i.item_date, i.start_time, h.hold_id,"
        " h.status, h.expires_at FROM order_items i LEFT JOIN holds h"
        " ON h.order_item_id = i.order_item_id WHERE i.order_id = ? ORDER BY i.position",
        [order_id],
    ).fetchall()
    for item_id, product_id, kind, day, start, hold_id, status, expires_at in items:
        if status == "converted":
            continue
        if status == "active" and expires_at > now:
            conn.execute("UPDATE holds SET status = 'converted' WHERE hold_id = ?", [hold_id])
            continue
        try:
            options = hold_options(catalog, product_id, day, _time(start))
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


def _time(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


def schedule_events(conn, order_id: str, catalog: Catalog, now: datetime) -> None:
    """Make sure each item's event exists (once, by slot key) and book the student into it:
    confirmed with a taken place, otherwise a conflict for staff to resolve."""
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
                planned = party_event(catalog, product_id, day, _time(start), room)
        except (KeyError, ScheduleError) as exc:
            raise PermanentFailure(f"item {item_id}: {exc}") from None
        event_id = upsert_event(conn, planned, now)
        booking_status = "confirmed" if status == "converted" else "conflict"
        conn.execute(
            "INSERT INTO bookings (booking_id, order_id, order_item_id, student_id, event_id,"
            " status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (order_item_id, event_id) DO NOTHING",
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
    conn.execute(
        "UPDATE orders SET fulfillment_status = ?, updated_at = ? WHERE order_id = ?"
        " AND fulfillment_status = 'in_progress'",
        ["needs_attention" if conflicts else "fulfilled", now, order_id],
    )


def upsert_event(conn: duckdb.DuckDBPyConnection, planned: Any, now: datetime) -> str:
    conn.execute(
        "INSERT INTO events (event_id, slot_key, kind, product_id, title, venue_id, room_id,"
        " starts_at, ends_at, capacity, status, uid, sequence, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'scheduled', ?, 0, ?, ?)"
        " ON CONFLICT (slot_key) DO NOTHING",
        [
            orders.new_id("cal"),
            planned.slot_key,
            planned.kind,
            planned.product_id,
            planned.title,
            planned.venue_id,
            planned.room_id,
            planned.starts_at_naive_utc,
            planned.ends_at_naive_utc,
            planned.capacity,
            planned.uid,
            now,
            now,
        ],
    )
    return conn.execute(
        "SELECT event_id FROM events WHERE slot_key = ?", [planned.slot_key]
    ).fetchone()[0]


STEP_FUNCTIONS: dict[str, Callable[..., None]] = {
    "create_bookings": create_bookings,
    "schedule_events": schedule_events,
}
NEXT_STEP = {"create_bookings": "schedule_events"}


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

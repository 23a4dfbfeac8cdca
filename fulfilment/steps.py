"""The steps that turn a paid order into bookings and calendar events, and tell the
family and staff: record_payment (done with the payment itself, see
`fulfilment.event_orders.mark_paid`), create_bookings, schedule_events, send_confirmation,
notify_staff. Each runs once, in one transaction with the row marking it done."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import duckdb

from core.catalog import Catalog
from core.checkout import hold_options
from core.payments import dollars
from core.schedule import ScheduleError, camp_event, party_event
from fulfilment.context import PermanentFailure
from store import bookings, fulfilment_steps, holds, order_state, orders, outbox
from store.capacity import with_overrides
from store.enrolments import ensure_enrolments
from store.error_log import log_error
from store.locks import skip_locked


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
            holds.convert(conn, hold_id)
            continue
        try:
            options = hold_options(catalog, product_id, day, orders.stored_time(start))
        except (KeyError, ScheduleError) as exc:
            raise PermanentFailure(f"item {item_id}: {exc}") from None
        for key, capacity in with_overrides(conn, options):
            if orders.places_used(conn, key, now) + 1 <= capacity:
                if hold_id is None:
                    holds.insert_converted(conn, orders.new_id("hold"), order_id, item_id, key, now)
                else:
                    holds.retake(conn, hold_id, key)
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
        event_id = bookings.upsert_event(conn, planned, now)
        booking_status = "confirmed" if status == "converted" else "conflict"
        bookings.insert_booking(conn, order_id, item_id, student_id, event_id, booking_status, now)
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
        order_state.needs_attention(conn, order_id, now)


def queue_confirmations(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], now: datetime
) -> None:
    """The send_confirmation step: the confirmation email goes into the outbox (once per
    order, by its key). The email is rendered when it is sent, from the order as it stands
    then, with its calendar file attached."""
    outbox.queue_confirmations(conn, order_ids, now)


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
    order_state.fulfilled(conn, order_ids, now)
    rows = conn.execute(
        "SELECT o.order_id, o.amount_total, o.currency, i.product_id, count(*) FROM orders o"
        " JOIN order_items i ON i.order_id = o.order_id WHERE o.order_id IN (SELECT unnest(?))"
        " GROUP BY o.order_id, o.amount_total, o.currency, i.product_id ORDER BY 1, 4",
        [order_ids],
    ).fetchall()
    lines: dict[str, list[str]] = {}
    totals: dict[str, str] = {}
    for order_id, amount, currency, product_id, count in rows:
        product = catalog.products.get(product_id)
        lines.setdefault(order_id, []).append(
            f"{product.name if product else product_id} x {count}"
        )
        totals[order_id] = dollars(amount, currency)
    keys = [order_id for order_id in order_ids if order_id in lines]
    if not keys:
        return
    payloads = [
        json.dumps({"text": f"New booking {k}: " + ", ".join(lines[k]) + f" ({totals[k]})"})
        for k in keys
    ]
    outbox.queue_staff_notices(conn, keys, payloads, now)


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
        "SELECT status FROM fulfilment_steps WHERE order_id = ? AND step = ?"
        + skip_locked(conn),  # another sidecar's transaction is running it: not here
        [order_id, step],
    ).fetchone()
    if row is None or row[0] in ("done", "skipped"):
        return "already"
    STEP_FUNCTIONS[step](conn, order_id, catalog, now)
    fulfilment_steps.finish(conn, order_id, step, NEXT_STEP.get(step), now)
    return "done"

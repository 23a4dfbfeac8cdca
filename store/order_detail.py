"""What staff read about one order: everything about it, looked up by its id or a Stripe id.

Every query is a read (cursor first); the order's rows are looked up by order id *and a
time bound*, as in `store/staff_reads.py`, so DuckDB skips every row group whose zonemap
lies outside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import duckdb

from core.vocabulary import STEPS
from store import staff_actions, staff_refunds
from store.staff_reads import STRIPE_ID_COLUMNS, items_of, query_dicts

_STEP_ORDER = "CASE step " + " ".join(f"WHEN '{s}' THEN {n}" for n, s in enumerate(STEPS)) + " END"
# An order made from a payment's metadata is made when the worker applies the payment,
# which was received before: its Stripe events are looked for from this long before.
_EVENT_GRACE = timedelta(days=1)


def resolve_order_id(conn: duckdb.DuckDBPyConnection, key: str) -> str | None:
    """An order by its id or the id of its Checkout Session, PaymentIntent or subscription,
    looked up in the one unique column that id can be in."""
    column = next((c for p, c in STRIPE_ID_COLUMNS.items() if key.startswith(p)), "order_id")
    row = conn.execute(f"SELECT order_id FROM orders WHERE {column} = ?", [key]).fetchone()
    return row[0] if row else None


def order_detail(conn: duckdb.DuckDBPyConnection, key: str) -> dict[str, Any] | None:
    """Everything about one order: its row, items, students, steps, bookings with their
    events, enrolments, paid invoices (an Ignite order's), messages, Stripe events and
    error-log entries."""
    order_id = resolve_order_id(conn, key)
    if order_id is None:
        return None
    (order,) = query_dicts(conn, "SELECT * FROM orders WHERE order_id = ?", [order_id])
    made = order["created_at"]
    items = [
        dict(zip(("order_item_id", "position", "product_id", "kind", "item_date", "session",
                  "start_time", "student_id", "unit_amount"), row, strict=True))
        for row in items_of(
            conn, {order_id: made}, "order_item_id, position, product_id, kind, item_date,"
            " session, start_time, student_id, unit_amount",
        )
    ]  # fmt: skip
    items.sort(key=lambda item: item["position"])
    # Every student of an order is some item's.
    student_ids = sorted({item["student_id"] for item in items})
    students = query_dicts(
        conn,
        "SELECT student_id, name, age, notes FROM students"
        " WHERE student_id IN (SELECT unnest(?)) ORDER BY name, student_id",
        [student_ids],
    ) if student_ids else []  # fmt: skip
    names = {s["student_id"]: s["name"] for s in students}
    for item in items:
        item["student"] = names.get(item.pop("student_id"))
    since = [order_id, made]
    steps = query_dicts(
        conn,
        "SELECT step, status, attempts, next_attempt_at, last_error, updated_at, finished_at"
        " FROM fulfilment_steps WHERE order_id = ? AND created_at = ?"
        f" ORDER BY {_STEP_ORDER}",
        [order_id, order["paid_at"]],
    ) if order["paid_at"] else []  # fmt: skip
    bookings = query_dicts(
        conn,
        "SELECT booking_id, student_id, status, event_id FROM bookings"
        " WHERE order_id = ? AND created_at >= ?",
        since,
    )
    _add_events(conn, bookings)
    for booking in bookings:
        booking["student"] = names.get(booking.pop("student_id"))
    bookings.sort(key=lambda b: (b["event"]["starts_at"] if b["event"] else datetime.max,
                                 b["student"] or ""))  # fmt: skip
    enrolments = query_dicts(
        conn,
        "SELECT enrolment_id, order_item_id, student_id, product_id, subscription_id, status,"
        " current_period_start, current_period_end, started_at, ended_at FROM enrolments"
        " WHERE order_id = ? AND updated_at >= ? ORDER BY order_item_id",
        since,
    )
    for enrolment in enrolments:
        enrolment["student"] = names.get(enrolment.pop("student_id"))
    messages = query_dicts(
        conn,
        "SELECT message_id, dedupe_key, channel, recipient, status, attempts, last_error,"
        " created_at, sent_at FROM outbox WHERE order_id = ? AND created_at >= ?"
        " ORDER BY created_at, message_id",
        since,
    )
    errors = query_dicts(
        conn,
        "SELECT error_id, dedupe_key, category, severity, message, context, order_id,"
        " stripe_event_id, step, created_at, resolved_at, resolved_by FROM error_log"
        " WHERE order_id = ? ORDER BY created_at, error_id",
        [order_id],
    )
    return {
        "order": order,
        "items": items,
        "students": students,
        "steps": steps,
        "bookings": bookings,
        "enrolments": enrolments,
        "invoices": staff_refunds.paid_invoices(conn, order_id),
        "messages": messages,
        "stripe_events": _stripe_events(conn, order),
        "errors": errors,
        "actions": staff_actions.of_order(conn, order_id),
    }


def _add_events(conn: duckdb.DuckDBPyConnection, bookings: Iterable[dict]) -> None:
    bookings = list(bookings)
    ids = sorted({b["event_id"] for b in bookings})
    events = {
        e["event_id"]: e
        for e in query_dicts(
            conn,
            "SELECT event_id, title, kind, starts_at, ends_at, venue_id, room_id FROM events"
            " WHERE event_id IN (SELECT unnest(?))",
            [ids],
        )
    } if ids else {}  # fmt: skip
    for booking in bookings:
        booking["event"] = events.get(booking.pop("event_id"))


def _stripe_events(conn: duckdb.DuckDBPyConnection, order: dict[str, Any]) -> list[dict]:
    """The order's Stripe events: those the worker applied to it (it records the order on
    each), and those about its Checkout Session, PaymentIntent or subscription that are
    not applied yet or failed. Both arrive once the order exists, or shortly before for an
    order made from a payment's metadata; the status filter lets DuckDB skip row groups of
    applied and ignored events."""
    columns = "event_id, type, status, received_at, processed_at, last_error"
    since = order["created_at"] - _EVENT_GRACE
    found = {
        e["event_id"]: e
        for e in query_dicts(
            conn,
            # Events finished long ago are in the inbox's archive (store/inbox_archive.py).
            f"SELECT {columns} FROM webhook_inbox WHERE received_at >= ? AND order_id = ?"
            f" UNION ALL SELECT {columns} FROM webhook_inbox_archive"
            " WHERE received_at >= ? AND order_id = ?",
            [since, order["order_id"], since, order["order_id"]],
        )
    }
    ids = [order[c] for c in STRIPE_ID_COLUMNS.values() if order[c]]
    if ids:
        for e in query_dicts(
            conn,
            f"SELECT {columns} FROM webhook_inbox WHERE received_at >= ?"
            " AND status IN ('received', 'processing', 'failed')"
            " AND object_id IN (SELECT unnest(?))",
            [since, ids],
        ):
            found[e["event_id"]] = e
    return sorted(found.values(), key=lambda e: (e["received_at"], e["event_id"]))

"""What a parent's "manage booking" page reads (sidecar/manage_booking.py): the order and
its camp and party bookings, each with its item's price and whether a refund of it is under
way. Reads only."""

from __future__ import annotations

from typing import Any

import duckdb

_BOOKING_COLUMNS = ("booking_id", "order_item_id", "student", "kind", "product_id", "title",
                    "starts_at", "ends_at", "status", "session", "unit_amount",
                    "refund_pending")  # fmt: skip


def manage_rows(conn: duckdb.DuckDBPyConnection, order_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT order_id, customer_name, customer_email, currency, payment_status,"
        " credit_amount FROM orders WHERE order_id = ?",
        [order_id],
    ).fetchone()
    if row is None:
        return None
    order = dict(zip(("order_id", "customer_name", "customer_email", "currency",
                      "payment_status", "credit_amount"), row, strict=True))  # fmt: skip
    bookings = conn.execute(
        "SELECT b.booking_id, b.order_item_id, s.name, e.kind, e.product_id, e.title,"
        " e.starts_at, e.ends_at, b.status, i.session, i.unit_amount,"
        " EXISTS (SELECT 1 FROM staff_refund_items r WHERE r.order_item_id = b.order_item_id)"
        " FROM bookings b JOIN events e ON e.event_id = b.event_id"
        " JOIN order_items i ON i.order_item_id = b.order_item_id"
        " JOIN students s ON s.student_id = b.student_id"
        " WHERE b.order_id = ? AND b.enrolment_id IS NULL ORDER BY e.starts_at, s.name",
        [order_id],
    ).fetchall()
    order["bookings"] = [dict(zip(_BOOKING_COLUMNS, b, strict=True)) for b in bookings]
    return order


def last_start(conn: duckdb.DuckDBPyConnection, order_id: str) -> Any:
    """When the order's last booked event starts (naive UTC), or None."""
    return conn.execute(
        "SELECT max(e.starts_at) FROM bookings b JOIN events e ON e.event_id = b.event_id"
        " WHERE b.order_id = ?",
        [order_id],
    ).fetchone()[0]

"""The staff_bookings and order_repairs tables' one writer: bookings staff took by phone
(how each is paid, by whom), and orders staff repaired by attaching their cart.

Every function runs in the caller's transaction (`conn`) on the store's single writer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb


def by_request(conn: duckdb.DuckDBPyConnection, request_key: str) -> str | None:
    """The order an earlier submit of the same request made, if any."""
    row = conn.execute(
        "SELECT order_id FROM staff_bookings WHERE request_key = ?", [request_key]
    ).fetchone()
    return row[0] if row else None


def record(
    conn: duckdb.DuckDBPyConnection, order_id: str, method: str, amount: int, currency: str,
    reference: str | None, request_key: str | None, by: str, now: datetime,
) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO staff_bookings (order_id, method, amount, currency, reference,"
        " request_key, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [order_id, method, amount, currency, reference, request_key, by, now],
    )


def of_order(conn: duckdb.DuckDBPyConnection, order_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT method, amount, currency, reference, created_by, created_at"
        " FROM staff_bookings WHERE order_id = ?",
        [order_id],
    ).fetchone()
    if row is None:
        return None
    names = ("method", "amount", "currency", "reference", "created_by", "created_at")
    return dict(zip(names, row, strict=True))


def record_repair(conn: duckdb.DuckDBPyConnection, order_id: str, by: str, now: datetime) -> None:
    """The order's one repair: its key refuses a second."""
    conn.execute(
        "INSERT INTO order_repairs (order_id, repaired_by, repaired_at) VALUES (?, ?, ?)",
        [order_id, by, now],
    )


def pay_rows(conn: duckdb.DuckDBPyConnection, order_id: str) -> dict[str, Any] | None:
    """What a payment link needs of its order: its state, its Checkout Session, whether a
    place is still held for it (and until when), and its items to price at Stripe."""
    row = conn.execute(
        "SELECT payment_status, checkout_session_id, customer_email, customer_name, currency,"
        " expires_at FROM orders WHERE order_id = ?",
        [order_id],
    ).fetchone()
    if row is None:
        return None
    names = ("payment_status", "checkout_session_id", "customer_email", "customer_name",
             "currency", "expires_at")  # fmt: skip
    found = dict(zip(names, row, strict=True))
    found["held_until"] = conn.execute(
        "SELECT min(expires_at) FROM holds WHERE order_id = ? AND status = 'active'", [order_id]
    ).fetchone()[0]
    found["items"] = [
        dict(zip(("position", "product_id", "kind", "date", "session", "start_time",
                  "unit_amount"), item, strict=True))
        for item in conn.execute(
            "SELECT position, product_id, kind, item_date, session, start_time, unit_amount"
            " FROM order_items WHERE order_id = ? ORDER BY position",
            [order_id],
        ).fetchall()
    ]  # fmt: skip
    return found

"""The enrolments and enrolment_periods tables' one writer: an Ignite student's weekly
classes, the subscription's status, and each paid period (one row per invoice, so an
invoice books its classes once).

Every function runs in the caller's transaction (`conn`)."""

from __future__ import annotations

from datetime import datetime

import duckdb


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


def set_status(
    conn: duckdb.DuckDBPyConnection, order_id: str, status: str, created: datetime,
    now: datetime,
) -> list[str]:  # fmt: skip
    """The order's enrolments take the status of a subscription event created at `created`,
    unless a later event already set theirs or they have ended. Stripe's `created` has
    one-second resolution: at a tie, ending wins. The ids of the enrolments changed."""
    return [
        row[0]
        for row in conn.execute(
            "UPDATE enrolments SET status = ?, status_event_created = ?, updated_at = ?,"
            " started_at = CASE WHEN ? = 'active' THEN coalesce(started_at, ?) ELSE started_at END,"
            " ended_at = CASE WHEN ? = 'ended' THEN coalesce(ended_at, ?) ELSE ended_at END"
            " WHERE order_id = ? AND status <> 'ended' AND (status_event_created IS NULL"
            " OR status_event_created < ? OR (status_event_created = ? AND ? = 'ended'))"
            " RETURNING enrolment_id",
            [status, created, now, status, now, status, now, order_id, created,
             created, status],
        ).fetchall()
    ]  # fmt: skip


def record_period(
    conn: duckdb.DuckDBPyConnection, period_id: str, enrolment_id: str, start: datetime,
    end: datetime, amount_paid: int, now: datetime,
) -> bool:  # fmt: skip
    """The paid period, once by its id (`<invoice>:<enrolment>`): True when it is new."""
    return bool(
        conn.execute(
            "INSERT INTO enrolment_periods (invoice_id, enrolment_id, period_start, period_end,"
            " amount_paid, paid_at) SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS"
            " (SELECT 1 FROM enrolment_periods WHERE invoice_id = ?) RETURNING invoice_id",
            [period_id, enrolment_id, start, end, amount_paid, now, period_id],
        ).fetchall()
    )


def set_current_period(
    conn: duckdb.DuckDBPyConnection, enrolment_id: str, start: datetime, end: datetime,
    now: datetime,
) -> None:  # fmt: skip
    conn.execute(
        "UPDATE enrolments SET current_period_start = ?, current_period_end = ?,"
        " updated_at = ? WHERE enrolment_id = ?",
        [start, end, now, enrolment_id],
    )

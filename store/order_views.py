"""What customers, their messages and the status API read of an order: its status, its
calendar, the rows of its emails and of its customer pages. Reads only; `store/orders.py`
and `store/order_state.py` write.
"""

from __future__ import annotations

from typing import Any

import duckdb


def find_order_id(conn: duckdb.DuckDBPyConnection, key: str) -> str | None:
    """An order by its id, its Checkout Session id (cs_…) or its PaymentIntent id (pi_…)."""
    row = conn.execute(
        "SELECT order_id FROM orders WHERE order_id = ? OR checkout_session_id = ?"
        " OR payment_intent_id = ? LIMIT 1",
        [key, key, key],
    ).fetchone()
    return row[0] if row else None


def order_status(conn: duckdb.DuckDBPyConnection, key: str) -> dict[str, Any] | None:
    """What `GET /api/orders/{id}/status` shows (docs/http-api.md), times as aware UTC."""
    order_id = find_order_id(conn, key)
    if order_id is None:
        return None
    payment_status, fulfillment_status = conn.execute(
        "SELECT payment_status, fulfillment_status FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()
    steps = conn.execute(
        "SELECT step, status, attempts, last_error FROM fulfilment_steps WHERE order_id = ?"
        " ORDER BY CASE step WHEN 'record_payment' THEN 1 WHEN 'create_bookings' THEN 2"
        " WHEN 'schedule_events' THEN 3 WHEN 'send_confirmation' THEN 4 ELSE 5 END",
        [order_id],
    ).fetchall()
    bookings = conn.execute(
        "SELECT b.booking_id, s.name, e.product_id, b.status, e.event_id, e.title,"
        " e.starts_at, e.ends_at, e.uid FROM bookings b"
        " JOIN students s ON s.student_id = b.student_id"
        " JOIN events e ON e.event_id = b.event_id"
        " WHERE b.order_id = ? ORDER BY e.starts_at, s.name",
        [order_id],
    ).fetchall()
    return {
        "order_id": order_id,
        "payment_status": payment_status,
        "fulfillment_status": fulfillment_status,
        # The customer sees a reason code; the error text (paths, exceptions) is for staff.
        "steps": [
            {"name": s, "status": st, "attempts": a, "reason": _step_reason(st, err)}
            for s, st, a, err in steps
        ],
        "bookings": [_booking(row) for row in bookings],
    }


def _step_reason(status: str, last_error: str | None) -> str | None:
    if status == "failed":
        return "step_failed"
    if last_error and status in ("pending", "running"):
        return "step_retrying"
    return None


def _booking(row: tuple) -> dict[str, Any]:
    booking_id, student, product_id, status, event_id, title, starts_at, ends_at, uid = row
    return {
        "booking_id": booking_id,
        "student": student,
        "product_id": product_id,
        "status": status,
        "event": {
            "event_id": event_id,
            "title": title,
            "start": starts_at,
            "end": ends_at,
            "uid": uid,
        },
    }


def counts(conn: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """How many orders are in each payment and each fulfilment status, keyed by the column
    names the status API uses (`payment_status`, `fulfillment_status`)."""
    result: dict[str, dict[str, int]] = {"payment_status": {}, "fulfillment_status": {}}
    for column in result:
        for status, n in conn.execute(
            f"SELECT {column}, count(*) FROM orders GROUP BY 1"
        ).fetchall():
            result[column][status] = n
    return result


def calendar_rows(conn: duckdb.DuckDBPyConnection, key: str) -> dict[str, Any] | None:
    """What an order's .ics holds: its booked events (camps, parties) and, for Ignite, the
    programs' weekly series (their recurring templates)."""
    order_id = find_order_id(conn, key)
    if order_id is None:
        return None
    # A family's copy of an event is one per child: each booking (each enrolment) has a UID
    # of its own, so that cancelling one sibling's place leaves the other's in the family's
    # calendar (a CANCEL names the UIDs it removes). The UID keeps the event's domain.
    # SEQUENCE is the event's own plus the order's calendar sequence, which each
    # cancellation raises (schema v3), so a later message always wins.
    events = conn.execute(
        "SELECT 'booking.' || b.booking_id || '@' || split_part(e.uid, '@', 2),"
        " e.sequence + coalesce(o.calendar_sequence, 0), e.title || ' (' || s.name || ')',"
        " e.starts_at, e.ends_at, e.venue_id, b.status = 'cancelled'"
        " FROM bookings b JOIN events e ON e.event_id = b.event_id"
        " JOIN orders o ON o.order_id = b.order_id"
        " JOIN students s ON s.student_id = b.student_id"
        " WHERE b.order_id = ? AND b.enrolment_id IS NULL AND b.status <> 'conflict'"
        " ORDER BY e.starts_at, s.name, b.booking_id",
        [order_id],
    ).fetchall()
    series = conn.execute(
        "SELECT 'enrolment.' || en.enrolment_id || '@' || split_part(t.uid, '@', 2),"
        " t.sequence + coalesce(o.calendar_sequence, 0), t.product_id, t.rrule,"
        " t.first_start, t.duration_minutes, t.excluded_dates, en.status = 'ended',"
        " en.ended_at, s.name"
        " FROM enrolments en JOIN recurring_templates t ON t.product_id = en.product_id"
        " JOIN orders o ON o.order_id = en.order_id"
        " JOIN students s ON s.student_id = en.student_id"
        " WHERE en.order_id = ? ORDER BY t.product_id, s.name, en.enrolment_id",
        [order_id],
    ).fetchall()
    customer = conn.execute(
        "SELECT customer_email, customer_name FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()
    return {
        "order_id": order_id,
        "events": events,
        "series": series,
        "customer_email": customer[0],
        "customer_name": customer[1],
    }


def confirmation_rows(conn: duckdb.DuckDBPyConnection, order_id: str) -> dict[str, Any] | None:
    """What the confirmation email of an order shows: its booked events (camps, parties)
    and its Ignite programs."""
    return _email_rows(conn, order_id, "b.enrolment_id IS NULL", "TRUE")


def cancellation_rows(conn: duckdb.DuckDBPyConnection, order_id: str) -> dict[str, Any] | None:
    """What the cancellation email of an order shows: its cancelled bookings (Ignite classes
    included) and its ended programs."""
    return _email_rows(conn, order_id, "b.status = 'cancelled'", "en.status = 'ended'")


def _email_rows(
    conn: duckdb.DuckDBPyConnection, order_id: str, which_bookings: str, which_programs: str
) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT order_id, customer_name, customer_email FROM orders WHERE order_id = ?",
        [order_id],
    ).fetchone()
    if row is None:
        return None
    bookings = conn.execute(
        "SELECT DISTINCT s.name, e.title, e.kind, e.starts_at, e.ends_at, e.venue_id, b.status"
        " FROM bookings b JOIN students s ON s.student_id = b.student_id"
        " JOIN events e ON e.event_id = b.event_id"
        f" WHERE b.order_id = ? AND {which_bookings} ORDER BY e.starts_at",
        [order_id],
    ).fetchall()
    programs = conn.execute(
        "SELECT en.enrolment_id, s.name, en.product_id, en.status,"
        " coalesce(en.started_at, en.current_period_start, o.created_at)"
        " FROM enrolments en JOIN students s ON s.student_id = en.student_id"
        " JOIN orders o ON o.order_id = en.order_id"
        f" WHERE en.order_id = ? AND {which_programs}",
        [order_id],
    ).fetchall()
    # Each program with the student's first class: the first one booked, or (nothing booked
    # yet) the day the enrolment began, from which the first class is worked out. Looked up
    # only for orders with programs: most have none, and bookings has no index to help.
    first_booked = dict(
        conn.execute(
            "SELECT b.enrolment_id, min(e.starts_at) FROM bookings b"
            " JOIN events e ON e.event_id = b.event_id"
            " WHERE b.enrolment_id IN (SELECT unnest(?)) AND b.status = 'confirmed'"
            " GROUP BY b.enrolment_id",
            [[row[0] for row in programs]],
        ).fetchall()
        if programs
        else []
    )
    return {
        "order": dict(zip(("order_id", "customer_name", "customer_email"), row, strict=True)),
        "bookings": bookings,
        "programs": [
            (name, product_id, status, first_booked.get(enrolment_id), began)
            for enrolment_id, name, product_id, status, began in programs
        ],
        "calendar": calendar_rows(conn, order_id),
    }


def reminder_rows(conn: duckdb.DuckDBPyConnection, booking_id: str) -> dict[str, Any] | None:
    """What a reminder shows; None when the booking or its event is no longer on."""
    row = conn.execute(
        "SELECT o.order_id, o.customer_name, o.customer_email, s.name, e.title, e.kind,"
        " e.starts_at, e.ends_at, e.venue_id FROM bookings b"
        " JOIN orders o ON o.order_id = b.order_id"
        " JOIN students s ON s.student_id = b.student_id"
        " JOIN events e ON e.event_id = b.event_id"
        " WHERE b.booking_id = ? AND b.status = 'confirmed' AND e.status = 'scheduled'",
        [booking_id],
    ).fetchone()
    if row is None:
        return None
    order_id, customer_name, email, student, title, kind, starts_at, ends_at, venue_id = row
    return {
        "order": {"order_id": order_id, "customer_name": customer_name, "customer_email": email},
        "booking": {"student": student, "title": title, "kind": kind, "starts_at": starts_at,
                    "ends_at": ends_at, "venue_id": venue_id},
    }  # fmt: skip


def customer_page_rows(conn: duckdb.DuckDBPyConnection, key: str) -> dict[str, Any] | None:
    """What the customer's order pages show: the status (as `order_status`), when the
    checkout's hold lapses, and what the confirmation shows (`confirmation_rows`)."""
    status = order_status(conn, key)
    if status is None:
        return None
    order_id = status["order_id"]
    expires_at, session_id = conn.execute(
        "SELECT expires_at, checkout_session_id FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()
    return {
        "status": status,
        "expires_at": expires_at,
        "checkout_session_id": session_id,
        "confirmation": confirmation_rows(conn, order_id),
    }

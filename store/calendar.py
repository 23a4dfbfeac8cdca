"""The staff calendar: events in a time range with how full they are, and an event's roster.

Reads (cursor first); times are naive UTC, the caller converts local dates
(`core.business_days`). The roster shows children's names and notes (allergies, who
collects them): staff need them on the day, and they never leave this API for Slack.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from store.attendance import contacts
from store.staff_reads import query_dicts

EVENT_COLUMNS = ("event_id", "kind", "title", "product_id", "venue_id", "room_id", "starts_at",
                 "ends_at", "capacity", "status")  # fmt: skip


def events_between(
    conn: duckdb.DuckDBPyConnection, start: datetime, stop: datetime, kind: str | None = None
) -> list[tuple]:
    """Events starting in [start, stop), in time order, as rows of `EVENT_COLUMNS` plus
    their confirmed bookings. A month of a big calendar is thousands of rows, so they
    travel as plain tuples with the times as text ("YYYY-MM-DD HH:MM:SS", naive UTC):
    a datetime per field would cost more to build and pickle than the query.

    An event is made when its first place is booked, so its bookings are read from the
    earliest `created_at` of the events in range on (the bookings table grows in time
    order and DuckDB skips the row groups before it)."""

    def where(alias: str) -> str:
        return f"{alias}.starts_at >= ? AND {alias}.starts_at < ?" + (
            f" AND {alias}.kind = ?" if kind else ""
        )

    params: list[Any] = [start, stop, *([kind] if kind else [])]
    (first,) = conn.execute(f"SELECT min(e.created_at) FROM events e WHERE {where('e')}",
                            params).fetchone()  # fmt: skip
    if first is None:
        return []
    columns = ", ".join(
        f"CAST(e.{c} AS VARCHAR)" if c in ("starts_at", "ends_at") else f"e.{c}"
        for c in EVENT_COLUMNS
    )
    return conn.execute(
        f"SELECT {columns}, coalesce(b.booked, 0) FROM events e LEFT JOIN"
        " (SELECT b.event_id, count(*) AS booked FROM bookings b"
        f" WHERE b.created_at >= ? AND b.status = 'confirmed' AND b.event_id IN"
        f" (SELECT x.event_id FROM events x WHERE {where('x')}) GROUP BY b.event_id) b"
        f" ON b.event_id = e.event_id WHERE {where('e')} ORDER BY e.starts_at, e.event_id",
        [first, *params, *params],
    ).fetchall()


def roster(conn: duckdb.DuckDBPyConnection, event_id: str) -> dict[str, Any] | None:
    """An event and everyone booked into it (from when the event was made): confirmed
    first, then conflicts, then cancellations, by child's name."""
    found = query_dicts(
        conn,
        f"SELECT {', '.join(EVENT_COLUMNS)}, created_at FROM events WHERE event_id = ?",
        [event_id],
    )
    if not found:
        return None
    (event,) = found
    bookings = query_dicts(
        conn,
        "SELECT booking_id, student_id, order_id, status FROM bookings"
        " WHERE event_id = ? AND created_at >= ?",
        [event_id, event.pop("created_at")],
    )
    event["booked"] = sum(1 for b in bookings if b["status"] == "confirmed")
    students: dict[str, dict] = {}
    customers: dict[str, dict] = {}
    if bookings:
        students = {
            s["student_id"]: s
            for s in query_dicts(
                conn,
                "SELECT student_id, name, age, notes, emergency_contacts, authorised_collectors"
                " FROM students"
                " WHERE student_id IN (SELECT unnest(?))",
                [sorted({b["student_id"] for b in bookings})],
            )
        }
        customers = {
            o["order_id"]: o
            for o in query_dicts(
                conn,
                "SELECT order_id, customer_name, customer_email FROM orders"
                " WHERE order_id IN (SELECT unnest(?))",
                [sorted({b["order_id"] for b in bookings})],
            )
        }
    rank = {"confirmed": 0, "conflict": 1, "cancelled": 2}
    people = []
    for booking in bookings:
        student = students.get(booking["student_id"], {})
        customer = customers.get(booking["order_id"], {})
        people.append({
            "booking_id": booking["booking_id"],
            "student": student.get("name"),
            "age": student.get("age"),
            "notes": student.get("notes"),
            "emergency_contacts": contacts(student.get("emergency_contacts")),
            "authorised_collectors": contacts(student.get("authorised_collectors")),
            "order_id": booking["order_id"],
            "customer_name": customer.get("customer_name"),
            "customer_email": customer.get("customer_email"),
            "status": booking["status"],
        })  # fmt: skip
    people.sort(key=lambda p: (rank.get(p["status"], 3), (p["student"] or "").casefold()))
    return {"event": event, "roster": people}

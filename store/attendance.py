"""Attendance at the door: who was checked in and out of each event, by whom, and who
collected them. The only writer of `attendance` (migration 9).

One row per booking (one child in one event), made by the check-in: the primary key makes a
double tap one check-in. The check-out fills the row once (`checked_out_at IS NULL`). Times
are naive UTC, passed in by the caller.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb

from core.attendance import may_collect, who_may_collect
from store import people
from store.staff_reads import query_dicts

ATTENDANCE_COLUMNS = ("checked_in_at", "checked_in_by", "checked_out_at", "checked_out_by",
                      "collected_by", "collection_override")  # fmt: skip


# --- reads -------------------------------------------------------------------------------------


def day_sheet(conn: duckdb.DuckDBPyConnection, start: datetime, stop: datetime) -> list[dict]:
    """The events starting in [start, stop), in time order, each with its confirmed children:
    name, age, notes, parent, emergency contacts, who may collect, and their attendance."""
    return _shaped(*_gathered(conn, start, stop))


def day_sheet_if_changed(
    conn: duckdb.DuckDBPyConnection, start: datetime, stop: datetime, known: int | None
) -> tuple[int | None, list[dict] | None]:
    """(fingerprint, `day_sheet`), or (fingerprint, None) when the fingerprint is `known`,
    the caller's from an earlier call: the web process keeps the day it was sent, and the
    Check-in page, read every few seconds on a busy morning, costs no shaping and no
    sending while nothing changed. The fingerprint is of what the sheet is made from, read
    as `day_sheet` reads it (the events, their bookings and attendance, the families' names
    and emails; a child's row never changes once written): equal fingerprints, equal
    sheets. It means something only to this store process, which makes every one."""
    events, children, students, families = _gathered(conn, start, stop)
    mark = hash((
        tuple(tuple(e.values()) for e in events),
        tuple(tuple(c.values()) for c in children),
        tuple((o, f["customer_name"], f["customer_email"]) for o, f in sorted(families.items())),
    ))  # fmt: skip
    if known is not None and mark == known:
        return mark, None
    return mark, _shaped(events, children, students, families)


def _gathered(
    conn: duckdb.DuckDBPyConnection, start: datetime, stop: datetime
) -> tuple[list[dict], list[dict], dict[str, dict], dict[str, dict]]:
    """What a day's sheet is made from: its events, their confirmed bookings with their
    attendance, and the children and families of those bookings by id."""
    events = query_dicts(
        conn,
        "SELECT event_id, kind, title, product_id, venue_id, room_id, starts_at, ends_at,"
        " capacity, status, created_at FROM events WHERE starts_at >= ? AND starts_at < ?"
        " ORDER BY starts_at, title, event_id",
        [start, stop],
    )
    if not events:
        return [], [], {}, {}
    children = query_dicts(
        conn,
        "SELECT b.booking_id, b.event_id, b.order_id, b.student_id, a.checked_in_at,"
        " a.checked_in_by, a.checked_out_at, a.checked_out_by, a.collected_by,"
        " a.collection_override"
        " FROM bookings b LEFT JOIN attendance a ON a.booking_id = b.booking_id"
        " WHERE b.created_at >= ? AND b.status = 'confirmed' AND b.event_id IN (SELECT unnest(?))"
        " ORDER BY b.booking_id",
        [min(e["created_at"] for e in events), [e["event_id"] for e in events]],
    )
    # The children and their families by id, without reading every student and order.
    students = people.students_of(conn, (c["student_id"] for c in children))
    families = people.orders_of(conn, (c["order_id"] for c in children))
    return events, children, students, families


def _shaped(
    events: list[dict], children: list[dict], students: dict[str, dict],
    families: dict[str, dict],
) -> list[dict]:  # fmt: skip
    """The sheet (see `day_sheet`) from what `_gathered` read; the rows given are not kept."""
    by_event: dict[str, list[dict]] = {e["event_id"]: [] for e in events}
    for row in children:
        student, family = students.get(row["student_id"]), families.get(row["order_id"])
        if student is None or family is None:
            continue
        child = dict(row)
        child.update(
            student=student.get("name"), age=student.get("age"), notes=student.get("notes"),
            emergency_contacts=student.get("emergency_contacts"),
            authorised_collectors=student.get("authorised_collectors"),
            customer_name=family.get("customer_name"),
            customer_email=family.get("customer_email"),
        )  # fmt: skip
        by_event[child["event_id"]].append(_child(child))
    sheet = []
    for event in events:
        shaped = {k: v for k, v in event.items() if k != "created_at"}
        shaped["children"] = sorted(
            by_event[event["event_id"]], key=lambda c: (c["student"] or "").casefold()
        )
        sheet.append(shaped)
    return sheet


def contacts(stored: str | None) -> list[dict[str, Any]]:
    """A `students` contacts column (JSON list of {"name", "phone"}) as a list."""
    return json.loads(stored) if stored else []


def _child(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("event_id")
    row["emergency_contacts"] = contacts(row["emergency_contacts"])
    row["authorised_collectors"] = contacts(row["authorised_collectors"])
    row["may_collect"] = who_may_collect(
        row["customer_name"], [c["name"] for c in row["authorised_collectors"]]
    )
    return row


def attendance_of(conn: duckdb.DuckDBPyConnection, booking_id: str) -> dict[str, Any] | None:
    found = query_dicts(
        conn,
        f"SELECT booking_id, {', '.join(ATTENDANCE_COLUMNS)} FROM attendance WHERE booking_id = ?",
        [booking_id],
    )
    return found[0] if found else None


# --- writes (each a job for the writer thread) -------------------------------------------------


def check_in(
    conn: duckdb.DuckDBPyConnection, booking_id: str, by: str, now: datetime
) -> dict[str, Any]:
    """Check a child in: `checked_in`, `already` (a double tap: the first time stands),
    `not_found` or `not_confirmed` (a cancelled or conflicting booking)."""
    booking = _booking(conn, booking_id)
    if booking is None:
        return {"outcome": "not_found"}
    if booking["status"] != "confirmed":
        return {"outcome": "not_confirmed", "booking": booking}
    # NOT EXISTS rather than ON CONFLICT (cheaper in DuckDB); the primary key still refuses
    # a second row for the booking.
    made = conn.execute(
        "INSERT INTO attendance (booking_id, event_id, student_id, checked_in_at, checked_in_by)"
        " SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS"
        " (SELECT 1 FROM attendance WHERE booking_id = ?) RETURNING booking_id",
        [booking_id, booking["event_id"], booking["student_id"], now, by, booking_id],
    ).fetchall()
    return {
        "outcome": "checked_in" if made else "already",
        "booking": booking,
        "attendance": attendance_of(conn, booking_id),
    }


def check_out(
    conn: duckdb.DuckDBPyConnection,
    booking_id: str,
    by: str,
    collected_by: str,
    override: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Check a child out to `collected_by`: `checked_out`, `already`, `not_found`,
    `not_checked_in`, or `not_authorised` (not the parent nor a named adult, and no
    `override` reason given)."""
    booking = _booking(conn, booking_id)
    if booking is None:
        return {"outcome": "not_found"}
    present = attendance_of(conn, booking_id)
    if present is None:
        return {"outcome": "not_checked_in", "booking": booking}
    if present["checked_out_at"] is not None:
        return {"outcome": "already", "booking": booking, "attendance": present}
    allowed = may_collect(collected_by, booking["customer_name"], booking["collectors"])
    if not allowed and not override:
        return {"outcome": "not_authorised", "booking": booking, "attendance": present}
    done = conn.execute(
        "UPDATE attendance SET checked_out_at = ?, checked_out_by = ?, collected_by = ?,"
        " collection_override = ? WHERE booking_id = ? AND checked_out_at IS NULL"
        " RETURNING booking_id",
        [now, by, collected_by, None if allowed else override, booking_id],
    ).fetchall()
    return {
        "outcome": "checked_out" if done else "already",
        "booking": booking,
        "attendance": attendance_of(conn, booking_id),
    }


def undo(conn: duckdb.DuckDBPyConnection, booking_id: str, action: str) -> dict[str, Any]:
    """Undo a mistaken tick: `check_out` clears the check-out; `check_in` removes a check-in
    that has no check-out. Outcomes: `undone`, `nothing` (nothing of that kind to undo, as on
    a double tap), `undo_check_out_first`, `not_found`."""
    booking = _booking(conn, booking_id)
    if booking is None:
        return {"outcome": "not_found"}
    if action == "check_out":
        done = conn.execute(
            "UPDATE attendance SET checked_out_at = NULL, checked_out_by = NULL,"
            " collected_by = NULL, collection_override = NULL"
            " WHERE booking_id = ? AND checked_out_at IS NOT NULL RETURNING booking_id",
            [booking_id],
        ).fetchall()
    else:
        present = attendance_of(conn, booking_id)
        if present is not None and present["checked_out_at"] is not None:
            return {"outcome": "undo_check_out_first", "booking": booking, "attendance": present}
        done = conn.execute(
            "DELETE FROM attendance WHERE booking_id = ? AND checked_out_at IS NULL"
            " RETURNING booking_id",
            [booking_id],
        ).fetchall()
    return {
        "outcome": "undone" if done else "nothing",
        "booking": booking,
        "attendance": attendance_of(conn, booking_id),
    }


def _booking(conn: duckdb.DuckDBPyConnection, booking_id: str) -> dict[str, Any] | None:
    found = query_dicts(
        conn,
        "SELECT b.booking_id, b.event_id, b.student_id, b.status, s.name AS student,"
        " s.authorised_collectors, o.customer_name FROM bookings b"
        " JOIN students s ON s.student_id = b.student_id"
        " JOIN orders o ON o.order_id = b.order_id WHERE b.booking_id = ?",
        [booking_id],
    )
    if not found:
        return None
    booking = found[0]
    booking["collectors"] = [c["name"] for c in contacts(booking.pop("authorised_collectors"))]
    return booking

"""The bookings and events tables' one writer: the calendar events of the business (one
per slot, made the first time a slot is needed) and each student's booking into one.

Every function runs in the caller's transaction (`conn`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from core.schedule import template_id
from store.orders import new_id


def upsert_event(conn: duckdb.DuckDBPyConnection, planned: Any, now: datetime) -> str:
    """The event for a slot, created the first time it is needed (slot_key is unique)."""
    row = conn.execute(
        "SELECT event_id FROM events WHERE slot_key = ?", [planned.slot_key]
    ).fetchone()
    if row:
        return row[0]
    event_id = new_id("cal")
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


def insert_events(conn: duckdb.DuckDBPyConnection, new: list[Any], now: datetime) -> list[str]:
    """Camp and party events for many new slots at once; their ids, in the order given."""
    new_ids = [new_id("cal") for _ in new]
    conn.execute(
        "INSERT INTO events (event_id, slot_key, kind, product_id, title, venue_id, room_id,"
        " starts_at, ends_at, capacity, status, uid, sequence, created_at, updated_at)"
        " SELECT unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), unnest(?),"
        " unnest(?), unnest(?), unnest(?), unnest(?), 'scheduled', unnest(?), 0, ?, ?",
        [
            new_ids,
            [p.slot_key for p in new],
            [p.kind for p in new],
            [p.product_id for p in new],
            [p.title for p in new],
            [p.venue_id for p in new],
            [p.room_id for p in new],
            [p.starts_at_naive_utc for p in new],
            [p.ends_at_naive_utc for p in new],
            [p.capacity for p in new],
            [p.uid for p in new],
            now,
            now,
        ],
    )
    return new_ids


def insert_booking(
    conn: duckdb.DuckDBPyConnection, order_id: str, item_id: str, student_id: str,
    event_id: str, status: str, now: datetime,
) -> None:  # fmt: skip
    """A camp or party item's booking: `confirmed` with a taken place, else `conflict`."""
    conn.execute(
        "INSERT INTO bookings (booking_id, order_id, order_item_id, student_id, event_id,"
        " status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [new_id("bkg"), order_id, item_id, student_id, event_id, status, now, now],
    )


def insert_confirmed_many(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], item_ids: list[str],
    student_ids: list[str], event_ids: list[str], now: datetime,
) -> None:  # fmt: skip
    """Confirmed bookings for many items at once (`fulfilment.bulk_steps`)."""
    conn.execute(
        "INSERT INTO bookings (booking_id, order_id, order_item_id, student_id, event_id,"
        " status, created_at, updated_at) SELECT unnest(?), unnest(?), unnest(?),"
        " unnest(?), unnest(?), 'confirmed', ?, ?",
        [[new_id("bkg") for _ in order_ids], order_ids, item_ids, student_ids, event_ids,
         now, now],
    )  # fmt: skip


def insert_class_booking(
    conn: duckdb.DuckDBPyConnection, order_id: str, item_id: str, student_id: str,
    event_id: str, enrolment_id: str, now: datetime,
) -> None:  # fmt: skip
    """An enrolled student's class, once (a repeated invoice books nothing twice)."""
    conn.execute(
        "INSERT INTO bookings (booking_id, order_id, order_item_id, student_id, event_id,"
        " enrolment_id, status, created_at, updated_at)"
        " SELECT ?, ?, ?, ?, ?, ?, 'confirmed', ?, ? WHERE NOT EXISTS (SELECT 1 FROM"
        " bookings WHERE order_item_id = ? AND event_id = ?)",
        [new_id("bkg"), order_id, item_id, student_id, event_id, enrolment_id,
         now, now, item_id, event_id],
    )  # fmt: skip


def cancel_order_bookings(
    conn: duckdb.DuckDBPyConnection, order_id: str, now: datetime
) -> list[str]:
    """Every booking of a refunded order cancelled; the ids of those that were not yet."""
    return [
        row[0]
        for row in conn.execute(
            "UPDATE bookings SET status = 'cancelled', updated_at = ? WHERE order_id = ?"
            " AND status <> 'cancelled' RETURNING booking_id",
            [now, order_id],
        ).fetchall()
    ]


def cancel_classes_to_come(conn: duckdb.DuckDBPyConnection, order_id: str, now: datetime) -> None:
    """An ended subscription's classes after `now` cancelled; those past stay as they were."""
    conn.execute(
        "UPDATE bookings SET status = 'cancelled', updated_at = ? WHERE order_id = ?"
        " AND enrolment_id IS NOT NULL AND status <> 'cancelled' AND event_id IN"
        " (SELECT event_id FROM events WHERE starts_at > ?)",
        [now, order_id, now],
    )


# --- staff actions (fulfilment/staff_actions.py) --------------------------------------------


def booking_for_action(conn: duckdb.DuckDBPyConnection, booking_id: str) -> dict[str, Any] | None:
    """A booking as staff act on it: its order, item, student, event and the item's hold."""
    columns = ("booking_id", "order_id", "order_item_id", "enrolment_id", "status", "event_id",
               "slot_key", "kind", "product_id", "title", "starts_at", "item_date", "session",
               "start_time", "unit_amount", "student", "hold_id", "resource_key",
               "hold_status", "currency")  # fmt: skip
    row = conn.execute(
        "SELECT b.booking_id, b.order_id, b.order_item_id, b.enrolment_id, b.status,"
        " e.event_id, e.slot_key, e.kind, e.product_id, e.title, e.starts_at, i.item_date,"
        " i.session, i.start_time, i.unit_amount, s.name, h.hold_id, h.resource_key, h.status,"
        " o.currency FROM bookings b JOIN events e ON e.event_id = b.event_id"
        " JOIN orders o ON o.order_id = b.order_id"
        " JOIN order_items i ON i.order_item_id = b.order_item_id"
        " JOIN students s ON s.student_id = b.student_id"
        " LEFT JOIN holds h ON h.order_item_id = b.order_item_id"
        " WHERE b.booking_id = ?",
        [booking_id],
    ).fetchone()
    return dict(zip(columns, row, strict=True)) if row else None


def event_of_slot(conn: duckdb.DuckDBPyConnection, slot_key: str) -> str | None:
    row = conn.execute("SELECT event_id FROM events WHERE slot_key = ?", [slot_key]).fetchone()
    return row[0] if row else None


def confirmed_in(conn: duckdb.DuckDBPyConnection, event_id: str | None) -> int:
    """Students confirmed in an event (an Ignite class's make-ups count against this)."""
    if event_id is None:
        return 0
    return conn.execute(
        "SELECT count(*) FROM bookings WHERE event_id = ? AND status = 'confirmed'", [event_id]
    ).fetchone()[0]


def item_booked_in(conn: duckdb.DuckDBPyConnection, item_id: str, event_id: str | None) -> bool:
    if event_id is None:
        return False
    return bool(
        conn.execute(
            "SELECT count(*) FROM bookings WHERE order_item_id = ? AND event_id = ?",
            [item_id, event_id],
        ).fetchone()[0]
    )


def cancel_booking(conn: duckdb.DuckDBPyConnection, booking_id: str, now: datetime) -> bool:
    """One booking cancelled by staff; False when it already was."""
    return bool(
        conn.execute(
            "UPDATE bookings SET status = 'cancelled', updated_at = ? WHERE booking_id = ?"
            " AND status <> 'cancelled' RETURNING booking_id",
            [now, booking_id],
        ).fetchall()
    )


def cancel_item_bookings(
    conn: duckdb.DuckDBPyConnection, item_ids: list[str], now: datetime
) -> list[str]:
    """The bookings of refunded items cancelled; the ids of those that were not yet. An
    Ignite enrolment's classes are cancelled from `now` on: those past stay as they were."""
    return [
        row[0]
        for row in conn.execute(
            "UPDATE bookings SET status = 'cancelled', updated_at = ?"
            " WHERE order_item_id IN (SELECT unnest(?)) AND status <> 'cancelled'"
            " AND (enrolment_id IS NULL OR event_id IN"
            " (SELECT event_id FROM events WHERE starts_at > ?))"
            " RETURNING booking_id",
            [now, item_ids, now],
        ).fetchall()
    ]


def cancel_invoice_classes(
    conn: duckdb.DuckDBPyConnection, item_ids: list[str], invoice_id: str, now: datetime
) -> list[str]:
    """The classes an Ignite invoice paid for (its enrolments' bookings in its period,
    `enrolment_periods` keyed `<invoice>:<enrolment>`) that start after `now`, cancelled:
    the ids of those that were not yet. Those past, and other invoices' classes, stay."""
    prefix = f"{invoice_id}:"
    return [
        row[0]
        for row in conn.execute(
            "UPDATE bookings SET status = 'cancelled', updated_at = ?"
            " WHERE order_item_id IN (SELECT unnest(?)) AND status <> 'cancelled'"
            " AND enrolment_id IS NOT NULL AND event_id IN"
            " (SELECT ev.event_id FROM events ev JOIN enrolment_periods p"
            " ON ev.starts_at >= p.period_start AND ev.starts_at < p.period_end"
            " WHERE left(p.invoice_id, ?) = ? AND p.enrolment_id = bookings.enrolment_id"
            " AND ev.starts_at > ?)"
            " RETURNING booking_id",
            [now, item_ids, len(prefix), prefix, now],
        ).fetchall()
    ]


def move_booking(
    conn: duckdb.DuckDBPyConnection, booking_id: str, event_id: str, now: datetime
) -> None:
    """A booking moved to another event, keeping its id (and so its calendar UID).

    The calendar and the roster read an event's bookings from its `created_at` on (the
    bookings table grows in time order; store/calendar.py): an event made for this move is
    younger than the booking, so its `created_at` is lowered to the booking's."""
    conn.execute(
        "UPDATE bookings SET event_id = ?, status = 'confirmed', updated_at = ?"
        " WHERE booking_id = ?",
        [event_id, now, booking_id],
    )
    conn.execute(
        "UPDATE events SET created_at = b.created_at FROM bookings b"
        " WHERE b.booking_id = ? AND events.event_id = ? AND b.created_at < events.created_at",
        [booking_id, event_id],
    )


def set_capacity(
    conn: duckdb.DuckDBPyConnection, resource_key: str, capacity: int, now: datetime
) -> list[str]:
    """The events a capacity override is about (a camp day's sessions, a party slot, a
    class) show it; their ids."""
    return [
        row[0]
        for row in conn.execute(
            "UPDATE events SET capacity = ?, updated_at = ?"
            " WHERE slot_key = ? OR slot_key LIKE ? || ':%' RETURNING event_id",
            [capacity, now, resource_key, resource_key],
        ).fetchall()
    ]


def invite_rows(conn: duckdb.DuckDBPyConnection, booking_ids: list[str]) -> list[tuple]:
    """Bookings as `store.order_views.calendar_rows` gives an order's events (UID, SEQUENCE,
    title, start, end, venue, cancelled), Ignite classes included: a make-up class is a
    single event of its own in the family's calendar."""
    if not booking_ids:
        return []
    return conn.execute(
        "SELECT 'booking.' || b.booking_id || '@' || split_part(e.uid, '@', 2),"
        " e.sequence + coalesce(o.calendar_sequence, 0), e.title || ' (' || s.name || ')',"
        " e.starts_at, e.ends_at, e.venue_id, b.status = 'cancelled'"
        " FROM bookings b JOIN events e ON e.event_id = b.event_id"
        " JOIN orders o ON o.order_id = b.order_id"
        " JOIN students s ON s.student_id = b.student_id"
        " WHERE b.booking_id IN (SELECT unnest(?)) ORDER BY e.starts_at, b.booking_id",
        [booking_ids],
    ).fetchall()

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

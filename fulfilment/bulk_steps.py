"""The order steps in batches (see `fulfilment.bulk_payments` for why in bulk):

- `convert_holds`: create_bookings for orders whose holds are all still valid;
- `take_places`: create_bookings for the others (no hold, a lapsed one), place by place;
- `book_events`: schedule_events for orders whose places are all taken;
- `confirm` and `notify`: send_confirmation and notify_staff.

Each returns the orders it could not do in bulk (a lapsed hold, a conflict, an unknown
product …) and the worker runs those one by one through `fulfilment.steps`, the reference
implementation these must agree with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from core.catalog import Catalog
from core.checkout import hold_options
from core.schedule import ScheduleError, camp_event, party_event
from fulfilment.steps import queue_confirmations, queue_staff_notices
from store import bookings, fulfilment_steps, holds, orders
from store.capacity import overrides as capacity_overrides
from store.enrolments import ensure_enrolments
from store.locks import skip_locked


def _pending(conn: duckdb.DuckDBPyConnection, step: str, order_ids: list[str]) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT order_id FROM fulfilment_steps WHERE step = ? AND status = 'pending'"
            " AND order_id IN (SELECT unnest(?))" + skip_locked(conn),
            [step, order_ids],
        ).fetchall()
    ]


def convert_holds(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], now: datetime
) -> list[str]:
    """create_bookings for orders whose every item holds a valid place;
    returns the orders left over (a lapsed or missing hold)."""
    pending = set(_pending(conn, "create_bookings", order_ids))
    awkward = {
        row[0]
        for row in conn.execute("SELECT DISTINCT i.order_id FROM order_items i LEFT JOIN holds h"
            " ON h.order_item_id = i.order_item_id WHERE i.order_id IN (SELECT unnest(?))"
            " AND (h.hold_id IS NULL OR (h.status <> 'converted'"
            " AND NOT (h.status = 'active' AND h.expires_at > ?)))",
            [sorted(pending), now],
        ).fetchall()
    } if pending else set()  # fmt: skip
    ready = sorted(pending - awkward)
    if ready:
        holds.convert_orders(conn, ready)
        ensure_enrolments(conn, ready, None, now)
        fulfilment_steps.finish_many(conn, ready, "create_bookings", "schedule_events", now)
    return [order_id for order_id in order_ids if order_id not in set(ready)]


def create_bookings(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], catalog: Catalog, now: datetime
) -> list[str]:
    """create_bookings in bulk: orders whose holds are all valid convert them
    (`convert_holds`); the others take free places (`take_places`)."""
    left = convert_holds(conn, order_ids, now)
    return take_places(conn, left, catalog, now) if left else []


def take_places(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], catalog: Catalog, now: datetime
) -> list[str]:
    """create_bookings for orders with items that hold no valid place (a cart from a
    payment's metadata, a hold that lapsed): each such item takes the first free place, in
    the order given, exactly as `fulfilment.steps.create_bookings` does one order after another.
    An item that finds none is left for schedule_events to book as a conflict. Returns the
    orders left over: those with an Ignite item, or an item the catalog no longer has."""
    pending = set(_pending(conn, "create_bookings", order_ids))
    if not pending:
        return list(order_ids)
    items: dict[str, list[tuple]] = {}
    for row in conn.execute(
        "SELECT i.order_id, i.order_item_id, i.product_id, i.kind, i.item_date, i.start_time,"
        " h.hold_id, h.status, h.expires_at FROM order_items i LEFT JOIN holds h"
        " ON h.order_item_id = i.order_item_id WHERE i.order_id IN (SELECT unnest(?))"
        " ORDER BY i.order_id, i.position",
        [sorted(pending)],
    ).fetchall():
        items.setdefault(row[0], []).append(row[1:])
    options: dict[str, tuple[tuple[str, int], ...]] = {}  # item id -> (resource, capacity)
    done: list[str] = []
    for order_id in (o for o in order_ids if o in pending):
        its = items.get(order_id, [])
        if any(kind == "ignite" for _, _, kind, *_ in its):
            continue  # one by one: it makes the enrolment
        try:
            choices = {
                item_id: hold_options(catalog, product_id, day, orders.stored_time(start))
                for item_id, product_id, _, day, start, *_ in its
            }
        except (KeyError, ScheduleError):
            continue  # one by one: it records the PermanentFailure
        options.update(choices)
        done.append(order_id)
    if not done:
        return list(order_ids)
    keys = sorted({key for choices in options.values() for key, _ in choices})
    orders.lock_places(conn, keys)  # counted and taken in one step (several sidecars)
    overridden = capacity_overrides(conn, keys)  # staff's, before the catalog's
    options = {
        item_id: tuple((key, overridden.get(key, places)) for key, places in choices)
        for item_id, choices in options.items()
    }
    used = dict(
        conn.execute(
            "SELECT resource_key, coalesce(sum(seats), 0) FROM holds"
            " WHERE resource_key IN (SELECT unnest(?))"
            " AND (status = 'converted' OR (status = 'active' AND expires_at > ?))"
            " GROUP BY resource_key",
            [keys, now],
        ).fetchall()
    )
    converted, retaken, new = [], [], []  # hold ids; (hold id, key); (order, item, key)
    for order_id in done:
        for item_id, _, _, _, _, hold_id, status, expires_at in items.get(order_id, []):
            if status == "converted":
                continue
            if status == "active" and expires_at > now:
                converted.append(hold_id)
                continue
            for key, capacity in options[item_id]:
                if used.get(key, 0) + 1 <= capacity:
                    used[key] = used.get(key, 0) + 1
                    if hold_id is None:
                        new.append((order_id, item_id, key))
                    else:
                        retaken.append((hold_id, key))
                    break
    if converted:
        holds.convert_many(conn, converted)
    if retaken:
        holds.retake_many(conn, [hold_id for hold_id, _ in retaken], [key for _, key in retaken])
    if new:
        holds.insert_converted_many(
            conn, [orders.new_id("hold") for _ in new], [o for o, _, _ in new],
            [i for _, i, _ in new], [k for _, _, k in new], now,
        )  # fmt: skip
    fulfilment_steps.finish_many(conn, done, "create_bookings", "schedule_events", now)
    taken = set(done)
    return [order_id for order_id in order_ids if order_id not in taken]


def book_events(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], catalog: Catalog, now: datetime
) -> list[str]:
    """schedule_events for orders whose every camp and party item has its place taken;
    returns the orders left over (a conflict to record, an unknown product …)."""
    rows = conn.execute(
        "SELECT i.order_id, i.order_item_id, i.product_id, i.kind, i.item_date, i.session,"
        " i.start_time, i.student_id, h.status, h.resource_key FROM order_items i"
        " JOIN fulfilment_steps s ON s.order_id = i.order_id AND s.step = 'schedule_events'"
        " AND s.status = 'pending' LEFT JOIN holds h ON h.order_item_id = i.order_item_id"
        " WHERE i.order_id IN (SELECT unnest(?))" + skip_locked(conn, "s"),
        [order_ids],
    ).fetchall()
    by_order: dict[str, list[tuple]] = {}
    for row in rows:
        by_order.setdefault(row[0], []).append(row)
    planned_items: list[tuple[str, str, str, Any]] = []  # order, item, student, planned
    ready: list[str] = []
    for order_id, items in by_order.items():
        plans = []
        try:
            for _, item_id, product_id, kind, day, session, start, student, status, key in items:
                if kind == "ignite":
                    continue
                if status != "converted":
                    raise LookupError("a place is not taken")
                if kind == "camp":
                    planned = camp_event(catalog, product_id, day, session)
                else:
                    room = key.split(":")[2]
                    planned = party_event(catalog, product_id, day, orders.stored_time(start), room)
                plans.append((order_id, item_id, student, planned))
        except Exception:  # the one-by-one path says what is wrong
            continue
        planned_items.extend(plans)
        ready.append(order_id)
    if not ready:
        return list(order_ids)

    slots = {planned.slot_key: planned for _, _, _, planned in planned_items}
    existing = dict(
        conn.execute(
            "SELECT slot_key, event_id FROM events WHERE slot_key IN (SELECT unnest(?))",
            [list(slots)],
        ).fetchall()
    )
    new = [planned for key, planned in slots.items() if key not in existing]
    if new:
        new_ids = bookings.insert_events(conn, new, now)
        existing.update(zip((p.slot_key for p in new), new_ids, strict=True))
    if planned_items:
        bookings.insert_confirmed_many(
            conn,
            [order_id for order_id, _, _, _ in planned_items],
            [item_id for _, item_id, _, _ in planned_items],
            [student for _, _, student, _ in planned_items],
            [existing[p.slot_key] for _, _, _, p in planned_items],
            now,
        )
    fulfilment_steps.finish_many(conn, ready, "schedule_events", "send_confirmation", now)
    return [order_id for order_id in order_ids if order_id not in set(ready)]


def confirm(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], catalog: Catalog, now: datetime
) -> list[str]:
    """send_confirmation for many orders: their emails queued."""
    pending = _pending(conn, "send_confirmation", order_ids)
    if pending:
        queue_confirmations(conn, pending, now)
        fulfilment_steps.finish_many(conn, pending, "send_confirmation", "notify_staff", now)
    return [order_id for order_id in order_ids if order_id not in set(pending)]


def notify(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], catalog: Catalog, now: datetime
) -> list[str]:
    """notify_staff for many orders: one Slack message each, queued; orders fulfilled."""
    pending = _pending(conn, "notify_staff", order_ids)
    if pending:
        queue_staff_notices(conn, pending, catalog, now)
        fulfilment_steps.finish_many(conn, pending, "notify_staff", None, now)
    return [order_id for order_id in order_ids if order_id not in set(pending)]

"""What staff do to a booking or an event, each in one write of the single writer: cancel
without a refund (the family keeps credit), move to another camp day or session, party slot
or room, or Ignite class, change an event's capacity; and what a staff refund does when
Stripe's `charge.refunded` for it arrives (`apply_item_refunds`, from fulfilment/refunds.py).

Capacity is checked here, in the writer, so two staff moving into the last place get one
move and one refusal; the old place is freed in the same transaction (`place_freed`).
Every action is recorded once by its request key (`store/staff_actions.py`) with who, when
and why, and every change to a family's bookings queues one email (`queue_change`) with an
.ics that updates their calendar in place: the same per-booking UID, a higher SEQUENCE.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from core.catalog import Catalog
from core.catalog_file import load_catalog
from core.payments import dollars
from core.schedule import (
    ScheduleError,
    camp_event,
    ignite_events,
    party_event,
    party_room_candidates,
)
from core.slot_keys import camp_capacity_key
from core.staff_requests import MoveRequest
from fulfilment.places import place_freed
from store import (
    bookings,
    capacity,
    holds,
    order_state,
    orders,
    outbox,
    staff_actions,
    staff_refunds,
    subscription_endings,
)


@functools.cache
def catalog_at(path: str) -> Catalog:
    """The catalog the sidecar serves, read once in the store process (a `Catalog` does
    not pickle, so writes are sent its path)."""
    return load_catalog(path)


@dataclass(frozen=True)
class Outcome:
    """`status`: 200 done (or `already` done by the same request), 404, 409 or 422."""

    status: int
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)
    already: bool = False


def _when(starts_at: datetime, catalog: Catalog) -> str:
    return f"{starts_at.replace(tzinfo=UTC).astimezone(catalog.tz):%a %-d %b %Y %-I:%M %p}"


def queue_change(
    conn: duckdb.DuckDBPyConnection, order_id: str, changes: list[str], now: datetime, *,
    cancelled: list[str] = (), moved: list[str] = (),  # type: ignore[assignment]
) -> bool:  # fmt: skip
    """The family is told: the order's calendar sequence rises (their next .ics replaces
    what they have) and the change email is queued under `change:<order>:<sequence>`. It is
    rendered when sent: `changes` as lines, a CANCEL of the `cancelled` bookings and a
    REQUEST of the `moved` ones, each under its own booking's UID."""
    row = order_state.next_calendar_sequence(conn, order_id)
    if row is None or row[1] is None:
        return False
    sequence, email = row
    return outbox.enqueue(
        conn,
        dedupe_key=f"change:{order_id}:{sequence}",
        channel="email",
        payload={"template": "change", "changes": changes, "cancelled": list(cancelled),
                 "moved": list(moved), "sequence": sequence},
        now=now,
        recipient=email,
        order_id=order_id,
    )  # fmt: skip


# --- cancel without a refund ---------------------------------------------------------------


def cancel_booking(
    conn: duckdb.DuckDBPyConnection, booking_id: str, reason: str, actor: str,
    catalog_path: str, now: datetime,
) -> Outcome:  # fmt: skip
    catalog = catalog_at(catalog_path)
    key = f"cancel:{booking_id}"
    done = staff_actions.find(conn, key)
    if done is not None:
        return Outcome(200, f"{booking_id} was cancelled before", done["details"], already=True)
    booking = bookings.booking_for_action(conn, booking_id)
    if booking is None:
        return Outcome(404, f"no booking {booking_id}")
    if not bookings.cancel_booking(conn, booking_id, now):
        return Outcome(409, f"{booking_id} is already cancelled")
    credit = 0
    if booking["enrolment_id"] is None:  # an Ignite class's place is the program's
        credit = booking["unit_amount"]
        for resource in holds.release_items(conn, [booking["order_item_id"]]):
            place_freed(conn, resource, now)
        order_state.add_credit(conn, booking["order_id"], credit, now)
    else:
        place_freed(conn, booking["slot_key"], now)
    what = f"{booking['student']}: {booking['title']} on {_when(booking['starts_at'], catalog)}"
    queue_change(conn, booking["order_id"], [f"{what} is cancelled"], now, cancelled=[booking_id])
    details = {"booking_id": booking_id, "event_id": booking["event_id"], "credit": credit,
               "credit_text": dollars(credit, booking["currency"])}  # fmt: skip
    staff_actions.record(conn, request_key=key, order_id=booking["order_id"], action="cancel",
                         actor=actor, reason=reason, details=details, now=now)  # fmt: skip
    return Outcome(200, f"{what} cancelled; {details['credit_text']} kept as credit", details)


# --- move ----------------------------------------------------------------------------------


def _target(catalog: Catalog, booking: dict[str, Any], move: MoveRequest) -> tuple[Any, tuple]:
    """The planned event to move to and its capacity options (resource key, capacity)."""
    product_id, kind = booking["product_id"], booking["kind"]
    if kind == "camp":
        session = move.session or booking["session"]
        planned = camp_event(catalog, product_id, move.date, session)
        return planned, ((camp_capacity_key(product_id, move.date), planned.capacity),)
    if kind == "party":
        start = move.start_time or orders.stored_time(booking["start_time"])
        rooms = (move.room,) if move.room else party_room_candidates(catalog, product_id)
        options = []
        for room in rooms:
            planned = party_event(catalog, product_id, move.date, start, room)
            options.append((planned, (planned.slot_key, 1)))
        return options, tuple(option for _, option in options)
    found = ignite_events(catalog, product_id, move.date, move.date)
    if not found:
        raise ScheduleError(f"{product_id} has no class on {move.date:%a %-d %b %Y}")
    return found[0], ((found[0].slot_key, found[0].capacity),)


def _path_of(message: str) -> str:
    """Which field of a move a schedule's refusal is about (core/schedule.py's words)."""
    reason = message.rpartition(": ")[2]
    for words, path in (("start times", "start_time"), ("rooms", "room"),
                        ("session", "session")):  # fmt: skip
        if words in reason:
            return path
    return "date"


def move_booking(
    conn: duckdb.DuckDBPyConnection, booking_id: str, move: MoveRequest, actor: str,
    request_key: str | None, catalog_path: str, now: datetime,
) -> Outcome:  # fmt: skip
    catalog = catalog_at(catalog_path)
    if request_key is not None:
        done = staff_actions.find(conn, request_key)
        if done is not None:
            return Outcome(200, "this move was made before", done["details"], already=True)
    booking = bookings.booking_for_action(conn, booking_id)
    if booking is None:
        return Outcome(404, f"no booking {booking_id}")
    if booking["status"] == "cancelled":
        return Outcome(409, f"{booking_id} is cancelled: a cancelled booking is not moved")
    try:
        planned, options = _target(catalog, booking, move)
    except (KeyError, ScheduleError) as exc:
        message = str(exc).strip("'\"")
        return Outcome(422, "no such place to move to", problems=[
            {"path": _path_of(message), "message": message}])  # fmt: skip
    candidates = planned if isinstance(planned, list) else [(planned, options[0])]
    if any(p.slot_key == booking["slot_key"] for p, _ in candidates):
        return Outcome(200, f"{booking_id} is already there", {"booking_id": booking_id,
                       "event_id": booking["event_id"]}, already=True)  # fmt: skip
    chosen = None
    for target, (key, catalog_capacity) in candidates:
        places = capacity.overrides(conn, [key]).get(key, catalog_capacity)
        if booking["kind"] == "ignite":
            used = bookings.confirmed_in(conn, bookings.event_of_slot(conn, key))
        else:
            used = orders.places_used(conn, key, now)
            if booking["hold_status"] == "converted" and booking["resource_key"] == key:
                used -= 1  # its own place: a camp moved to the other session of its day
        if used + 1 <= places:
            chosen = (target, key)
            break
    if chosen is None:
        return Outcome(409, f"{candidates[0][0].title} on {move.date:%a %-d %b %Y} is full:"
                       " no place to move to (raise its capacity, or pick another)")  # fmt: skip
    target, key = chosen
    event_id = bookings.upsert_event(conn, target, now)
    if bookings.item_booked_in(conn, booking["order_item_id"], event_id):
        return Outcome(409, f"{booking['student']} is already booked into {target.title} then")
    bookings.move_booking(conn, booking_id, event_id, now)
    if booking["kind"] == "ignite":
        place_freed(conn, booking["slot_key"], now)
    else:
        if booking["hold_id"] is None:
            holds.insert_converted(conn, orders.new_id("hold"), booking["order_id"],
                                   booking["order_item_id"], key, now)  # fmt: skip
        else:
            holds.move(conn, booking["hold_id"], key)
        if booking["hold_status"] == "converted" and booking["resource_key"] != key:
            place_freed(conn, booking["resource_key"], now)
        session = getattr(target, "session", None) or move.session or booking["session"]
        start = move.start_time or orders.stored_time(booking["start_time"])
        orders.move_item(conn, booking["order_item_id"], move.date,
                         session if booking["kind"] == "camp" else None,
                         start if booking["kind"] == "party" else None)  # fmt: skip
    change = (f"{booking['student']}: {booking['title']} moved from"
              f" {_when(booking['starts_at'], catalog)} to"
              f" {target.title} on {_when(target.starts_at_naive_utc, catalog)}")  # fmt: skip
    queue_change(conn, booking["order_id"], [change], now, moved=[booking_id])
    details = {"booking_id": booking_id, "from_event_id": booking["event_id"],
               "event_id": event_id, "slot_key": target.slot_key}  # fmt: skip
    staff_actions.record(
        conn, request_key=request_key or f"move:{booking_id}:{target.slot_key}:{now.isoformat()}",
        order_id=booking["order_id"], action="move", actor=actor, reason=move.reason,
        details=details, now=now,
    )  # fmt: skip
    return Outcome(200, change, details)


# --- capacity ------------------------------------------------------------------------------


def resource_of_event(kind: str, slot_key: str) -> str:
    """What an event's places are counted against: a camp's day (both sessions), a party's
    room slot, an Ignite class."""
    return slot_key.rsplit(":", 1)[0] if kind == "camp" else slot_key


def set_capacity(
    conn: duckdb.DuckDBPyConnection, event_id: str, places: int, reason: str, actor: str,
    request_key: str, now: datetime,
) -> Outcome:  # fmt: skip
    row = conn.execute(
        "SELECT kind, slot_key, capacity, title FROM events WHERE event_id = ?", [event_id]
    ).fetchone()
    if row is None:
        return Outcome(404, f"no event {event_id}")
    kind, slot_key, before, title = row
    key = resource_of_event(kind, slot_key)
    done = staff_actions.find(conn, request_key)
    if done is not None:
        return Outcome(200, "this change was made before", done["details"], already=True)
    current = capacity.overrides(conn, [key]).get(key, before)
    if places == current:  # a double click, or nothing to change: one effect
        return Outcome(200, f"{title}: capacity is already {places}",
                       {"event_id": event_id, "resource_key": key, "capacity": places},
                       already=True)  # fmt: skip
    previous = capacity.set_override(conn, key, places, reason, actor, now)
    bookings.set_capacity(conn, key, places, now)
    used = orders.places_used(conn, key, now) if kind != "ignite" else (
        bookings.confirmed_in(conn, event_id))  # fmt: skip
    details = {"event_id": event_id, "resource_key": key, "capacity": places,
               "before": previous if previous is not None else before, "used": used}  # fmt: skip
    if places > details["before"]:
        place_freed(conn, key, now)
    staff_actions.record(conn, request_key=request_key, order_id=None, action="capacity",
                         actor=actor, reason=reason, details=details, now=now)  # fmt: skip
    message = f"{title}: capacity {details['before']} -> {places} ({used} taken)"
    if used > places:
        message += f"; {used - places} over: move or cancel bookings"
    return Outcome(200, message, details)


# --- refunds by item, when Stripe's charge.refunded arrives ---------------------------------


def apply_item_refunds(
    conn: duckdb.DuckDBPyConnection, order_id: str, refunds: list[dict[str, Any]],
    catalog: Catalog, now: datetime,
) -> None:  # fmt: skip
    """Staff refunds now covered by Stripe's refunded total (`store.staff_refunds.
    apply_covered`): their items' bookings are cancelled (once), places freed, family told.
    A refund from an Ignite invoice cancels the classes that invoice paid for that are still
    to come (none once its period is over), not the enrolment's other periods'."""
    items = [item for refund in refunds for item in refund["items"]]
    if not items:
        return
    before = {
        booking_id: bookings.booking_for_action(conn, booking_id)
        for (booking_id,) in conn.execute(
            "SELECT booking_id FROM bookings WHERE order_item_id IN (SELECT unnest(?))"
            " AND status <> 'cancelled'",
            [items],
        ).fetchall()
    }
    enrolled = {
        item for (item,) in conn.execute(
            "SELECT order_item_id FROM order_items WHERE order_item_id IN (SELECT unnest(?))"
            " AND kind = 'ignite'",
            [items],
        ).fetchall()
    }  # fmt: skip
    whole = [i for r in refunds for i in r["items"] if not (r.get("invoice_id") and i in enrolled)]
    cancelled = bookings.cancel_item_bookings(conn, whole, now) if whole else []
    for refund in refunds:
        classes = [i for i in refund["items"] if i in enrolled]
        if refund.get("invoice_id") and classes:
            cancelled += bookings.cancel_invoice_classes(conn, classes, refund["invoice_id"], now)
    # An Ignite enrolment keeps its place in the program while its subscription lasts
    # (ending it releases the place); the classes cancelled free theirs.
    for resource in holds.release_items(conn, [i for i in items if i not in enrolled]):
        place_freed(conn, resource, now)
    for booking_id in cancelled:
        booking = before.get(booking_id)
        if booking is not None and booking["enrolment_id"] is not None:
            place_freed(conn, booking["slot_key"], now)
    if cancelled:
        changes = [
            f"{b['student']}: {b['title']} on {_when(b['starts_at'], catalog)} is cancelled"
            " and refunded"
            for b in (before[i] for i in cancelled if before.get(i))
        ]
        queue_change(conn, order_id, changes, now, cancelled=cancelled)


# --- what the sidecar records after Stripe answered -----------------------------------------


def record_refund(
    conn: duckdb.DuckDBPyConnection, key: str, refund_id: str, order_id: str, actor: str,
    reason: str, details: dict[str, Any], now: datetime,
) -> None:  # fmt: skip
    """Stripe made the refund asked for under `key`: its id, and the action, once."""
    staff_refunds.answered(conn, key, refund_id)
    staff_actions.record(conn, request_key=f"refund:{key}", order_id=order_id, action="refund",
                         actor=actor, reason=reason, details=details, now=now)  # fmt: skip


def record_ending(
    conn: duckdb.DuckDBPyConnection, subscription_id: str, claim_id: str, request_key: str,
    order_id: str, actor: str, reason: str, details: dict[str, Any], now: datetime,
) -> None:  # fmt: skip
    """Stripe ended the subscription asked for under the claim `claim_id`: the claim is
    done and the action recorded, in one transaction (store/subscription_endings.py)."""
    subscription_endings.complete(conn, subscription_id, claim_id, now)
    staff_actions.record(conn, request_key=request_key, order_id=order_id,
                         action="end_subscription", actor=actor, reason=reason,
                         details=details, now=now)  # fmt: skip


def subscription_of(conn: duckdb.DuckDBPyConnection, order_id: str) -> str | None:
    row = conn.execute(
        "SELECT subscription_id FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()
    return row[0] if row else None

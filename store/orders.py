"""Orders, their students and items, and the holds that keep their places while they pay.

Capacity is a ledger of holds. A hold is `active` until it expires, `converted` once the
order is paid (the place is then taken for good), and `released` when the order expires,
fails or is refunded. The places used on a resource are the seats of its converted holds
and of its active holds that have not yet expired. `place_order` checks and takes places
inside one write transaction, and every write goes through the store's single writer, so
two checkouts can never both take the last seat.

`place_checkout` adds the abuse limits (docs/security.md, Abuse limits) to the same write:
what one mailbox and one client address hold unpaid is counted from these holds, and a
new checkout of a mailbox replaces that mailbox's earlier unpaid ones.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

import duckdb

from core.cart import Cart
from core.catalog import Catalog
from core.checkout import HoldLimits, HoldRequest, hold_expiry, hold_requests
from core.validation import address_key


@dataclass(frozen=True)
class NewOrder:
    order_id: str
    cart: Cart
    holds: tuple[HoldRequest, ...]
    now: datetime  # naive UTC, as every stored timestamp
    expires_at: datetime  # naive UTC
    holder_email: str | None = None  # the mailbox (core/validation.address_key)
    holder_client: str | None = None  # the client address (sidecar/clients.py)


def new_order(
    order_id: str, cart: Cart, catalog: Catalog, now: datetime, client: str | None = None
) -> NewOrder:
    """A pending order for `cart`, holding its places for HOLD_MINUTES from `now` (aware)."""
    return NewOrder(
        order_id,
        cart,
        tuple(hold_requests(cart, catalog)),
        now.astimezone(UTC).replace(tzinfo=None),
        hold_expiry(now).astimezone(UTC).replace(tzinfo=None),
        address_key(cart.customer.email),
        client,
    )


@dataclass(frozen=True)
class Placed:
    """What `place_checkout` did: the order is stored when `problems` and `refusal` are
    empty; `replaced_sessions` are the Checkout Sessions of the mailbox's earlier unpaid
    orders, now released, for the caller to expire at Stripe."""

    problems: list[dict[str, str]] = field(default_factory=list)  # 409: places gone
    refusal: str | None = None  # 429: a limit, and what it is
    retry_after: int | None = None  # seconds, when waiting for holds to lapse would help
    replaced_sessions: list[str] = field(default_factory=list)


def place_checkout(conn: duckdb.DuckDBPyConnection, order: NewOrder, limits: HoldLimits) -> Placed:
    """`place_order` within the abuse limits, in the one write that takes the places."""
    places = sum(request.seats for request in order.holds)
    if places > limits.per_email:
        return Placed(
            refusal=f"one email address may hold at most {limits.per_email} places unpaid at "
            f"once, and this cart has {places}: check out {limits.per_email} or fewer, pay, "
            "then book the rest"
        )
    # The mailbox's earlier unpaid checkouts: this one replaces them.
    replaced = [
        (order_id, session_id)
        for order_id, session_id in conn.execute(
            "SELECT DISTINCT o.order_id, o.checkout_session_id FROM orders o"
            " JOIN holds h ON h.order_id = o.order_id"
            " WHERE o.hold_email = ? AND o.payment_status = 'pending'"
            " AND h.status = 'active' AND h.expires_at > ?",
            [order.holder_email, order.now],
        ).fetchall()
    ]
    replacing = tuple(order_id for order_id, _ in replaced)
    if order.holder_client is not None:
        refusal = _client_refusal(conn, order, limits, replacing)
        if refusal is not None:
            return refusal
    problems = place_order(conn, order, replacing)
    if problems:
        return Placed(problems=problems)
    for order_id in replacing:
        conn.execute(
            "UPDATE holds SET status = 'released' WHERE order_id = ? AND status = 'active'",
            [order_id],
        )
        conn.execute(
            "UPDATE orders SET payment_status = 'expired', attention_reason = ?, updated_at = ?"
            " WHERE order_id = ? AND payment_status = 'pending'",
            [f"replaced by a newer checkout of the same email address ({order.order_id})",
             order.now, order_id],
        )  # fmt: skip
    return Placed(replaced_sessions=[s for _, s in replaced if s])


def _client_refusal(
    conn: duckdb.DuckDBPyConnection,
    order: NewOrder,
    limits: HoldLimits,
    replacing: tuple[str, ...],
) -> Placed | None:
    """A refusal when this client would hold more than it may, else None."""
    held = [
        (key, seats, expires_at)
        for order_id, key, seats, expires_at in conn.execute(
            "SELECT h.order_id, h.resource_key, h.seats, h.expires_at FROM holds h"
            " JOIN orders o ON o.order_id = h.order_id"
            " WHERE o.hold_client = ? AND o.payment_status = 'pending'"
            " AND h.status = 'active' AND h.expires_at > ?",
            [order.holder_client, order.now],
        ).fetchall()
        if order_id not in replacing
    ]
    places = sum(request.seats for request in order.holds)
    if limits.per_client:
        if places > limits.per_client:
            return Placed(
                refusal=f"one client may hold at most {limits.per_client} places unpaid at "
                f"once, and this cart has {places}"
            )
        wait = _wait_for_room(held, places, limits.per_client, order.now)
        if wait is not None:
            return Placed(
                refusal=f"this client already holds places unpaid, and may hold at most "
                f"{limits.per_client} at once",
                retry_after=wait,
            )
    groups: dict[tuple[str, ...], list[HoldRequest]] = {}
    for request in order.holds:
        groups.setdefault(tuple(key for key, _ in request.options), []).append(request)
    for keys, requests in groups.items():
        share = limits.client_share(requests[0].capacity)
        if share is None:
            continue
        wanted = sum(request.seats for request in requests)
        what = f"the {requests[0].capacity} places of {requests[0].label}"
        if wanted > share:
            return Placed(refusal=f"one client may hold at most {share} of {what} unpaid")
        wait = _wait_for_room([h for h in held if h[0] in keys], wanted, share, order.now)
        if wait is not None:
            return Placed(
                refusal=f"one client may hold at most {share} of {what} unpaid at once",
                retry_after=wait,
            )
    return None


def _wait_for_room(
    held: Iterable[tuple[str, int, datetime]], wanted: int, limit: int, now: datetime
) -> int | None:
    """Seconds until enough of `held` lapses for `wanted` more to fit under `limit`; None
    when they fit now."""
    holds = sorted(held, key=lambda h: h[2])
    excess = sum(seats for _, seats, _ in holds) + wanted - limit
    if excess <= 0:
        return None
    freed = 0
    for _, seats, expires_at in holds:
        freed += seats
        if freed >= excess:
            return max(1, math.ceil((expires_at - now).total_seconds()))
    return None  # unreachable: wanted <= limit was checked first


def new_id(prefix: str) -> str:
    """Random and unguessable: order ids are shown to customers and open their status."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"


def places_used(
    conn: duckdb.DuckDBPyConnection, resource_key: str, now: datetime, freeing: Iterable[str] = ()
) -> int:
    """Seats taken or held on a resource, not counting the holds of the orders `freeing`
    (those a new checkout replaces)."""
    freeing = list(freeing)
    unless = f" AND order_id NOT IN ({', '.join('?' * len(freeing))})" if freeing else ""
    return conn.execute(
        "SELECT coalesce(sum(seats), 0) FROM holds WHERE resource_key = ?"
        " AND (status = 'converted' OR (status = 'active' AND expires_at > ?))" + unless,
        [resource_key, now, *freeing],
    ).fetchone()[0]


def place_order(
    conn: duckdb.DuckDBPyConnection, order: NewOrder, replacing: tuple[str, ...] = ()
) -> list[dict[str, str]]:
    """Take a place for every item and store the pending order; or, when any item's places
    are gone, store nothing and return a problem per unavailable item. The places held by
    the orders `replacing` count as free (the caller releases them in the same write)."""
    taken_here: dict[str, int] = {}  # two items of this cart on the same resource
    chosen: dict[int, str] = {}
    problems = []
    for request in order.holds:
        for key, capacity in request.options:
            used = places_used(conn, key, order.now, replacing) + taken_here.get(key, 0)
            if used + request.seats <= capacity:
                chosen[request.position] = key
                taken_here[key] = taken_here.get(key, 0) + request.seats
                break
        else:
            problems.append({"path": f"items[{request.position}]", "message": request.unavailable})
    if problems:
        return problems

    cart = order.cart
    conn.execute(
        "INSERT INTO orders (order_id, source, mode, payment_status, fulfillment_status,"
        " customer_email, customer_name, currency, amount_total, kinds, created_at, updated_at,"
        " expires_at, hold_email, hold_client)"
        " VALUES (?, 'checkout', ?, 'pending', 'waiting', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            order.order_id,
            cart.mode,
            cart.customer.email,
            cart.customer.name,
            cart.currency,
            cart.amount_total,
            kinds_of(cart),
            order.now,
            order.now,
            order.expires_at,
            order.holder_email,
            order.holder_client,
        ],
    )
    student_ids = insert_students(conn, order.order_id, cart)
    for item in cart.items:
        item_id = f"{order.order_id}:{item.position}"
        insert_item(conn, order.order_id, item_id, item, student_ids[student_key(item)], order.now)
        request = next(r for r in order.holds if r.position == item.position)
        conn.execute(
            "INSERT INTO holds (hold_id, order_id, order_item_id, resource_key, seats, status,"
            " expires_at, created_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?)",
            [
                new_id("hold"),
                order.order_id,
                item_id,
                chosen[item.position],
                request.seats,
                order.expires_at,
                order.now,
            ],
        )
    return []


def kinds_of(cart: Cart) -> str:
    """What an order is of, as `orders.kinds` keeps it: "camp", "camp,party" …"""
    return ",".join(sorted({item.kind for item in cart.items}))


def insert_students(conn: duckdb.DuckDBPyConnection, order_id: str, cart: Cart) -> dict[str, str]:
    """One row per child in the order (a child in two items is one student)."""
    ids: dict[str, str] = {}
    for item in cart.items:
        key = student_key(item)
        if key in ids:
            continue
        ids[key] = new_id("stu")
        student = item.student
        conn.execute(
            "INSERT INTO students (student_id, order_id, name, age, date_of_birth, notes)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [ids[key], order_id, student.name, student.age, student.date_of_birth, student.notes],
        )
    return ids


def insert_item(
    conn: duckdb.DuckDBPyConnection,
    order_id: str,
    item_id: str,
    item: Any,
    student_id: str,
    created_at: datetime,
) -> None:
    """An item of an order, made with it (`created_at` is the order's)."""
    conn.execute(
        "INSERT INTO order_items (order_item_id, order_id, position, product_id, kind,"
        " item_date, session, start_time, student_id, unit_amount, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            item_id,
            order_id,
            item.position,
            item.product_id,
            item.kind,
            item.date,
            item.session,
            item.start_time.strftime("%H:%M") if item.start_time else None,
            student_id,
            item.unit_amount,
            created_at,
        ],
    )


def stored_time(value: str | None) -> time | None:
    """An order item's start time as `insert_item` stores it ("HH:MM")."""
    return time.fromisoformat(value) if value else None


def student_key(item: Any) -> str:
    """Which student row an item is for: one per child per order, by name."""
    return " ".join(item.student.name.casefold().split())


def attach_checkout_session(
    conn: duckdb.DuckDBPyConnection, order_id: str, session_id: str, now: datetime
) -> None:
    conn.execute(
        "UPDATE orders SET checkout_session_id = ?, updated_at = ? WHERE order_id = ?",
        [session_id, now, order_id],
    )


def abandon_checkout(
    conn: duckdb.DuckDBPyConnection, order_id: str, reason: str, now: datetime
) -> None:
    """The Checkout Session could not be created: free the places, keep the order as failed."""
    conn.execute(
        "UPDATE holds SET status = 'released' WHERE order_id = ? AND status = 'active'",
        [order_id],
    )
    conn.execute(
        "UPDATE orders SET payment_status = 'failed', attention_reason = ?, updated_at = ?"
        " WHERE order_id = ? AND payment_status = 'pending'",
        [reason, now, order_id],
    )


def release_abandoned_checkout(
    conn: duckdb.DuckDBPyConnection, order_id: str, now: datetime
) -> None:
    """The parent left Stripe Checkout and its session is now expired: give the places back
    at once rather than when the hold lapses (checkout.session.expired does the same)."""
    updated = conn.execute(
        "UPDATE orders SET payment_status = 'expired', updated_at = ?"
        " WHERE order_id = ? AND payment_status = 'pending' RETURNING order_id",
        [now, order_id],
    ).fetchall()
    if updated:
        conn.execute(
            "UPDATE holds SET status = 'released' WHERE order_id = ? AND status = 'active'",
            [order_id],
        )


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

"""Orders, their students and items, and the holds that keep their places while they pay.

Capacity is a ledger of holds. A hold is `active` until it expires, `converted` once the
order is paid (the place is then taken for good), and `released` when the order expires,
fails or is refunded. The places used on a resource are the seats of its converted holds
and of its active holds that have not yet expired. `place_order` checks and takes places
inside one write transaction. On DuckDB every write goes through the store's single writer;
on PostgreSQL, where each sidecar has a writer of its own, the check first takes an
advisory lock on each resource it counts (`store/locks.py`, `lock_places`), held until
the commit. Either way two checkouts can never both take the last seat.

`place_checkout` adds the abuse limits (docs/security.md, Abuse limits) to the same write:
what one mailbox and one client address hold unpaid is counted from these holds, and a
new checkout of a mailbox replaces that mailbox's earlier unpaid ones.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

import duckdb

from core.cart import Cart, Contact
from core.catalog import Catalog
from core.checkout import HoldLimits, HoldRequest, hold_expiry, hold_requests
from core.validation import address_key
from store import holds, locks
from store.capacity import with_overrides


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
        holds.release_active(conn, order_id)
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


def lock_places(conn: duckdb.DuckDBPyConnection, resource_keys: Iterable[str]) -> None:
    """Hold these resources' places until the commit: a count of them and the holds it
    allows are then one step for every sidecar (PostgreSQL; nothing on DuckDB). Take every
    resource a write may count at once, so that the locks come in one sorted order."""
    locks.lock_keys(conn, locks.PLACES, resource_keys)


def places_used(
    conn: duckdb.DuckDBPyConnection, resource_key: str, now: datetime, freeing: Iterable[str] = ()
) -> int:
    """Seats taken or held on a resource, not counting the holds of the orders `freeing`
    (those a new checkout replaces)."""
    lock_places(conn, [resource_key])
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
    lock_places(conn, [key for request in order.holds for key, _ in request.options])
    taken_here: dict[str, int] = {}  # two items of this cart on the same resource
    chosen: dict[int, str] = {}
    problems = []
    for request in order.holds:
        # Staff's capacity overrides (store/capacity.py) before the catalog's.
        for key, capacity in with_overrides(conn, request.options):
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
        " expires_at, hold_email, hold_client, customer_phone)"
        " VALUES (?, 'checkout', ?, 'pending', 'waiting', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            cart.customer.phone,
        ],
    )
    student_ids = insert_students(conn, order.order_id, cart)
    for item in cart.items:
        item_id = f"{order.order_id}:{item.position}"
        insert_item(conn, order.order_id, item_id, item, student_ids[student_key(item)], order.now)
        request = next(r for r in order.holds if r.position == item.position)
        holds.insert_active(
            conn, new_id("hold"), order.order_id, item_id, chosen[item.position], request.seats,
            order.expires_at, order.now,
        )  # fmt: skip
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
            "INSERT INTO students (student_id, order_id, name, age, date_of_birth, notes,"
            " emergency_contacts, authorised_collectors) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ids[key], order_id, student.name, student.age, student.date_of_birth,
                student.notes, contacts_json(student.emergency_contacts),
                contacts_json(student.authorised_collectors),
            ],
        )  # fmt: skip
    return ids


def contacts_json(contacts: tuple[Contact, ...]) -> str | None:
    """Emergency contacts or collectors as `students` keeps them; None when there are none."""
    return json.dumps([c.as_dict() for c in contacts]) if contacts else None


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
    holds.release_active(conn, order_id)
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
        holds.release_active(conn, order_id)


def move_item(
    conn: duckdb.DuckDBPyConnection, item_id: str, day: Any, session: str | None,
    start: time | None,
) -> None:  # fmt: skip
    """Staff moved an item's booking: the item says where it is now."""
    conn.execute(
        "UPDATE order_items SET item_date = ?, session = ?, start_time = ? WHERE order_item_id = ?",
        [day, session, start.strftime("%H:%M") if start else None, item_id],
    )

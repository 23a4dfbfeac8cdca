"""Fulfilment in batches: the common case for many orders in a handful of statements.

DuckDB spends a few tenths of a millisecond on every statement, whatever it touches, so
running the pipeline order by order (about thirty statements each) caps fulfilment at a
few dozen orders a second. These functions do the same work for a whole batch with a fixed
number of set-based statements:

- `apply_payments`: payment events of orders we already have (our checkout's orders);
- `create_metadata_orders`: payment events whose cart is in the payment's metadata (taken
  outside our checkout), for orders we do not have yet;
- `convert_holds`: create_bookings for orders whose holds are all still valid;
- `take_places`: create_bookings for the others (no hold, a lapsed one), place by place;
- `book_events`: schedule_events for orders whose places are all taken.

Each returns what it could not do in bulk (an unknown order, a lapsed hold, a refund …)
and the worker runs those one by one through `fulfilment.handlers`, the reference
implementation these must agree with. A batch is one job: if anything in it raises, it
is rolled back whole and every item goes the one-by-one way.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb

from core.cart import InvalidCart
from core.cart_metadata import parse_metadata_cart
from core.catalog import Catalog
from core.checkout import hold_options
from core.payments import facts_from, has_cart, payment_problem
from core.schedule import ScheduleError, camp_event, party_event
from fulfilment.handlers import ensure_enrolments, queue_confirmations, queue_staff_notices
from store import orders

# Payment events whose whole effect, for an order we have, is "this order is paid".
_PAYMENT_TYPES = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "payment_intent.succeeded",
)


def _payments(
    conn: duckdb.DuckDBPyConnection, event_ids: list[str], livemode: bool
) -> list[tuple[str, Any]]:
    """(event id, payment facts) of those events, not yet processed, that say a payment
    went through (a checkout session still unpaid, BECS for one, does not), in the mode of
    our Stripe key (one by one refuses the others)."""
    paid = []
    for event_id, event_type, payload, event_livemode in conn.execute(
        "SELECT event_id, type, payload, livemode FROM webhook_inbox"
        " WHERE event_id IN (SELECT unnest(?)) AND status = 'received'",
        [event_ids],
    ).fetchall():
        if event_type not in _PAYMENT_TYPES or event_livemode != livemode:
            continue
        obj = json.loads(payload)["data"]["object"]
        if event_type == "checkout.session.completed" and obj.get("payment_status") not in (
            "paid",
            "no_payment_required",
        ):
            continue
        paid.append((event_id, facts_from(event_type, obj)))
    return paid


def apply_payments(
    conn: duckdb.DuckDBPyConnection, event_ids: list[str], now: datetime, livemode: bool
) -> list[str]:
    """Mark paid the orders these payment events are for; returns the events left over.
    An order with a payment of the wrong amount or currency in the batch is left whole to
    the one-by-one path, which records it and flags the order."""
    candidates: dict[str, tuple[str, Any]] = {}  # event id -> (order key, facts)
    for event_id, facts in _payments(conn, event_ids, livemode):
        if facts.order_id:
            candidates[event_id] = (facts.order_id, facts)
    if not candidates:
        return list(event_ids)
    known = {
        order_id: (payment_status, fulfillment_status, amount_total, currency)
        for order_id, payment_status, fulfillment_status, amount_total, currency in conn.execute(
            "SELECT order_id, payment_status, fulfillment_status, amount_total, currency"
            " FROM orders WHERE order_id IN (SELECT unnest(?))",
            [[key for key, _ in candidates.values()]],
        ).fetchall()
    }
    wrong_money = {
        order_id
        for order_id, facts in candidates.values()
        if order_id in known
        and payment_problem(known[order_id][2], known[order_id][3], facts.amount, facts.currency)
    }
    # Our own orders, not yet paid, waiting: everything else takes the one-by-one path.
    applied = {
        event_id: (order_id, facts)
        for event_id, (order_id, facts) in candidates.items()
        if order_id in known
        and order_id not in wrong_money
        and known[order_id][0] in ("pending", "failed", "expired", "paid")
        and known[order_id][1] in ("waiting", "in_progress", "fulfilled")
    }
    if not applied:
        return list(event_ids)
    # Ids are linked from the first event of each order, as one by one would.
    first: dict[str, Any] = {}
    for order_id, facts in applied.values():
        first.setdefault(order_id, facts)
    order_ids = list(first)
    conn.execute(
        "UPDATE orders SET checkout_session_id = coalesce(orders.checkout_session_id, n.cs),"
        " payment_intent_id = coalesce(orders.payment_intent_id, n.pi),"
        " subscription_id = coalesce(orders.subscription_id, n.sub),"
        " stripe_customer_id = coalesce(orders.stripe_customer_id, n.cus)"
        " FROM (SELECT unnest(?) AS id, unnest(?) AS cs, unnest(?) AS pi, unnest(?) AS sub,"
        " unnest(?) AS cus) n WHERE orders.order_id = n.id",
        [
            order_ids,
            [f.checkout_session_id for f in first.values()],
            [f.payment_intent_id for f in first.values()],
            [f.subscription_id for f in first.values()],
            [f.customer_id for f in first.values()],
        ],
    )
    # State only moves forward: the first payment event of an order makes it paid (and
    # queues its steps); any later one, in this batch or after, changes nothing.
    newly_paid = [
        row[0]
        for row in conn.execute(
            # What Stripe says was paid: the order's total (any other amount was left above).
            "UPDATE orders SET payment_status = 'paid', paid_at = ?, updated_at = ?,"
            " amount_paid = n.paid, fulfillment_status = CASE fulfillment_status"
            " WHEN 'waiting' THEN 'in_progress' ELSE fulfillment_status END"
            " FROM (SELECT unnest(?) AS id, unnest(?) AS paid) n WHERE orders.order_id = n.id"
            " AND payment_status IN ('pending', 'failed', 'expired') RETURNING orders.order_id",
            [now, now, order_ids, [f.amount for f in first.values()]],
        ).fetchall()
    ]
    if newly_paid:
        _queue_steps(conn, newly_paid, now)
    _mark_processed(conn, {event_id: order_id for event_id, (order_id, _) in applied.items()}, now)
    return [event_id for event_id in event_ids if event_id not in applied]


def _queue_steps(conn: duckdb.DuckDBPyConnection, order_ids: list[str], now: datetime) -> None:
    """The steps of orders just paid: record_payment done, the rest pending (as _mark_paid)."""
    conn.execute(
        "INSERT INTO fulfilment_steps (order_id, step, status, attempts, next_attempt_at,"
        " updated_at, finished_at, created_at)"
        " SELECT o.id, s.step, s.status, s.attempts,"
        " CASE s.step WHEN 'create_bookings' THEN ?::TIMESTAMP END, ?, CASE s.status"
        " WHEN 'done' THEN ?::TIMESTAMP END, ? FROM (SELECT unnest(?) AS id) o CROSS JOIN"
        " (VALUES ('record_payment', 'done', 1), ('create_bookings', 'pending', 0),"
        " ('schedule_events', 'pending', 0), ('send_confirmation', 'pending', 0),"
        " ('notify_staff', 'pending', 0))"
        " s(step, status, attempts)",
        [now, now, now, now, order_ids],
    )


def _mark_processed(
    conn: duckdb.DuckDBPyConnection, order_of_event: dict[str, str], now: datetime
) -> None:
    conn.execute(
        "UPDATE webhook_inbox SET status = 'processed', attempts = attempts + 1,"
        " processed_at = ?, last_error = NULL, next_attempt_at = NULL, order_id = n.order_id"
        " FROM (SELECT unnest(?) AS event_id, unnest(?) AS order_id) n"
        " WHERE webhook_inbox.event_id = n.event_id",
        [now, list(order_of_event), list(order_of_event.values())],
    )


def create_metadata_orders(
    conn: duckdb.DuckDBPyConnection,
    event_ids: list[str],
    catalog: Catalog,
    now: datetime,
    livemode: bool,
) -> list[str]:
    """Make, mark paid and queue the steps of the orders whose carts are in these payment
    events' metadata, as `fulfilment._order_from_metadata`, `_link` and `_mark_paid` do one
    by one; returns the events left over. Left over: anything but a paid one-off cart that
    parses (a bad cart, an Ignite cart, our own order id), a payment we already have an
    order for, a payment of another amount or currency than its cart, and a later event of
    a payment met earlier in this batch (one by one it finds the order)."""
    found: dict[str, tuple[Any, Any]] = {}  # event id -> (facts, cart)
    payments: set[str] = set()  # the cs_/pi_ ids of the payments in `found`
    seen: set[str] = set()  # the cs_/pi_ ids of every payment met so far
    for event_id, facts in _payments(conn, event_ids, livemode):
        if facts.order_id or not has_cart(facts) or facts.subscription_id:
            continue
        keys = {facts.checkout_session_id, facts.payment_intent_id} - {None}
        if not keys or keys & seen:
            seen |= keys
            continue
        seen |= keys
        try:
            cart = parse_metadata_cart(facts.metadata, catalog, facts.email, facts.name)
        except InvalidCart:
            continue  # one by one records the payment on an order that needs attention
        if cart.mode != "payment":
            continue
        if payment_problem(cart.amount_total, cart.currency, facts.amount, facts.currency):
            continue  # one by one records it on an order that needs attention
        found[event_id] = (facts, cart)
        payments |= keys
    if found:
        existing = {
            row[0]
            for row in conn.execute(
                "SELECT unnest([checkout_session_id, payment_intent_id]) FROM orders"
                " WHERE checkout_session_id IN (SELECT unnest($1))"
                " OR payment_intent_id IN (SELECT unnest($1))",
                [sorted(payments)],
            ).fetchall()
        }
        found = {
            event_id: (facts, cart)
            for event_id, (facts, cart) in found.items()
            if not {facts.checkout_session_id, facts.payment_intent_id} & existing
        }
    if not found:
        return list(event_ids)
    order_of_event = {event_id: orders.new_id("ord") for event_id in found}
    made = [(order_of_event[event_id], facts, cart) for event_id, (facts, cart) in found.items()]
    conn.execute(
        "INSERT INTO orders (order_id, source, mode, payment_status, fulfillment_status,"
        " customer_email, customer_name, currency, amount_total, amount_paid, kinds,"
        " checkout_session_id, payment_intent_id, stripe_customer_id, paid_at, created_at,"
        " updated_at)"
        " SELECT unnest(?), 'metadata', 'payment', 'paid', 'in_progress', unnest(?), unnest(?),"
        " unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), ?, ?, ?",
        [
            [order_id for order_id, _, _ in made],
            [cart.customer.email for _, _, cart in made],
            [cart.customer.name for _, _, cart in made],
            [cart.currency or "aud" for _, _, cart in made],
            [cart.amount_total for _, _, cart in made],
            [facts.amount for _, facts, _ in made],  # the cart's total: checked above
            [orders.kinds_of(cart) for _, _, cart in made],
            [facts.checkout_session_id for _, facts, _ in made],
            [facts.payment_intent_id for _, facts, _ in made],
            [facts.customer_id for _, facts, _ in made],
            now, now, now,
        ],
    )  # fmt: skip
    students, items = [], []
    for order_id, _, cart in made:
        student_ids: dict[str, str] = {}
        for item in cart.items:
            key = orders.student_key(item)
            if key not in student_ids:
                student_ids[key] = orders.new_id("stu")
                s = item.student
                students.append(
                    (student_ids[key], order_id, s.name, s.age, s.date_of_birth, s.notes)
                )
            items.append(
                (f"{order_id}:{item.position}", order_id, item.position, item.product_id,
                 item.kind, item.date, item.session,
                 item.start_time.strftime("%H:%M") if item.start_time else None,
                 student_ids[key], item.unit_amount)
            )  # fmt: skip
    conn.execute(
        "INSERT INTO students (student_id, order_id, name, age, date_of_birth, notes)"
        " SELECT unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), unnest(?)",
        [list(column) for column in zip(*students, strict=True)],
    )
    conn.execute(
        "INSERT INTO order_items (order_item_id, order_id, position, product_id, kind,"
        " item_date, session, start_time, student_id, unit_amount, created_at)"
        " SELECT unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), unnest(?),"
        " unnest(?), unnest(?), unnest(?), ?",
        [*(list(column) for column in zip(*items, strict=True)), now],
    )
    _queue_steps(conn, [order_id for order_id, _, _ in made], now)
    _mark_processed(conn, order_of_event, now)
    return [event_id for event_id in event_ids if event_id not in found]


def _finish_steps(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], step: str, then: str | None,
    now: datetime,
) -> None:  # fmt: skip
    conn.execute(
        "UPDATE fulfilment_steps SET status = 'done', attempts = attempts + 1,"
        " next_attempt_at = NULL, last_error = NULL, updated_at = ?, finished_at = ?"
        " WHERE step = ? AND order_id IN (SELECT unnest(?))",
        [now, now, step, order_ids],
    )
    if then:
        conn.execute(
            "UPDATE fulfilment_steps SET next_attempt_at = ?, updated_at = ?"
            " WHERE step = ? AND status = 'pending' AND order_id IN (SELECT unnest(?))",
            [now, now, then, order_ids],
        )


def _pending(conn: duckdb.DuckDBPyConnection, step: str, order_ids: list[str]) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT order_id FROM fulfilment_steps WHERE step = ? AND status = 'pending'"
            " AND order_id IN (SELECT unnest(?))",
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
        conn.execute(
            "UPDATE holds SET status = 'converted' WHERE status = 'active'"
            " AND order_id IN (SELECT unnest(?))",
            [ready],
        )
        ensure_enrolments(conn, ready, None, now)
        _finish_steps(conn, ready, "create_bookings", "schedule_events", now)
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
    the order given, exactly as `fulfilment.create_bookings` does one order after another.
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
        conn.execute(
            "UPDATE holds SET status = 'converted' WHERE hold_id IN (SELECT unnest(?))",
            [converted],
        )
    if retaken:
        conn.execute(
            "UPDATE holds SET status = 'converted', resource_key = n.key"
            " FROM (SELECT unnest(?) AS id, unnest(?) AS key) n WHERE holds.hold_id = n.id",
            [[hold_id for hold_id, _ in retaken], [key for _, key in retaken]],
        )
    if new:
        conn.execute(
            "INSERT INTO holds (hold_id, order_id, order_item_id, resource_key, seats, status,"
            " expires_at, created_at)"
            " SELECT unnest(?), unnest(?), unnest(?), unnest(?), 1, 'converted', ?, ?",
            [[orders.new_id("hold") for _ in new], [o for o, _, _ in new],
             [i for _, i, _ in new], [k for _, _, k in new], now, now],
        )  # fmt: skip
    _finish_steps(conn, done, "create_bookings", "schedule_events", now)
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
        " WHERE i.order_id IN (SELECT unnest(?))",
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
        new_ids = [orders.new_id("cal") for _ in new]
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
        existing.update(zip((p.slot_key for p in new), new_ids, strict=True))
    if planned_items:
        conn.execute(
            "INSERT INTO bookings (booking_id, order_id, order_item_id, student_id, event_id,"
            " status, created_at, updated_at) SELECT unnest(?), unnest(?), unnest(?),"
            " unnest(?), unnest(?), 'confirmed', ?, ?",
            [
                [orders.new_id("bkg") for _ in planned_items],
                [order_id for order_id, _, _, _ in planned_items],
                [item_id for _, item_id, _, _ in planned_items],
                [student for _, _, student, _ in planned_items],
                [existing[p.slot_key] for _, _, _, p in planned_items],
                now,
                now,
            ],
        )
    _finish_steps(conn, ready, "schedule_events", "send_confirmation", now)
    return [order_id for order_id in order_ids if order_id not in set(ready)]


def confirm(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], catalog: Catalog, now: datetime
) -> list[str]:
    """send_confirmation for many orders: their emails queued."""
    pending = _pending(conn, "send_confirmation", order_ids)
    if pending:
        queue_confirmations(conn, pending, now)
        _finish_steps(conn, pending, "send_confirmation", "notify_staff", now)
    return [order_id for order_id in order_ids if order_id not in set(pending)]


def notify(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], catalog: Catalog, now: datetime
) -> list[str]:
    """notify_staff for many orders: one Slack message each, queued; orders fulfilled."""
    pending = _pending(conn, "notify_staff", order_ids)
    if pending:
        queue_staff_notices(conn, pending, catalog, now)
        _finish_steps(conn, pending, "notify_staff", None, now)
    return [order_id for order_id in order_ids if order_id not in set(pending)]

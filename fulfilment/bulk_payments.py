"""Payment events in batches: the common case for many orders in a handful of statements.

DuckDB spends a few tenths of a millisecond on every statement, whatever it touches, so
running the pipeline order by order (about thirty statements each) caps fulfilment at a
few dozen orders a second. These functions (and `fulfilment.bulk_steps`, for the steps) do
the same work for a whole batch with a fixed number of set-based statements:

- `apply_payments`: payment events of orders we already have (our checkout's orders);
- `create_metadata_orders`: payment events whose cart is in the payment's metadata (taken
  outside our checkout), for orders we do not have yet;
- `record_unusable_payments`: payment events without a usable cart (an order we do not
  know, a broken or missing cart): not ours in a shared account when unmarked, else orders
  that need attention, in one grouped error-log entry (a flood costs what the bulk path
  costs, issue 16).

Each returns what it could not do in bulk (an unknown order, a refund …) and the worker
runs those one by one through `fulfilment.events`, the reference implementation these must
agree with. A batch is one job: if anything in it raises, it is rolled back whole and every
item goes the one-by-one way.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb

from core.cart import InvalidCart
from core.cart_metadata import parse_metadata_cart
from core.catalog import Catalog
from core.ownership import has_marker, why_not_ours
from core.payments import facts_from, has_cart, payment_problem
from fulfilment.event_orders import log_unusable
from store import fulfilment_steps, inbox, order_state, orders
from store.locks import skip_locked

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
        " WHERE event_id IN (SELECT unnest(?)) AND status = 'received'"
        + skip_locked(conn),  # another sidecar's transaction is applying them: not here
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
    order_state.link_many(conn, first)
    # State only moves forward: the first payment event of an order makes it paid (and
    # queues its steps); any later one, in this batch or after, changes nothing. What Stripe
    # says was paid is the order's total (any other amount was left above).
    newly_paid = order_state.record_payments(
        conn, {order_id: facts.amount for order_id, facts in first.items()}, now
    )
    if newly_paid:
        fulfilment_steps.queue_after_payments(conn, newly_paid, now)
    inbox.mark_processed_many(
        conn, {event_id: order_id for event_id, (order_id, _) in applied.items()}, now
    )
    return [event_id for event_id in event_ids if event_id not in applied]


def create_metadata_orders(
    conn: duckdb.DuckDBPyConnection,
    event_ids: list[str],
    catalog: Catalog,
    now: datetime,
    livemode: bool,
) -> list[str]:
    """Make, mark paid and queue the steps of the orders whose carts are in these payment
    events' metadata, as `fulfilment.event_orders` (`order_from_metadata`, `link`,
    `mark_paid`) does one by one; returns the events left over. Left over: anything but a
    paid one-off cart that parses (a bad cart, an Ignite cart, our own order id), a payment
    we already have an order for, a payment of another amount or currency than its cart,
    and a later event of a payment met earlier in this batch (one by one it finds the order)."""
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
                "SELECT unnest(ARRAY[checkout_session_id, payment_intent_id]) FROM orders"
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
    order_state.insert_paid_metadata_orders(conn, made, now)
    fulfilment_steps.queue_after_payments(conn, [order_id for order_id, _, _ in made], now)
    inbox.mark_processed_many(conn, order_of_event, now)
    return [event_id for event_id in event_ids if event_id not in found]


def record_unusable_payments(
    conn: duckdb.DuckDBPyConnection,
    event_ids: list[str],
    catalog: Catalog,
    now: datetime,
    livemode: bool,
    shared: bool,
) -> list[str]:
    """Payment events of no order we have and without a usable cart, as one by one
    (`fulfilment.payments`, `fulfilment.event_orders.order_from_metadata`, `mark_paid`)
    does them: in a shared account, one without any marker of ours is not ours; any other
    is recorded as paid on an order that needs attention, with its steps skipped, and
    counted in the grouped error-log entry of its kind. Returns the events left over:
    anything else, a payment with a customer and neither order id nor cart (it may pay a
    subscription invoice: one by one waits for that), one without amount or currency, one
    of a subscription, and a later event of a payment met earlier in this batch."""
    not_ours: dict[str, str] = {}  # event id -> reason
    found: dict[str, tuple[Any, list[str]]] = {}  # event id -> (facts, problems)
    facts_of: dict[str, Any] = {}  # event id -> facts, of both
    seen: set[str] = set()
    for event_id, event_type, payload, event_livemode in conn.execute(
        "SELECT event_id, type, payload, livemode FROM webhook_inbox"
        " WHERE event_id IN (SELECT unnest(?)) AND status = 'received'"
        " ORDER BY created_at, received_at, event_id"  # as the worker does them
        + skip_locked(conn),
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
        facts = facts_from(event_type, obj)
        keys = {facts.checkout_session_id, facts.payment_intent_id} - {None}
        if facts.subscription_id or not keys or keys & seen:
            seen |= keys
            continue
        seen |= keys
        if not facts.order_id and not has_cart(facts) and facts.customer_id:
            continue  # one by one waits to see whether it pays a subscription invoice
        if shared and not has_marker(obj):
            not_ours[event_id] = why_not_ours(obj)
            facts_of[event_id] = facts
            continue
        if not isinstance(facts.amount, int) or not isinstance(facts.currency, str):
            continue
        if facts.order_id:
            problems = [f"metadata.order_id: no order {facts.order_id!r} exists"]
        else:
            try:
                parse_metadata_cart(facts.metadata, catalog, facts.email, facts.name)
            except InvalidCart as exc:
                problems = [str(p) for p in exc.problems]
            else:
                continue  # a usable cart: create_metadata_orders or one by one
        found[event_id] = (facts, problems)
        facts_of[event_id] = facts
    if not facts_of:
        return list(event_ids)
    # Only payments of no order we have: one found by any of their ids is one by one's.
    ids = sorted(
        {i for facts in facts_of.values() for i in
         (facts.checkout_session_id, facts.payment_intent_id) if i}
    )  # fmt: skip
    order_keys = sorted({facts.order_id for facts in facts_of.values() if facts.order_id})
    known = {
        value
        for row in conn.execute(
            "SELECT order_id, checkout_session_id, payment_intent_id FROM orders"
            " WHERE order_id IN (SELECT unnest(?)) OR checkout_session_id IN (SELECT unnest(?))"
            " OR payment_intent_id IN (SELECT unnest(?))",  # `?` only: PostgreSQL's too
            [order_keys, ids, ids],
        ).fetchall()
        for value in row
        if value
    }

    def unknown(event_id: str) -> bool:
        facts = facts_of[event_id]
        return not {facts.order_id, facts.checkout_session_id, facts.payment_intent_id} & known

    not_ours = {event_id: why for event_id, why in not_ours.items() if unknown(event_id)}
    found = {event_id: found[event_id] for event_id in found if unknown(event_id)}
    if not_ours:
        inbox.record_not_ours_many(conn, not_ours, now)
    if found:
        order_of_event = {event_id: orders.new_id("ord") for event_id in found}
        made = [
            (order_of_event[event_id], facts, "; ".join(problems))
            for event_id, (facts, problems) in found.items()
        ]
        order_state.insert_unusable_payment_orders(conn, made, now)
        fulfilment_steps.queue_after_payments(conn, list(order_of_event.values()), now, "skipped")
        by_kind: dict[bool, list[str]] = {}
        for event_id, (facts, _) in found.items():
            by_kind.setdefault(bool(facts.order_id), []).append(event_id)
        for kind_events in by_kind.values():
            first = kind_events[0]
            facts, problems = found[first]
            log_unusable(conn, facts, problems, order_of_event[first], first, now, len(kind_events))
        inbox.mark_processed_many(conn, order_of_event, now)
    return [e for e in event_ids if e not in found and e not in not_ours]

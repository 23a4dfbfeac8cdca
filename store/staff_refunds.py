"""The staff_refunds and staff_refund_items tables' one writer: refunds staff ask Stripe
for, by item or for money only.

A refund is written (`begin`) in the single writer before Stripe is asked, checked against
what is still refundable and against items refunded before; if Stripe cannot be reached
it is removed again (`abandon`), so nothing is left behind. The `charge.refunded` that
Stripe then sends finds it here (`apply_covered`) and cancels those items' bookings once.

Every function runs in the caller's transaction (`conn`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb


@dataclass(frozen=True)
class Begun:
    """What `begin` found: `outcome` is `ok` (asked of Stripe with `key`), `not_found`,
    `not_refundable` (`message` says why), `too_much` (`refundable` cents left) or
    `problems` (items not of this order or refunded before)."""

    outcome: str
    key: str = ""
    amount: int = 0
    currency: str = ""
    payment_intent_id: str | None = None
    items: tuple[str, ...] = ()
    refund_id: str | None = None  # known when this request was answered by Stripe before
    fresh: bool = False  # written by this call (only its caller may `abandon` it)
    refundable: int = 0
    message: str = ""
    problems: list[dict[str, str]] = field(default_factory=list)


def begin(
    conn: duckdb.DuckDBPyConnection, order_id: str, items: tuple[str, ...], amount: int | None,
    reason: str, actor: str, key: str, now: datetime,
) -> Begun:  # fmt: skip
    existing = conn.execute(
        "SELECT amount, currency, items, refund_id FROM staff_refunds WHERE refund_key = ?",
        [key],
    ).fetchone()
    row = conn.execute(
        "SELECT payment_status, amount_paid, amount_refunded, currency, payment_intent_id"
        " FROM orders WHERE order_id = ?",
        [order_id],
    ).fetchone()
    if row is None:
        return Begun("not_found")
    status, paid, refunded, currency, intent = row
    if existing is not None:  # the same request again (a double click): the same refund
        return Begun("ok", key, existing[0], existing[1], intent,
                     tuple(json.loads(existing[2])), existing[3])  # fmt: skip
    if status not in ("paid", "partially_refunded"):
        return Begun("not_refundable", message=f"the order is {status}: nothing to refund")
    if intent is None:
        return Begun(
            "not_refundable",
            message="no PaymentIntent is recorded for this order (a subscription's payments"
            " are refunded in Stripe; end the subscription here)",
        )
    problems = []
    prices: dict[str, int] = {}
    if items:
        known = dict(
            conn.execute(
                "SELECT order_item_id, unit_amount FROM order_items WHERE order_id = ?"
                " AND order_item_id IN (SELECT unnest(?))",
                [order_id, list(items)],
            ).fetchall()
        )
        done = {
            r[0]
            for r in conn.execute(
                "SELECT order_item_id FROM staff_refund_items"
                " WHERE order_item_id IN (SELECT unnest(?))",
                [list(items)],
            ).fetchall()
        }
        for n, item in enumerate(items):
            if item not in known:
                problems.append({"path": f"items[{n}]", "message": f"{item} is not an item of"
                                 f" order {order_id}"})  # fmt: skip
            elif item in done:
                problems.append({"path": f"items[{n}]", "message": f"{item} was refunded"
                                 " before"})  # fmt: skip
            else:
                prices[item] = known[item]
    if problems:
        return Begun("problems", problems=problems)
    pending = conn.execute(
        "SELECT coalesce(sum(amount), 0) FROM staff_refunds WHERE order_id = ?"
        " AND status = 'requested'",
        [order_id],
    ).fetchone()[0]
    refundable = max(0, paid - refunded - pending)
    if amount is None:
        amount = sum(prices.values()) if items else refundable
    if amount <= 0 or amount > refundable:
        return Begun("too_much", amount=amount, currency=currency, refundable=refundable)
    conn.execute(
        "INSERT INTO staff_refunds (refund_key, order_id, amount, currency, items, status,"
        " reason, actor, created_at) VALUES (?, ?, ?, ?, ?, 'requested', ?, ?, ?)",
        [key, order_id, amount, currency, json.dumps(list(items)), reason, actor, now],
    )
    for item in items:
        conn.execute(
            "INSERT INTO staff_refund_items (order_item_id, refund_key) VALUES (?, ?)", [item, key]
        )
    return Begun("ok", key, amount, currency, intent, tuple(items), fresh=True)


def answered(conn: duckdb.DuckDBPyConnection, key: str, refund_id: str) -> None:
    """Stripe made the refund: remember its id."""
    conn.execute("UPDATE staff_refunds SET refund_id = ? WHERE refund_key = ?", [refund_id, key])


def abandon(conn: duckdb.DuckDBPyConnection, key: str) -> None:
    """Stripe could not be asked (or refused): the request leaves nothing behind."""
    conn.execute(
        "DELETE FROM staff_refund_items WHERE refund_key = ? AND refund_key IN"
        " (SELECT refund_key FROM staff_refunds WHERE refund_key = ? AND refund_id IS NULL"
        " AND status = 'requested')",
        [key, key],
    )
    conn.execute(
        "DELETE FROM staff_refunds WHERE refund_key = ? AND refund_id IS NULL"
        " AND status = 'requested'",
        [key],
    )


def apply_covered(
    conn: duckdb.DuckDBPyConnection, order_id: str, amount_refunded: int, now: datetime
) -> list[dict[str, Any]]:
    """The staff refunds Stripe's running total `amount_refunded` now covers, oldest first,
    marked applied (each once): their keys, amounts and items."""
    applied = conn.execute(
        "SELECT coalesce(sum(amount), 0) FROM staff_refunds WHERE order_id = ?"
        " AND status = 'applied'",
        [order_id],
    ).fetchone()[0]
    covered = []
    for key, amount, items in conn.execute(
        "SELECT refund_key, amount, items FROM staff_refunds WHERE order_id = ?"
        " AND status = 'requested' ORDER BY created_at, refund_key",
        [order_id],
    ).fetchall():
        if applied + amount > amount_refunded:
            break
        applied += amount
        covered.append({"key": key, "amount": amount, "items": json.loads(items)})
    if covered:
        conn.execute(
            "UPDATE staff_refunds SET status = 'applied', applied_at = ?"
            " WHERE refund_key IN (SELECT unnest(?))",
            [now, [c["key"] for c in covered]],
        )
    return covered


def apply_all(conn: duckdb.DuckDBPyConnection, order_id: str, now: datetime) -> None:
    """A full refund: every staff refund of the order is applied with it."""
    conn.execute(
        "UPDATE staff_refunds SET status = 'applied', applied_at = ? WHERE order_id = ?"
        " AND status = 'requested'",
        [now, order_id],
    )

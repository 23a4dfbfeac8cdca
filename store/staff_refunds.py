"""The staff_refunds and staff_refund_items tables' one writer: refunds staff ask Stripe
for, by item or for money only.

A refund is written (`begin`) in the single writer before Stripe is asked, checked against
what is still refundable and against items refunded before; if Stripe cannot be reached
it is removed again (`abandon`), so nothing is left behind. The `charge.refunded` that
Stripe then sends finds it here (`apply_covered`) and cancels those items' bookings once.

An Ignite order is paid by its subscription's invoices, not by one PaymentIntent: its items
are refunded from the paid invoice staff name, or else the one that charged them last
(`invoice_to_refund`; the order's paid invoices: `paid_invoices`), whose payment the
sidecar asks Stripe for; such a refund keeps that payment and invoice (`payment_intent_id`,
`invoice_id`, schema v15), so the `charge.refunded` of that payment finds its order
(`order_of_invoice_payment`) and is counted against that payment alone. An enrolment is
charged again by each invoice, so an item is refunded once per invoice (schema v20).

Every function runs in the caller's transaction (`conn`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from store import order_state


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


@dataclass(frozen=True)
class InvoicePayment:
    """The payment of a paid subscription invoice (Stripe's invoice payment)."""

    invoice_id: str
    payment_intent_id: str
    amount_paid: int


def paid_invoices(conn: duckdb.DuckDBPyConnection, order_id: str) -> list[dict[str, Any]]:
    """An order's paid subscription invoices, oldest period first: each with its period,
    what it paid, what was refunded of it (staff's refunds, asked or applied, and what
    Stripe's total for its payment has beyond them), what is left refundable, and the items
    it charged (its enrolments; the first invoice also the order's other items). Empty for
    an order paid by a PaymentIntent of its own."""
    periods = conn.execute(
        "SELECT p.invoice_id, p.period_start, p.period_end, p.amount_paid, e.order_item_id"
        " FROM enrolment_periods p JOIN enrolments e ON e.enrolment_id = p.enrolment_id"
        " WHERE e.order_id = ? ORDER BY p.period_start, p.invoice_id",
        [order_id],
    ).fetchall()
    if not periods:
        return []
    invoices: dict[str, dict[str, Any]] = {}
    for key, start, end, paid, item in periods:
        # enrolment_periods is keyed <invoice>:<enrolment>: the invoice is the part before.
        invoice = invoices.setdefault(key.split(":", 1)[0], {
            "invoice_id": key.split(":", 1)[0], "period_start": start, "period_end": end,
            "amount_paid": 0, "items": [],
        })  # fmt: skip
        invoice["period_start"] = min(invoice["period_start"], start)
        invoice["period_end"] = max(invoice["period_end"], end)
        invoice["amount_paid"] = max(invoice["amount_paid"], paid)  # the invoice's, each row
        invoice["items"].append(item)
    first = next(iter(invoices.values()))
    first["items"] += [
        item for (item,) in conn.execute(
            "SELECT order_item_id FROM order_items WHERE order_id = ? AND kind <> 'ignite'"
            " ORDER BY position",
            [order_id],
        ).fetchall()
    ]  # fmt: skip
    asked = {
        invoice: (total, applied)
        for invoice, total, applied in conn.execute(
            "SELECT invoice_id, sum(amount), coalesce(sum(amount) FILTER"
            " (WHERE status = 'applied'), 0) FROM staff_refunds WHERE order_id = ?"
            " AND invoice_id IS NOT NULL GROUP BY invoice_id",
            [order_id],
        ).fetchall()
    }
    # Each invoice's payment, as staff's refunds or Stripe's answer (payment_invoices) know it.
    payments: dict[str, str] = dict(
        conn.execute(
            "SELECT invoice_id, payment_intent_id FROM payment_invoices WHERE status = 'answered'"
            " AND invoice_id IN (SELECT unnest(?)) UNION SELECT invoice_id, payment_intent_id"
            " FROM staff_refunds WHERE order_id = ? AND invoice_id IS NOT NULL",
            [list(invoices), order_id],
        ).fetchall()
    )
    for invoice in invoices.values():
        intent = payments.get(invoice["invoice_id"])
        ledger = order_state.refunded_of_payment(conn, order_id, intent) if intent else 0
        total, applied = asked.get(invoice["invoice_id"], (0, 0))
        # staff's refunds (asked or applied), and what Stripe's total has beyond those applied
        # (a refund made in Stripe's Dashboard), as `begin` counts it
        invoice["refunded"] = total + max(0, ledger - applied)
        invoice["refundable"] = max(0, invoice["amount_paid"] - invoice["refunded"])
    return list(invoices.values())


def invoice_to_refund(
    conn: duckdb.DuckDBPyConnection, order_id: str, items: tuple[str, ...],
    invoice_id: str | None = None, now: datetime | None = None,
) -> dict[str, Any] | None:  # fmt: skip
    """For an order paid by a subscription's invoices (no PaymentIntent of its own): the
    invoice whose payment the items are refunded from, `{"invoice_id", "period_start",
    "period_end", "enrolments", "classes_to_come"}`, or why not, `{"message"}` (409) or
    `{"problems"}` (422). `invoice_id`: the one staff chose (one of the order's paid
    invoices); without it an Ignite enrolment is refunded from its latest paid invoice (the
    period under way), any other item from the first invoice, which charged it.
    `enrolments`: how many of the items are Ignite enrolments; `classes_to_come`: their
    classes that invoice paid for that start after `now` (what the refund cancels).
    None: the order has a PaymentIntent (or no subscription), and no invoice was named."""
    row = conn.execute(
        "SELECT payment_intent_id, subscription_id FROM orders WHERE order_id = ?", [order_id]
    ).fetchone()
    if row is None or row[0] is not None or row[1] is None:
        if invoice_id is None or row is None:
            return None
        problem = f"order {order_id} is paid by a payment of its own: name no invoice"
        return {"problems": [{"path": "invoice", "message": problem}]}
    invoices = {i["invoice_id"]: i for i in paid_invoices(conn, order_id)}
    if invoice_id is not None and invoice_id not in invoices:
        problem = (f"{invoice_id} is not a paid invoice of order {order_id} (its paid"
                   f" invoices: {', '.join(invoices) or 'none yet'})")  # fmt: skip
        return {"problems": [{"path": "invoice", "message": problem}]}
    if not items and invoice_id is None:
        return {"message": "an Ignite order is paid by its subscription's invoices: name the"
                " items to refund (each from the invoice that charged it), or the"
                " invoice"}  # fmt: skip
    kinds = dict(
        conn.execute(
            "SELECT order_item_id, kind FROM order_items WHERE order_id = ?", [order_id]
        ).fetchall()
    )
    first = next(iter(invoices), None)
    latest = {item: i for i, invoice in invoices.items() for item in invoice["items"]
              if kinds.get(item) == "ignite"}  # the last one wins  # fmt: skip
    chosen: dict[str, str] = {}
    problems = []
    for n, item in enumerate(items):
        default = latest.get(item) if kinds.get(item) == "ignite" else first
        if item not in kinds:
            problems.append({"path": f"items[{n}]", "message": f"{item} is not an item of"
                             f" order {order_id}"})  # fmt: skip
        elif default is None:
            problems.append({"path": f"items[{n}]", "message": f"{item} has no paid invoice"
                             " to refund yet"})  # fmt: skip
        elif invoice_id is not None and item not in invoices[invoice_id]["items"]:
            problems.append({"path": f"items[{n}]", "message": f"{item} was not charged on"
                             f" invoice {invoice_id}" + ("" if kinds[item] == "ignite" else
                             f" (it was on the first, {first})")})  # fmt: skip
        else:
            chosen[item] = invoice_id or default
    if not problems and len(set(chosen.values())) > 1:
        problems.append({"path": "items", "message": "these items were charged on different"
                         " invoices (" + ", ".join(sorted(set(chosen.values()))) + "):"
                         " refund them one invoice at a time"})  # fmt: skip
    if problems:
        return {"problems": problems}
    invoice = invoices[invoice_id or next(iter(chosen.values()))]
    enrolled = [item for item in items if kinds[item] == "ignite"]
    (to_come,) = conn.execute(
        "SELECT count(*) FROM bookings b JOIN events ev ON ev.event_id = b.event_id"
        " WHERE b.order_item_id IN (SELECT unnest(?)) AND b.status <> 'cancelled'"
        " AND b.enrolment_id IS NOT NULL AND ev.starts_at >= ? AND ev.starts_at < ?"
        " AND ev.starts_at > ?",
        [enrolled, invoice["period_start"], invoice["period_end"], now or datetime.min],
    ).fetchone() if enrolled else (0,)  # fmt: skip
    return {"invoice_id": invoice["invoice_id"], "period_start": invoice["period_start"],
            "period_end": invoice["period_end"], "enrolments": len(enrolled),
            "classes_to_come": to_come}  # fmt: skip


def order_of_invoice_payment(conn: duckdb.DuckDBPyConnection, payment_intent_id: str) -> str | None:
    """The order an Ignite invoice's payment is known to be of: staff refunded it, or Stripe
    said which invoice it paid (`store/payment_invoices.py`, once matched)."""
    row = conn.execute(
        "SELECT order_id FROM staff_refunds WHERE payment_intent_id = ?"
        " AND invoice_id IS NOT NULL"
        " UNION ALL SELECT order_id FROM payment_invoices WHERE payment_intent_id = ?"
        " AND order_id IS NOT NULL LIMIT 1",
        [payment_intent_id, payment_intent_id],
    ).fetchone()
    return row[0] if row else None


def begin(
    conn: duckdb.DuckDBPyConnection, order_id: str, items: tuple[str, ...], amount: int | None,
    reason: str, actor: str, key: str, now: datetime, invoice: InvoicePayment | None = None,
) -> Begun:  # fmt: skip
    """`invoice`: refund from that invoice's payment (an Ignite order's), up to what it
    paid less what staff refunded of it before."""
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
    if invoice is not None:
        intent = invoice.payment_intent_id
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
        done = {  # an item is refunded once per payment it was charged on
            r[0]
            for r in conn.execute(
                "SELECT order_item_id FROM staff_refund_items"
                " WHERE order_item_id IN (SELECT unnest(?)) AND invoice_id = ?",
                [list(items), invoice.invoice_id if invoice else ""],
            ).fetchall()
        }
        for n, item in enumerate(items):
            if item not in known:
                problems.append({"path": f"items[{n}]", "message": f"{item} is not an item of"
                                 f" order {order_id}"})  # fmt: skip
            elif item in done:
                problems.append({"path": f"items[{n}]", "message": f"{item} was refunded"
                                 " before" + (f" from invoice {invoice.invoice_id}"
                                              if invoice else "")})  # fmt: skip
            else:
                prices[item] = known[item]
    if problems:
        return Begun("problems", problems=problems)
    if invoice is None:
        pending = conn.execute(
            "SELECT coalesce(sum(amount), 0) FROM staff_refunds WHERE order_id = ?"
            " AND status = 'requested' AND invoice_id IS NULL",
            [order_id],
        ).fetchone()[0]
        refundable = max(0, paid - refunded - pending)
    else:  # what this invoice paid, less what staff refunded of it (asked or applied)
        asked, applied = conn.execute(
            "SELECT coalesce(sum(amount), 0),"
            " coalesce(sum(amount) FILTER (WHERE status = 'applied'), 0)"
            " FROM staff_refunds WHERE payment_intent_id = ?",
            [intent],
        ).fetchone()
        # and less what was refunded of it in Stripe's Dashboard: the refunds ledger's
        # rises for this payment (store/order_state.record_invoice_refund) beyond staff's
        ledger = order_state.refunded_of_payment(conn, order_id, intent)
        refundable = max(0, invoice.amount_paid - asked - max(0, ledger - applied))
    if amount is None:
        amount = sum(prices.values()) if items else refundable
    if amount <= 0 or amount > refundable:
        return Begun("too_much", amount=amount, currency=currency, refundable=refundable)
    conn.execute(
        "INSERT INTO staff_refunds (refund_key, order_id, amount, currency, items, status,"
        " reason, actor, created_at, payment_intent_id, invoice_id)"
        " VALUES (?, ?, ?, ?, ?, 'requested', ?, ?, ?, ?, ?)",
        [key, order_id, amount, currency, json.dumps(list(items)), reason, actor, now,
         invoice.payment_intent_id if invoice else None,
         invoice.invoice_id if invoice else None],
    )  # fmt: skip
    for item in items:
        conn.execute(
            "INSERT INTO staff_refund_items (order_item_id, invoice_id, refund_key)"
            " VALUES (?, ?, ?)",
            [item, invoice.invoice_id if invoice else "", key],
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
    conn: duckdb.DuckDBPyConnection, order_id: str, amount_refunded: int, now: datetime,
    payment_intent_id: str | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """The staff refunds Stripe's running total `amount_refunded` now covers, oldest first,
    marked applied (each once): their keys, amounts, items and invoices (None: the order's
    own payment). `payment_intent_id`: the
    total is that invoice payment's (an Ignite refund); otherwise the order's own payment."""
    which, param = (
        ("payment_intent_id = ?", payment_intent_id) if payment_intent_id
        else ("invoice_id IS NULL AND order_id = ?", order_id)
    )  # fmt: skip
    applied = conn.execute(
        f"SELECT coalesce(sum(amount), 0) FROM staff_refunds WHERE {which} AND status = 'applied'",
        [param],
    ).fetchone()[0]
    covered = []
    for key, amount, items, invoice_id in conn.execute(
        f"SELECT refund_key, amount, items, invoice_id FROM staff_refunds WHERE {which}"
        " AND status = 'requested' ORDER BY created_at, refund_key",
        [param],
    ).fetchall():
        if applied + amount > amount_refunded:
            break
        applied += amount
        covered.append({"key": key, "amount": amount, "items": json.loads(items),
                        "invoice_id": invoice_id})  # fmt: skip
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

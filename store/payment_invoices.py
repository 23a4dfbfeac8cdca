"""The payment_invoices table's one writer: which invoice a PaymentIntent paid, asked of
Stripe once per PaymentIntent (schema v19; core/payment_invoices.py says why).

A handler that meets a payment nothing of ours names wants a lookup (`want`, in its own
transaction); the lookup pass (`runtime/invoice_lookups.py`) claims the wanted ones
(`claim_due`), asks Stripe outside any transaction and keeps the answer (`record_answer`,
once: a row already answered is never asked or written again) or backs off
(`record_failure`). Once matched to an Ignite order's invoice, the row names that order
(`record_order`), so later refunds of the payment find it at once.

Every function runs in the caller's transaction (`conn`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from core.payment_invoices import LOOKUP_ATTEMPTS, PaidInvoice, retry_delay
from store import locks


@dataclass(frozen=True)
class Lookup:
    """A lookup as stored: `status` is `wanted` (not answered yet), `answered` (`paid`
    says what) or `failed` (Stripe never answered; given up)."""

    status: str
    paid: PaidInvoice | None = None
    order_id: str | None = None


def want(conn: duckdb.DuckDBPyConnection, payment_intent_id: str, now: datetime) -> None:
    """Ask Stripe which invoice the PaymentIntent paid, unless asked before: due now."""
    conn.execute(
        "INSERT INTO payment_invoices (payment_intent_id, status, wanted_at, attempts,"
        " next_attempt_at) VALUES (?, 'wanted', ?, 0, ?)"
        " ON CONFLICT (payment_intent_id) DO NOTHING",
        [payment_intent_id, now, now],
    )


def lookup(conn: duckdb.DuckDBPyConnection, payment_intent_id: str) -> Lookup | None:
    """The stored lookup of a PaymentIntent, or None when none was wanted."""
    row = conn.execute(
        "SELECT status, invoice_id, subscription_id, marked, order_id FROM payment_invoices"
        " WHERE payment_intent_id = ?",
        [payment_intent_id],
    ).fetchone()
    if row is None:
        return None
    status, invoice_id, subscription_id, marked, order_id = row
    paid = PaidInvoice(invoice_id, subscription_id, bool(marked)) if status == "answered" else None
    return Lookup(status, paid, order_id)


def record_order(conn: duckdb.DuckDBPyConnection, payment_intent_id: str, order_id: str) -> None:
    """The PaymentIntent paid an invoice of this order (an Ignite enrolment's)."""
    conn.execute(
        "UPDATE payment_invoices SET order_id = ? WHERE payment_intent_id = ? AND order_id IS NULL",
        [order_id, payment_intent_id],
    )


def claim_due(
    conn: duckdb.DuckDBPyConnection, now: datetime, limit: int, lease_until: datetime
) -> list[str]:
    """The PaymentIntents whose lookup is due at `now`, oldest wanted first, up to `limit`.
    On PostgreSQL they are claimed in the same statement (their next ask moves to
    `lease_until`, signed with this sidecar's name), so another sidecar does not ask
    Stripe the same question meanwhile (`store/locks.py`); on DuckDB a plain read."""
    if not locks.on_postgres(conn):
        return [row[0] for row in conn.execute(
            "SELECT payment_intent_id FROM payment_invoices WHERE status = 'wanted'"
            " AND next_attempt_at <= ? ORDER BY wanted_at, payment_intent_id LIMIT ?",
            [now, limit],
        ).fetchall()]  # fmt: skip
    rows = conn.execute(
        "UPDATE payment_invoices SET next_attempt_at = ?, claimed_by = ?"
        " WHERE payment_intent_id IN (SELECT payment_intent_id FROM payment_invoices"
        f" WHERE status = 'wanted' AND (next_attempt_at <= ? OR {locks.orphaned()})"
        " ORDER BY wanted_at, payment_intent_id LIMIT ?" + locks.skip_locked(conn) + ")"
        " RETURNING payment_intent_id, wanted_at",
        [lease_until, locks.CLAIMANT, now, limit],
    ).fetchall()
    return [row[0] for row in sorted(rows, key=lambda r: (r[1], r[0]))]


def record_answer(
    conn: duckdb.DuckDBPyConnection, payment_intent_id: str, paid: PaidInvoice, now: datetime
) -> bool:
    """Stripe answered: kept once (False when this lookup was answered before)."""
    return bool(conn.execute(
        "UPDATE payment_invoices SET status = 'answered', invoice_id = ?, subscription_id = ?,"
        " marked = ?, asked_at = ?, next_attempt_at = NULL, last_error = NULL"
        " WHERE payment_intent_id = ? AND status = 'wanted' RETURNING payment_intent_id",
        [paid.invoice_id, paid.subscription_id, paid.marked, now, payment_intent_id],
    ).fetchall())  # fmt: skip


def record_failure(
    conn: duckdb.DuckDBPyConnection, payment_intent_id: str, error: str, now: datetime
) -> str:
    """Stripe did not answer: asked again later (`core.payment_invoices.retry_delay`), or,
    after LOOKUP_ATTEMPTS asks, given up (`failed`). The status it is left in."""
    row = conn.execute(
        "SELECT attempts + 1 FROM payment_invoices WHERE payment_intent_id = ?"
        " AND status = 'wanted'",
        [payment_intent_id],
    ).fetchone()
    if row is None:
        return "answered"  # another sidecar's answer came first
    (attempts,) = row
    failed = attempts >= LOOKUP_ATTEMPTS
    conn.execute(
        "UPDATE payment_invoices SET attempts = ?, last_error = ?, next_attempt_at = ?,"
        " status = ? WHERE payment_intent_id = ?",
        [attempts, error[:2000], None if failed else now + retry_delay(attempts),
         "failed" if failed else "wanted", payment_intent_id],
    )  # fmt: skip
    return "failed" if failed else "wanted"

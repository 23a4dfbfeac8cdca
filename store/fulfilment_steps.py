"""The fulfilment_steps table's one writer: the steps of a paid order (record_payment,
create_bookings, schedule_events, send_confirmation, notify_staff), each `pending` until it
is `done`, `failed` after its attempts, or `skipped` (a refund, a wrong payment).

Every function runs in the caller's transaction (`conn`): a step is marked done in the
same transaction that did its work."""

from __future__ import annotations

from datetime import datetime

import duckdb

from store import locks


def queue_after_payment(
    conn: duckdb.DuckDBPyConnection, order_id: str, later: str, now: datetime
) -> None:
    """The steps of an order just paid: record_payment done, the rest `later` (`pending`,
    or `skipped` when the order needs staff first)."""
    conn.execute(
        "INSERT INTO fulfilment_steps (order_id, step, status, attempts, next_attempt_at,"
        " updated_at, finished_at, created_at)"
        " SELECT ?, s.step, CASE s.step WHEN 'record_payment' THEN 'done' ELSE ? END,"
        " CASE s.step WHEN 'record_payment' THEN 1 ELSE 0 END,"
        " CASE s.step WHEN 'create_bookings' THEN ?::TIMESTAMP END, ?,"
        " CASE s.step WHEN 'record_payment' THEN ?::TIMESTAMP END, ?"
        " FROM (VALUES ('record_payment'), ('create_bookings'), ('schedule_events'),"
        " ('send_confirmation'), ('notify_staff')) s(step)",
        [order_id, later, now, now, now, now],
    )


def queue_after_payments(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], now: datetime, later: str = "pending"
) -> None:
    """The steps of orders just paid: record_payment done, the rest `later` (as
    `mark_paid`: `pending`, or `skipped` for orders that need staff first)."""
    conn.execute(
        "INSERT INTO fulfilment_steps (order_id, step, status, attempts, next_attempt_at,"
        " updated_at, finished_at, created_at)"
        " SELECT o.id, s.step, CASE s.step WHEN 'record_payment' THEN 'done' ELSE ? END,"
        " s.attempts, CASE s.step WHEN 'create_bookings' THEN ?::TIMESTAMP END, ?,"
        " CASE s.step WHEN 'record_payment' THEN ?::TIMESTAMP END, ?"
        " FROM (SELECT unnest(?) AS id) o CROSS JOIN"
        " (VALUES ('record_payment', 1), ('create_bookings', 0), ('schedule_events', 0),"
        " ('send_confirmation', 0), ('notify_staff', 0)) s(step, attempts)",
        [later, now, now, now, now, order_ids],
    )


def finish(
    conn: duckdb.DuckDBPyConnection, order_id: str, step: str, then: str | None, now: datetime
) -> None:
    """The step done, and the step `then` (if any) due now."""
    conn.execute(
        "UPDATE fulfilment_steps SET status = 'done', attempts = attempts + 1,"
        " next_attempt_at = NULL, last_error = NULL, updated_at = ?, finished_at = ?"
        " WHERE order_id = ? AND step = ?",
        [now, now, order_id, step],
    )
    if then:
        conn.execute(
            "UPDATE fulfilment_steps SET next_attempt_at = ?, updated_at = ?"
            " WHERE order_id = ? AND step = ? AND status = 'pending'",
            [now, now, order_id, then],
        )


def finish_many(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], step: str, then: str | None,
    now: datetime,
) -> None:  # fmt: skip
    """`finish` for many orders at once (`fulfilment.bulk_steps`)."""
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


def skip_remaining(conn: duckdb.DuckDBPyConnection, order_id: str, now: datetime) -> None:
    """A refunded order's steps not yet run are skipped."""
    conn.execute(
        "UPDATE fulfilment_steps SET status = 'skipped', updated_at = ?"
        " WHERE order_id = ? AND status IN ('pending', 'failed')",
        [now, order_id],
    )


def record_failure(
    conn: duckdb.DuckDBPyConnection, order_id: str, step: str, status: str, attempts: int,
    error: str, next_attempt_at: datetime | None, now: datetime,
) -> None:  # fmt: skip
    """A failed attempt: `pending` again at `next_attempt_at`, or `failed` for good."""
    conn.execute(
        "UPDATE fulfilment_steps SET status = ?, attempts = ?, last_error = ?,"
        " next_attempt_at = ?, updated_at = ? WHERE order_id = ? AND step = ?",
        [status, attempts, error, next_attempt_at, now, order_id, step],
    )


def retry(conn: duckdb.DuckDBPyConnection, order_id: str, step: str, now: datetime) -> bool:
    """A failed step pending again with a fresh set of attempts; False if it had not failed."""
    rows = conn.execute(
        "UPDATE fulfilment_steps SET status = 'pending', attempts = 0, next_attempt_at = ?,"
        " updated_at = ? WHERE order_id = ? AND step = ? AND status = 'failed'"
        " RETURNING step",
        [now, now, order_id, step],
    ).fetchall()
    return bool(rows)


def resume_skipped(conn: duckdb.DuckDBPyConnection, order_id: str, now: datetime) -> int:
    """A repaired order's skipped steps are due again, the first of them now (staff attached
    the cart it was paid without: `fulfilment.order_repairs`). How many."""
    resumed = conn.execute(
        "UPDATE fulfilment_steps SET status = 'pending', attempts = 0, last_error = NULL,"
        " next_attempt_at = CASE step WHEN 'create_bookings' THEN ?::TIMESTAMP END,"
        " updated_at = ? WHERE order_id = ? AND status = 'skipped' RETURNING step",
        [now, now, order_id],
    ).fetchall()
    return len(resumed)


def claim_due(
    conn: duckdb.DuckDBPyConnection, now: datetime, limit: int, lease_until: datetime
) -> list[tuple[str, str]]:
    """The (order, step) pairs due at `now`, up to `limit`; on PostgreSQL claimed in the same
    statement until `lease_until`, as `store.inbox.claim_due` claims events."""
    if not locks.on_postgres(conn):
        return conn.execute(
            "SELECT order_id, step FROM fulfilment_steps WHERE status = 'pending'"
            " AND next_attempt_at IS NOT NULL AND next_attempt_at <= ?"
            " ORDER BY next_attempt_at, order_id LIMIT ?",
            [now, limit],
        ).fetchall()
    rows = conn.execute(
        "UPDATE fulfilment_steps f SET next_attempt_at = ?, claimed_by = ? FROM ("
        "SELECT order_id, step, next_attempt_at FROM fulfilment_steps WHERE status = 'pending'"
        f" AND next_attempt_at IS NOT NULL AND (next_attempt_at <= ? OR {locks.orphaned()})"
        " ORDER BY next_attempt_at, order_id LIMIT ?" + locks.skip_locked(conn) + ") AS claimed"
        " WHERE f.order_id = claimed.order_id AND f.step = claimed.step"
        " RETURNING f.order_id, f.step, claimed.next_attempt_at",
        [lease_until, locks.CLAIMANT, now, limit],
    ).fetchall()
    return [(order_id, step) for order_id, step, _ in sorted(rows, key=lambda r: (r[2], r[0]))]

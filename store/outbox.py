"""The outbox: emails, Slack and text messages to send, written in the same transaction as the
change that causes them, each under a unique key so it is sent once.

Sending happens outside any transaction (senders/sender.py): a message is claimed as
due, sent, then marked sent or given a retry time, each in a write of its own.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import duckdb

from store import locks, paging
from store.error_log import log_error
from store.orders import new_id
from store.paging import Where

ATTEMPTS = 4  # the first try and three retries


def enqueue(
    conn: duckdb.DuckDBPyConnection,
    *,
    dedupe_key: str,
    channel: str,
    payload: dict[str, Any],
    now: datetime,
    recipient: str | None = None,
    order_id: str | None = None,
) -> bool:
    """Queue a message unless one with the same key was ever queued; True when queued."""
    rows = conn.execute(
        "INSERT INTO outbox (message_id, dedupe_key, channel, order_id, recipient, payload,"
        " status, attempts, next_attempt_at, created_at)"
        " SELECT ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?"
        " WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE dedupe_key = ?) RETURNING message_id",
        [new_id("msg"), dedupe_key, channel, order_id, recipient, json.dumps(payload), now, now,
         dedupe_key],
    ).fetchall()  # fmt: skip
    return bool(rows)


def queue_order_sms(
    conn: duckdb.DuckDBPyConnection, order_id: str, dedupe_key: str, text: str, now: datetime
) -> bool:
    """Queue a text message to the order's mobile, once per key; False when the key was
    used before or the order has no mobile. Callers queue only when SMS is configured
    (`Settings.sms_enabled`); the sender checks opt-outs when it sends."""
    rows = conn.execute(
        "INSERT INTO outbox (message_id, dedupe_key, channel, order_id, recipient, payload,"
        " status, attempts, next_attempt_at, created_at)"
        " SELECT ?, ?, 'sms', o.order_id, o.customer_phone, ?, 'pending', 0, ?, ?"
        " FROM orders o WHERE o.order_id = ? AND o.customer_phone IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM outbox WHERE dedupe_key = ?) RETURNING message_id",
        [new_id("msg"), dedupe_key, json.dumps({"text": text}), now, now, order_id, dedupe_key],
    ).fetchall()
    return bool(rows)


_DUE = ("message_id", "dedupe_key", "channel", "order_id", "recipient", "payload", "attempts")


def due(conn: duckdb.DuckDBPyConnection, now: datetime, limit: int = 50) -> list[dict]:
    rows = conn.execute(
        f"SELECT {', '.join(_DUE)} FROM outbox WHERE status = 'pending'"
        " AND next_attempt_at <= ? ORDER BY next_attempt_at, message_id LIMIT ?",
        [now, limit],
    ).fetchall()
    return [dict(zip(_DUE, row, strict=True)) for row in rows]


def claim_due(
    conn: duckdb.DuckDBPyConnection, now: datetime, limit: int, lease_until: datetime
) -> list[dict]:
    """The messages due at `now`, up to `limit`. On PostgreSQL they are claimed in the same
    statement: their next try moves to `lease_until`, so another sidecar's sender leaves
    them alone, and a message this sidecar dies before marking is due again (then, or at
    once when its connections are gone: `store/locks.py`; sent again, perhaps: at least
    once). On DuckDB, whose file one sidecar owns, `due`."""
    if not locks.on_postgres(conn):
        return due(conn, now, limit)
    rows = conn.execute(
        "UPDATE outbox SET next_attempt_at = ?, claimed_by = ? FROM ("
        "SELECT message_id, next_attempt_at AS due_at FROM outbox WHERE status = 'pending'"
        " AND next_attempt_at IS NOT NULL"  # always: the condition of its index (schema.py)
        f" AND (next_attempt_at <= ? OR {locks.orphaned()})"
        " ORDER BY next_attempt_at, message_id LIMIT ?"
        + locks.skip_locked(conn)
        + ") AS claimed WHERE outbox.message_id = claimed.message_id"
        f" RETURNING {', '.join('outbox.' + c for c in _DUE)}, claimed.due_at",
        [lease_until, locks.CLAIMANT, now, limit],
    ).fetchall()
    rows.sort(key=lambda row: (row[-1], row[0]))
    return [dict(zip(_DUE, row[:-1], strict=True)) for row in rows]


def mark_sent(conn: duckdb.DuckDBPyConnection, message_id: str, now: datetime) -> None:
    conn.execute(
        "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?,"
        " last_error = NULL, next_attempt_at = NULL WHERE message_id = ?",
        [now, message_id],
    )


def mark_skipped(
    conn: duckdb.DuckDBPyConnection, message_id: str, reason: str, now: datetime
) -> None:
    """Not sent on purpose (the number texted STOP, SMS is off …): `reason` says why."""
    conn.execute(
        "UPDATE outbox SET status = 'skipped', attempts = attempts + 1, last_error = ?,"
        " next_attempt_at = NULL WHERE message_id = ?",
        [reason[:2000], message_id],
    )


def record_failure(
    conn: duckdb.DuckDBPyConnection,
    message_id: str,
    error: str,
    retry_in: timedelta,
    permanent: bool,
    now: datetime,
) -> str:
    """A failed send: retried after `retry_in`, or after the last attempt failed, with an
    error-log entry staff can act on."""
    attempts, channel, dedupe_key, order_id = conn.execute(
        "SELECT attempts + 1, channel, dedupe_key, order_id FROM outbox WHERE message_id = ?",
        [message_id],
    ).fetchone()
    give_up = permanent or attempts >= ATTEMPTS
    conn.execute(
        "UPDATE outbox SET status = ?, attempts = ?, last_error = ?, next_attempt_at = ?"
        " WHERE message_id = ?",
        ["failed" if give_up else "pending", attempts, error[:2000],
         None if give_up else now + retry_in, message_id],
    )  # fmt: skip
    if give_up:
        log_error(
            conn,
            category="email" if channel == "email" else "system",
            # An alert that could not be sent must not raise an alert of its own: through
            # the same broken channel that would go on for ever. It is on the error log.
            severity="medium" if dedupe_key.startswith("alert:") else "high",
            message=f"{channel} message {dedupe_key} not sent after {attempts} attempt(s): "
            f"{error[:500]}",
            context={"message_id": message_id},  # what a retry from the error log retries
            order_id=order_id,
            now=now,
        )
    return "failed" if give_up else "retrying"


COLUMNS = ("message_id", "dedupe_key", "channel", "order_id", "recipient", "status", "attempts",
           "next_attempt_at", "last_error", "created_at", "sent_at")  # fmt: skip


def messages(
    conn: duckdb.DuckDBPyConnection,
    *,
    status: str | None = None,
    channel: str | None = None,
    order_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of messages, newest first, without payloads, and how many match in all."""
    where = Where().equals(status=status, channel=channel, order_id=order_id)
    order = "created_at DESC, message_id DESC"
    return paging.page(conn, "outbox", COLUMNS, where, order, limit, offset)


def retry(conn: duckdb.DuckDBPyConnection, message_id: str, now: datetime) -> str:
    """Staff: a failed message goes back to pending, due now, with a fresh set of attempts.
    "retried", "not_failed" or "not_found"."""
    rows = conn.execute(
        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?"
        " WHERE message_id = ? AND status = 'failed' RETURNING message_id",
        [now, message_id],
    ).fetchall()
    if rows:
        return "retried"
    found = conn.execute("SELECT 1 FROM outbox WHERE message_id = ?", [message_id]).fetchone()
    return "not_failed" if found else "not_found"


def queue_confirmations(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], now: datetime
) -> None:
    """The confirmation email of each order with an address, once per order (by its key)."""
    conn.execute(
        "INSERT INTO outbox (message_id, dedupe_key, channel, order_id, recipient, payload,"
        " status, attempts, next_attempt_at, created_at)"
        " SELECT 'msg_conf_' || o.order_id, 'confirmation:' || o.order_id, 'email', o.order_id,"
        " o.customer_email, '{\"template\": \"confirmation\"}', 'pending', 0, ?, ?"
        " FROM orders o WHERE o.order_id IN (SELECT unnest(?)) AND o.customer_email IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM outbox m"
        " WHERE m.dedupe_key = 'confirmation:' || o.order_id)",
        [now, now, order_ids],
    )


def queue_staff_notices(
    conn: duckdb.DuckDBPyConnection, order_ids: list[str], payloads: list[str], now: datetime
) -> None:
    """A Slack message per order (its JSON payload), once per order (by its key)."""
    conn.execute(
        "INSERT INTO outbox (message_id, dedupe_key, channel, order_id, payload, status,"
        " attempts, next_attempt_at, created_at)"
        " SELECT 'msg_staff_' || n.id, 'staff:' || n.id, 'slack', n.id, n.payload, 'pending', 0,"
        " ?, ? FROM (SELECT unnest(?) AS id, unnest(?) AS payload) n WHERE NOT EXISTS"
        " (SELECT 1 FROM outbox m WHERE m.dedupe_key = 'staff:' || n.id)",
        [now, now, order_ids, payloads],
    )

"""The error log staff work from: what went wrong, how badly, with enough context to act."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb

from core.store.orders import new_id


def log_error(
    conn: duckdb.DuckDBPyConnection,
    *,
    category: str,
    severity: str,
    message: str,
    now: datetime,
    context: dict[str, Any] | None = None,
    order_id: str | None = None,
    stripe_event_id: str | None = None,
    step: str | None = None,
    dedupe_key: str | None = None,
) -> bool:
    """Add an entry; with a `dedupe_key`, only the first entry for it is kept (so a retried
    cause, and the alert it raises, appears once). True when an entry was added."""
    # NOT EXISTS rather than ON CONFLICT, which costs DuckDB twice as much; the unique key
    # on dedupe_key still refuses a second entry.
    rows = conn.execute(
        "INSERT INTO error_log (error_id, dedupe_key, category, severity, message, context,"
        " order_id, stripe_event_id, step, created_at) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
        " WHERE ? IS NULL OR NOT EXISTS (SELECT 1 FROM error_log WHERE dedupe_key = ?)"
        " RETURNING error_id",
        [
            new_id("err"),
            dedupe_key,
            category,
            severity,
            message,
            json.dumps(context, default=str) if context else None,
            order_id,
            stripe_event_id,
            step,
            now,
            dedupe_key,
            dedupe_key,
        ],
    ).fetchall()
    return bool(rows)


def entries(
    conn: duckdb.DuckDBPyConnection,
    order_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of entries, oldest first, and how many there are in all."""
    columns = ("error_id", "category", "severity", "message", "context", "order_id",
               "stripe_event_id", "step", "created_at", "resolved_at")  # fmt: skip
    where, params = ("WHERE order_id = ?", [order_id]) if order_id else ("", [])
    rows = conn.execute(
        f"SELECT {', '.join(columns)} FROM error_log {where} ORDER BY created_at, error_id"
        " LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    (total,) = conn.execute(f"SELECT count(*) FROM error_log {where}", params).fetchone()
    return [dict(zip(columns, row, strict=True)) for row in rows], total

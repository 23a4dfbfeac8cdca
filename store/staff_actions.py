"""The staff_actions table's one writer: the audit trail of what staff did (refund, cancel,
move, end a subscription, change a capacity): who, when, why and what, once per request
(its `request_key` is unique, so a double click records one action).

Every function runs in the caller's transaction (`conn`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb

from store.orders import new_id

COLUMNS = ("action_id", "request_key", "order_id", "action", "actor", "reason", "details",
           "created_at")  # fmt: skip


def record(
    conn: duckdb.DuckDBPyConnection, *, request_key: str, order_id: str | None, action: str,
    actor: str, reason: str, details: dict[str, Any], now: datetime,
) -> bool:  # fmt: skip
    """Record an action unless its request was recorded before; True when recorded now."""
    rows = conn.execute(
        "INSERT INTO staff_actions (action_id, request_key, order_id, action, actor, reason,"
        " details, created_at) SELECT ?, ?, ?, ?, ?, ?, ?, ?"
        " WHERE NOT EXISTS (SELECT 1 FROM staff_actions WHERE request_key = ?)"
        " RETURNING action_id",
        [new_id("act"), request_key, order_id, action, actor, reason,
         json.dumps(details, default=str), now, request_key],
    ).fetchall()  # fmt: skip
    return bool(rows)


def find(conn: duckdb.DuckDBPyConnection, request_key: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM staff_actions WHERE request_key = ?", [request_key]
    ).fetchone()
    return _action(row) if row else None


def of_order(conn: duckdb.DuckDBPyConnection, order_id: str) -> list[dict[str, Any]]:
    """An order's actions, oldest first (its timeline)."""
    rows = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM staff_actions WHERE order_id = ?"
        " ORDER BY created_at, action_id",
        [order_id],
    ).fetchall()
    return [_action(row) for row in rows]


def _action(row: tuple) -> dict[str, Any]:
    action = dict(zip(COLUMNS, row, strict=True))
    action["details"] = json.loads(action["details"])
    return action


def listed(
    conn: duckdb.DuckDBPyConnection, order_id: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The newest actions first, of one order or all: a page and the total."""
    where, params = ("WHERE order_id = ?", [order_id]) if order_id else ("", [])
    total = conn.execute(f"SELECT count(*) FROM staff_actions {where}", params).fetchone()[0]
    rows = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM staff_actions {where}"
        " ORDER BY created_at DESC, action_id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return [_action(row) for row in rows], total

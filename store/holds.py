"""The holds table's one writer: a hold taken at checkout, converted once the order is paid
(the place is then taken for good), released when the order expires, fails, is replaced,
refunded or its subscription ends. See `store.orders` for the ledger the holds make.

Every function runs in the caller's transaction (`conn`); the ids are the caller's
(`store.orders.new_id`), so this module needs nothing above the table."""

from __future__ import annotations

from datetime import datetime

import duckdb


def insert_active(
    conn: duckdb.DuckDBPyConnection, hold_id: str, order_id: str, item_id: str, key: str,
    seats: int, expires_at: datetime, now: datetime,
) -> None:  # fmt: skip
    """A checkout's hold on a place, until `expires_at`."""
    conn.execute(
        "INSERT INTO holds (hold_id, order_id, order_item_id, resource_key, seats, status,"
        " expires_at, created_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?)",
        [hold_id, order_id, item_id, key, seats, expires_at, now],
    )


def release_active(conn: duckdb.DuckDBPyConnection, order_id: str) -> None:
    """An unpaid order's places go back (expired, failed, replaced, abandoned)."""
    conn.execute(
        "UPDATE holds SET status = 'released' WHERE order_id = ? AND status = 'active'",
        [order_id],
    )


def release_all(conn: duckdb.DuckDBPyConnection, order_id: str) -> None:
    """A refunded order's places go back, taken ones too."""
    conn.execute(
        "UPDATE holds SET status = 'released' WHERE order_id = ? AND status <> 'released'",
        [order_id],
    )


def release_ignite(conn: duckdb.DuckDBPyConnection, order_id: str) -> None:
    """An ended subscription's class places go back."""
    conn.execute(
        "UPDATE holds SET status = 'released' WHERE order_id = ? AND resource_key LIKE 'ignite:%'",
        [order_id],
    )


def convert(conn: duckdb.DuckDBPyConnection, hold_id: str) -> None:
    conn.execute("UPDATE holds SET status = 'converted' WHERE hold_id = ?", [hold_id])


def retake(conn: duckdb.DuckDBPyConnection, hold_id: str, key: str) -> None:
    """A lapsed hold takes a free place again (perhaps on another resource)."""
    conn.execute(
        "UPDATE holds SET status = 'converted', resource_key = ? WHERE hold_id = ?",
        [key, hold_id],
    )


def insert_converted(
    conn: duckdb.DuckDBPyConnection, hold_id: str, order_id: str, item_id: str, key: str,
    now: datetime,
) -> None:  # fmt: skip
    """A place taken for an item that never held one (an order from a payment's metadata)."""
    conn.execute(
        "INSERT INTO holds (hold_id, order_id, order_item_id, resource_key,"
        " seats, status, expires_at, created_at)"
        " VALUES (?, ?, ?, ?, 1, 'converted', ?, ?)",
        [hold_id, order_id, item_id, key, now, now],
    )


# The same, for many orders at once (`fulfilment.bulk_steps`).


def convert_orders(conn: duckdb.DuckDBPyConnection, order_ids: list[str]) -> None:
    conn.execute(
        "UPDATE holds SET status = 'converted' WHERE status = 'active'"
        " AND order_id IN (SELECT unnest(?))",
        [order_ids],
    )


def convert_many(conn: duckdb.DuckDBPyConnection, hold_ids: list[str]) -> None:
    conn.execute(
        "UPDATE holds SET status = 'converted' WHERE hold_id IN (SELECT unnest(?))",
        [hold_ids],
    )


def retake_many(conn: duckdb.DuckDBPyConnection, hold_ids: list[str], keys: list[str]) -> None:
    conn.execute(
        "UPDATE holds SET status = 'converted', resource_key = n.key"
        " FROM (SELECT unnest(?) AS id, unnest(?) AS key) n WHERE holds.hold_id = n.id",
        [hold_ids, keys],
    )


def insert_converted_many(
    conn: duckdb.DuckDBPyConnection, hold_ids: list[str], order_ids: list[str],
    item_ids: list[str], keys: list[str], now: datetime,
) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO holds (hold_id, order_id, order_item_id, resource_key, seats, status,"
        " expires_at, created_at)"
        " SELECT unnest(?), unnest(?), unnest(?), unnest(?), 1, 'converted', ?, ?",
        [hold_ids, order_ids, item_ids, keys, now, now],
    )


# Staff actions (fulfilment/staff_actions.py).


def release_items(conn: duckdb.DuckDBPyConnection, item_ids: list[str]) -> list[str]:
    """Refunded or cancelled items' places go back; the resources freed."""
    return [
        row[0]
        for row in conn.execute(
            "UPDATE holds SET status = 'released' WHERE order_item_id IN (SELECT unnest(?))"
            " AND status <> 'released' RETURNING resource_key",
            [item_ids],
        ).fetchall()
    ]


def move(conn: duckdb.DuckDBPyConnection, hold_id: str, key: str) -> None:
    """A moved booking's place is on another resource now (the old one is free)."""
    conn.execute(
        "UPDATE holds SET status = 'converted', resource_key = ? WHERE hold_id = ?",
        [key, hold_id],
    )

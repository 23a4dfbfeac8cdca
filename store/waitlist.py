"""The waitlist table's one writer: families waiting for a place of an event, in staff's
order, and the offers made to them (core/waitlist.py says what the states mean).

Every function runs in the caller's transaction (`conn`) on the store's single writer, so
two requests never see the same next family or the same free place. On PostgreSQL, where
several sidecars write side by side, an offer pass first takes the event's lock
(`lock_event`), held until its commit."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb

from store import locks

COLUMNS = (
    "entry_id", "event_key", "label", "position", "email", "status", "order_id",
    "offered_at", "offer_expires_at", "closed_at", "closed_reason", "created_at",
)  # fmt: skip
OPEN = ("waiting", "offered")


def lock_event(conn: duckdb.DuckDBPyConnection, key: str) -> None:
    """The event's waitlist is this transaction's until it commits (PostgreSQL; on DuckDB
    the single writer already makes it so)."""
    locks.lock_keys(conn, locks.WAITLIST, [key])


def _rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return [dict(zip(COLUMNS, row, strict=True)) for row in cursor.fetchall()]


def find(conn: duckdb.DuckDBPyConnection, key: str, email_key: str) -> dict[str, Any] | None:
    rows = _rows(
        conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM waitlist WHERE event_key = ? AND email_key = ?",
            [key, email_key],
        )
    )
    return rows[0] if rows else None


def entry(conn: duckdb.DuckDBPyConnection, entry_id: str) -> dict[str, Any] | None:
    rows = _rows(
        conn.execute(f"SELECT {', '.join(COLUMNS)} FROM waitlist WHERE entry_id = ?", [entry_id])
    )
    return rows[0] if rows else None


def open_count(conn: duckdb.DuckDBPyConnection, column: str, value: str) -> int:
    """Open entries (waiting or offered) of a mailbox (`email_key`) or a client (`client`)."""
    assert column in ("email_key", "client")
    return conn.execute(
        f"SELECT count(*) FROM waitlist WHERE {column} = ? AND status IN ('waiting', 'offered')",
        [value],
    ).fetchone()[0]


def add(
    conn: duckdb.DuckDBPyConnection, entry_id: str, key: str, label: str, email: str,
    email_key: str, client: str | None, cart: dict[str, Any], now: datetime,
) -> None:  # fmt: skip
    """A new entry at the end of its event's list; one whose earlier entry was closed
    (lapsed, removed, booked) joins the end again. The key (event, mailbox) keeps one entry
    per family per event."""
    conn.execute(
        "INSERT INTO waitlist (entry_id, event_key, label, position, email, email_key, client,"
        " cart, status, created_at, updated_at)"
        " SELECT ?, ?, ?, coalesce(max(position), 0) + 1, ?, ?, ?, ?, 'waiting', ?, ?"
        " FROM waitlist WHERE event_key = ?"
        " ON CONFLICT (event_key, email_key) DO UPDATE SET status = 'waiting',"
        " position = excluded.position, cart = excluded.cart, client = excluded.client,"
        " order_id = NULL, offered_at = NULL, offer_expires_at = NULL, closed_at = NULL,"
        " closed_reason = NULL, updated_at = excluded.updated_at"
        " WHERE waitlist.status NOT IN ('waiting', 'offered')",
        [entry_id, key, label, email, email_key, client, json.dumps(cart), now, now, key],
    )


def event_entries(conn: duckdb.DuckDBPyConnection, key: str) -> list[dict[str, Any]]:
    """An event's entries, open ones first in staff's order, then the closed ones."""
    return _rows(
        conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM waitlist WHERE event_key = ?"
            " ORDER BY status NOT IN ('waiting', 'offered'), position, created_at",
            [key],
        )
    )


def events(conn: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every event with an open entry: how many wait and how many hold an offer."""
    rows = conn.execute(
        "SELECT event_key, min(label), count(*) FILTER (WHERE status = 'waiting'),"
        " count(*) FILTER (WHERE status = 'offered') FROM waitlist"
        " WHERE status IN ('waiting', 'offered') GROUP BY event_key ORDER BY 1"
    ).fetchall()
    return [
        {"event": key, "label": label, "waiting": waiting, "offered": offered}
        for key, label, waiting, offered in rows
    ]


def waiting(conn: duckdb.DuckDBPyConnection, key: str) -> list[tuple[str, int, str]]:
    """(entry id, position, cart JSON) of an event's waiting entries."""
    return conn.execute(
        "SELECT entry_id, position, cart FROM waitlist WHERE event_key = ? AND status = 'waiting'"
        " ORDER BY position, entry_id",
        [key],
    ).fetchall()


def events_waiting(conn: duckdb.DuckDBPyConnection, resource: str | None = None) -> list[str]:
    """The events with a waiting entry (those that can take `resource`, if given)."""
    if resource is None:
        rows = conn.execute(
            "SELECT DISTINCT event_key FROM waitlist WHERE status = 'waiting' ORDER BY 1"
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT DISTINCT event_key FROM waitlist WHERE status = 'waiting'"
            " AND '|' || event_key || '|' LIKE '%|' || ? || '|%' ORDER BY 1",
            [resource],
        ).fetchall()
    return [row[0] for row in rows]


def reorder(conn: duckdb.DuckDBPyConnection, key: str, entry_ids: list[str], now: datetime) -> None:
    """Staff's order: `entry_ids` first, in that order; the event's others after them."""
    rest = [
        row[0]
        for row in conn.execute(
            "SELECT entry_id FROM waitlist WHERE event_key = ? AND entry_id NOT IN"
            " (SELECT unnest(?)) ORDER BY position, created_at",
            [key, entry_ids],
        ).fetchall()
    ]
    order = entry_ids + rest
    conn.execute(
        "UPDATE waitlist SET position = n.position, updated_at = ?"
        " FROM (SELECT unnest(?) AS id, unnest(?) AS position) n"
        " WHERE waitlist.entry_id = n.id AND waitlist.event_key = ?",
        [now, order, list(range(1, len(order) + 1)), key],
    )


def close(
    conn: duckdb.DuckDBPyConnection, entry_id: str, status: str, reason: str, now: datetime,
    *, when: tuple[str, ...] = OPEN,
) -> bool:  # fmt: skip
    """Close an entry (converted, lapsed, removed) if its status is one of `when`."""
    return bool(
        conn.execute(
            "UPDATE waitlist SET status = ?, closed_reason = ?, closed_at = ?, updated_at = ?"
            " WHERE entry_id = ? AND status IN (SELECT unnest(?)) RETURNING entry_id",
            [status, reason, now, now, entry_id, list(when)],
        ).fetchall()
    )


def mark_offered(
    conn: duckdb.DuckDBPyConnection, entry_id: str, order_id: str, expires_at: datetime,
    now: datetime,
) -> None:  # fmt: skip
    conn.execute(
        "UPDATE waitlist SET status = 'offered', order_id = ?, offered_at = ?,"
        " offer_expires_at = ?, updated_at = ? WHERE entry_id = ? AND status = 'waiting'",
        [order_id, now, expires_at, now, entry_id],
    )


def offers(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, datetime]]:
    """Every open offer: (entry id, order id, the order's payment status, offer expiry)."""
    return conn.execute(
        "SELECT w.entry_id, w.order_id, o.payment_status, w.offer_expires_at FROM waitlist w"
        " JOIN orders o ON o.order_id = w.order_id WHERE w.status = 'offered'"
    ).fetchall()


def figures(conn: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> dict[str, int]:
    """For the daily summary: families waiting or holding an offer now, offers made and
    places booked through an offer between `start` and `end` (naive UTC)."""
    size, offered, converted = conn.execute(
        "SELECT count(*) FILTER (WHERE status IN ('waiting', 'offered')),"
        " count(*) FILTER (WHERE offered_at >= ? AND offered_at < ?),"
        " count(*) FILTER (WHERE status = 'converted' AND closed_at >= ? AND closed_at < ?)"
        " FROM waitlist",
        [start, end, start, end],
    ).fetchone()
    return {"size": size, "offers": offered, "conversions": converted}

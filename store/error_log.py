"""The error log staff work from: what went wrong, how badly, with enough context to act."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import duckdb

from store import locks, paging
from store.orders import new_id
from store.paging import Where


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


# A grouped entry gathers the problems of its kind for this long after it was opened; the
# next one opens a new entry (and so, once gathered, a new alert).
GROUP_WINDOW = timedelta(minutes=15)


def log_grouped(
    conn: duckdb.DuckDBPyConnection,
    *,
    group_kind: str,
    category: str,
    severity: str,
    message: str,
    now: datetime,
    context: dict[str, Any] | None = None,
    order_id: str | None = None,
    stripe_event_id: str | None = None,
    count: int = 1,
) -> bool:
    """A problem (or `count` of them) that comes in floods (payments without a usable
    cart, unknown orders): the first of its kind opens an entry; later ones within
    GROUP_WINDOW add to its count (`occurrences`, `last_seen_at`) instead of an entry and an
    alert each. The entry keeps the first problem's message, order and event; the rest are
    on the filtered lists. True when an entry was opened. Run by the single writer, so two
    problems cannot both open one."""
    rows = conn.execute(
        "UPDATE error_log SET occurrences = occurrences + ?, last_seen_at = ?"
        " WHERE error_id = (SELECT error_id FROM error_log WHERE group_kind = ?"
        " AND resolved_at IS NULL AND created_at > ? ORDER BY created_at DESC LIMIT 1)"
        " RETURNING error_id",
        [count, now, group_kind, now - GROUP_WINDOW],
    ).fetchall()
    if rows:
        return False
    conn.execute(
        "INSERT INTO error_log (error_id, dedupe_key, category, severity, message, context,"
        " order_id, stripe_event_id, created_at, group_kind, occurrences, last_seen_at)"
        " VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [new_id("err"), category, severity, message,
         json.dumps(context, default=str) if context else None, order_id, stripe_event_id,
         now, group_kind, count, now],
    )  # fmt: skip
    return True


def log_entry(conn: duckdb.DuckDBPyConnection, entry: dict[str, Any], now: datetime) -> bool:
    """`log_error` with its fields in one mapping, for a caller in another process."""
    return log_error(conn, now=now, **entry)


def log_shared_watch(
    conn: duckdb.DuckDBPyConnection, entry: dict[str, Any], now: datetime, since: datetime
) -> bool:
    """A watchdog alert on what every sidecar on the database sees alike (a backlog): kept
    only when no entry of the same watch (`watch:<name>:…`) is still open from `since` on,
    so that several sidecars, whose episodes begin at slightly different minutes, alert
    once. Under an advisory lock on PostgreSQL, so two sidecars do not both find none."""
    prefix = ":".join(entry["dedupe_key"].split(":", 2)[:2]) + ":"  # watch:<name>:
    locks.lock_keys(conn, locks.WATCHDOG, [prefix])
    (open_,) = conn.execute(
        "SELECT count(*) FROM error_log WHERE starts_with(dedupe_key, ?)"
        " AND resolved_at IS NULL AND created_at >= ?",
        [prefix, since],
    ).fetchone()
    return False if open_ else log_entry(conn, entry, now)


COLUMNS = ("error_id", "dedupe_key", "category", "severity", "message", "context", "order_id",
           "stripe_event_id", "step", "created_at", "resolved_at", "resolved_by",
           "group_kind", "occurrences", "last_seen_at")  # fmt: skip


def entries(
    conn: duckdb.DuckDBPyConnection,
    order_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
    *,
    category: str | None = None,
    severity: str | None = None,
    resolved: bool | None = None,
    newest_first: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """One page of entries, oldest first (or newest first), and how many match in all."""
    where = Where().equals(order_id=order_id, category=category, severity=severity)
    if resolved is not None:
        where.add("resolved_at IS NOT NULL" if resolved else "resolved_at IS NULL")
    direction = "DESC" if newest_first else ""
    order = f"created_at {direction}, error_id {direction}"
    return paging.page(conn, "error_log", COLUMNS, where, order, limit, offset)


def entry(conn: duckdb.DuckDBPyConnection, error_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM error_log WHERE error_id = ?", [error_id]
    ).fetchone()
    return dict(zip(COLUMNS, row, strict=True)) if row else None


def resolve(conn: duckdb.DuckDBPyConnection, error_id: str, by: str, now: datetime) -> str:
    """Staff mark an entry dealt with: "resolved", "already" (it was) or "not_found"."""
    rows = conn.execute(
        "UPDATE error_log SET resolved_at = ?, resolved_by = ?"
        " WHERE error_id = ? AND resolved_at IS NULL RETURNING error_id",
        [now, by, error_id],
    ).fetchall()
    if rows:
        return "resolved"
    found = conn.execute("SELECT 1 FROM error_log WHERE error_id = ?", [error_id]).fetchone()
    return "already" if found else "not_found"


def unalerted(
    conn: duckdb.DuckDBPyConnection,
    severities: Sequence[str],
    gathered_before: datetime | None = None,
) -> list[dict[str, Any]]:
    """Unresolved entries of these severities that have raised no alert yet (no
    `alert:<error id>` message in the outbox), oldest first, at most 100, each with its
    order's amount (paid, else ordered) and currency when it names an order. A grouped
    entry (`log_grouped`) is left until it was opened before `gathered_before`, so that its
    one alert carries the count of a flood rather than its first problem."""
    names = ("error_id", "severity", "category", "message", "order_id", "group_kind",
             "occurrences", "created_at")  # fmt: skip
    found = conn.execute(
        "SELECT error_id, severity, category, message, order_id, group_kind, occurrences,"
        " created_at FROM error_log"
        " WHERE severity IN (SELECT unnest(?)) AND resolved_at IS NULL"
        " AND (group_kind IS NULL OR ? IS NULL OR created_at <= ?)"
        " AND NOT EXISTS (SELECT 1 FROM outbox WHERE dedupe_key = 'alert:' || error_id)"
        " ORDER BY created_at LIMIT 100",
        [list(severities), gathered_before, gathered_before],
    ).fetchall()
    rows = [dict(zip(names, row, strict=True)) for row in found]
    # The orders are looked up only when there is something to alert: the sender asks
    # several times a second, mostly to hear that there is nothing.
    order_ids = [row["order_id"] for row in rows if row["order_id"]]
    money = {}
    if order_ids:
        money = {order_id: (amount, currency) for order_id, amount, currency in conn.execute(
            "SELECT order_id, CASE WHEN amount_paid > 0 THEN amount_paid ELSE amount_total END,"
            " currency FROM orders WHERE order_id IN (SELECT unnest(?))", [order_ids],
        ).fetchall()}  # fmt: skip
    for row in rows:
        row["amount"], row["currency"] = money.get(row["order_id"], (None, None))
    return rows

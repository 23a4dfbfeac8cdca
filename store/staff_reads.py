"""What staff read: a business day's figures and the order list (one order in full is
`store/order_detail.py`).

Every function is a read (cursor first) that filters and pages in SQL; times in and out are
naive UTC (`core.business_days` turns a local business day into its bounds).

Written for a million orders. The rows of an order (items, steps, bookings, messages,
Stripe events) are looked up by order id *and a time bound*: nothing about an order is
made before the order, and the tables grow in time order, so DuckDB skips every row group
whose zonemap lies outside the bound instead of reading millions of ids. (An index on
order_id would serve too, but DuckDB keeps an ART index in memory whole once read: see
migration 4 in `store.schema`.)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

from core.summary import money_by_kind
from core.vocabulary import (
    FULFILLMENT_STATUSES,
    KINDS,
    MESSAGE_CHANNELS,
    SEVERITIES,
    STEP_STATUSES,
    STEPS,
)
from store import paging, summaries
from store.inbox_archive import every_event
from store.paging import Where

ORDER_SUMMARY = ("order_id", "created_at", "customer_name", "customer_email", "payment_status",
                 "fulfillment_status", "amount_total", "amount_refunded", "currency",
                 "paid_at", "kinds")  # fmt: skip
# Which column a Stripe id is kept in, by its prefix; anything else is taken for an order id.
STRIPE_ID_COLUMNS = {
    "cs_": "checkout_session_id",
    "pi_": "payment_intent_id",
    "sub_": "subscription_id",
}
# Orders made within this of each other have their rows looked up in one time range.
_RUN_GAP = timedelta(days=1)


def query_dicts(
    conn: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def created_runs(created: dict[str, datetime]) -> list[tuple[list[str], datetime, datetime]]:
    """Orders (id -> created_at) grouped into runs of nearby creation times: (ids, first,
    last). Each run's rows are then read from one narrow time range."""
    runs: list[tuple[list[str], datetime, datetime]] = []
    for order_id, at in sorted(created.items(), key=lambda kv: kv[1]):
        if runs and at - runs[-1][2] <= _RUN_GAP:
            runs[-1] = (runs[-1][0] + [order_id], runs[-1][1], at)
        else:
            runs.append(([order_id], at, at))
    return runs


def rows_made_at(
    conn: duckdb.DuckDBPyConnection, table: str, columns: str, made: dict[str, datetime]
) -> list[tuple]:
    """`SELECT {columns} FROM {table}` for these orders (id -> when their rows in `table`
    were made, its `created_at`), read run by run so that zonemaps skip everything else."""
    rows: list[tuple] = []
    for ids, first, last in created_runs(made):
        rows += conn.execute(
            f"SELECT {columns} FROM {table} WHERE order_id IN (SELECT unnest(?))"
            " AND created_at >= ? AND created_at <= ?",
            [ids, first, last],
        ).fetchall()
    return rows


def items_of(
    conn: duckdb.DuckDBPyConnection, created: dict[str, datetime], columns: str
) -> list[tuple]:
    """`SELECT {columns}` of the items of these orders (id -> created_at); an item is made
    with its order, at the same time."""
    return rows_made_at(conn, "order_items", columns, created)


def steps_of(conn: duckdb.DuckDBPyConnection, paid: dict[str, datetime]) -> list[tuple]:
    """(order_id, step, status) of these orders' steps (id -> paid_at): made when the order
    was paid, with `created_at` its paid_at."""
    return rows_made_at(conn, "fulfilment_steps", "order_id, step, status", paid)


# --- the business day ----------------------------------------------------------------------


def kpis(
    conn: duckdb.DuckDBPyConnection, start: datetime, stop: datetime, now: datetime
) -> dict[str, Any]:
    """The figures of the business day [start, stop) and the state of everything now."""
    day = [start, stop]
    (orders_created,) = conn.execute(
        "SELECT count(*) FROM orders WHERE created_at >= ? AND created_at < ?", day
    ).fetchone()
    (paid_orders,) = conn.execute(
        "SELECT count(*) FROM orders WHERE paid_at >= ? AND paid_at < ?", day
    ).fetchone()
    (refund_count,) = conn.execute(
        "SELECT count(*) FROM refunds WHERE refunded_at >= ? AND refunded_at < ?", day
    ).fetchone()
    # The day's money as the daily summary counts it: payments, Ignite renewals, refunds.
    revenue = money_by_kind(
        (kind, paid, refunded) for _, kind, paid, refunded in summaries.money(conn, [(start, stop)])
    )
    (bookings,) = conn.execute(
        "SELECT count(*) FROM bookings WHERE created_at >= ? AND created_at < ?"
        " AND status = 'confirmed'",
        day,
    ).fetchone()
    return {
        "orders": orders_created,
        "paid_orders": paid_orders,
        "revenue": revenue["total"],
        "revenue_by_kind": {**dict.fromkeys(KINDS, 0), **revenue["by_kind"]},
        "bookings": bookings,
        "refunds": {"count": refund_count, "amount": revenue["refunded"]},
        "fulfillment_status": _counts(
            conn,
            "SELECT fulfillment_status, count(*) FROM orders GROUP BY 1",
            FULFILLMENT_STATUSES,
        ),
        "steps": _step_counts(conn),
        "webhooks": webhook_health(conn, now),
        "errors_open": _counts(
            conn,
            "SELECT severity, count(*) FROM error_log WHERE resolved_at IS NULL GROUP BY 1",
            SEVERITIES,
        ),
        "tickets_open": conn.execute(
            "SELECT count(*) FROM support_tickets WHERE status <> 'resolved'"
        ).fetchone()[0],
        **_outbox_waiting(conn),
    }


def _outbox_waiting(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Messages waiting and failed, in all (`outbox`) and per channel (`outbox_by_channel`:
    `{"email": {"pending": 2, "failed": 0}, …}`), from one pass over the outbox."""
    counts = {channel: {"pending": 0, "failed": 0} for channel in MESSAGE_CHANNELS}
    total = {"pending": 0, "failed": 0}
    # `status <> 'sent'` first: DuckDB tests it on the column's dictionary and reads the
    # rest only for the few rows left (half the time of the IN alone, 1.9 million messages).
    for channel, status, n in conn.execute(
        "SELECT channel, status, count(*) FROM outbox"
        " WHERE status <> 'sent' AND status IN ('pending', 'failed') GROUP BY 1, 2"
    ).fetchall():
        counts.setdefault(channel, {"pending": 0, "failed": 0})[status] = n
        total[status] += n
    return {"outbox": total, "outbox_by_channel": counts}


def _counts(conn: duckdb.DuckDBPyConnection, sql: str, keys: Sequence[str]) -> dict[str, int]:
    counts = dict.fromkeys(keys, 0)
    counts.update(dict(conn.execute(sql).fetchall()))
    return counts


def _step_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Steps by status. Nearly every step of the past is done, so "done" is what is left
    of each step's count once the others are counted: the status column's zonemaps find
    those without reading the done millions."""
    counts = {step: dict.fromkeys(STEP_STATUSES, 0) for step in STEPS}
    totals = _step_totals(conn)
    for step, status, n in conn.execute(
        "SELECT step, status, count(*) FROM fulfilment_steps WHERE status <> 'done' GROUP BY 1, 2"
    ).fetchall():
        counts[step][status] = n
    for step in STEPS:
        counts[step]["done"] = totals.get(step, 0) - sum(counts[step].values())
    return counts


# Steps are only ever inserted (never deleted, never renamed), so the count of each step
# changes only with the table's row count, which DuckDB answers from its metadata: the
# counts by step (a pass over millions of rows) are kept, per database file, until it moves.
_step_totals_kept: dict[tuple, tuple[int, dict[str, int]]] = {}
_step_totals_lock = threading.Lock()


def _step_totals(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How many steps of each kind there are (`{step: n}`)."""
    sql = "SELECT step, count(*) FROM fulfilment_steps GROUP BY step"
    file = database_file(conn)
    if file is None:
        return dict(conn.execute(sql).fetchall())
    (rows,) = conn.execute("SELECT count(*) FROM fulfilment_steps").fetchone()
    with _step_totals_lock:
        kept = _step_totals_kept.get(file)
    if kept is not None and kept[0] == rows:
        return kept[1]
    totals = dict(conn.execute(sql).fetchall())
    if sum(totals.values()) == rows:  # one transaction: always, unless on another backend
        with _step_totals_lock:
            _step_totals_kept[file] = (rows, totals)
    return totals


def database_file(conn: duckdb.DuckDBPyConnection) -> tuple | None:
    """Which DuckDB file this cursor reads (its path and inode), or None (in memory, or
    PostgreSQL)."""
    if not isinstance(conn, duckdb.DuckDBPyConnection):
        return None
    (path,) = conn.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone() or (None,)
    if not path:
        return None
    try:
        return (path, os.stat(path).st_ino)
    except OSError:
        return None


def webhook_health(conn: duckdb.DuckDBPyConnection, now: datetime) -> dict[str, Any]:
    # An event waiting for its order (webhook_inbox.waiting_for) is not behind: it is
    # counted apart, and is no part of the backlog or its age.
    backlog, failed, oldest, waiting = conn.execute(
        "SELECT count(*) FILTER (WHERE status IN ('received', 'processing')"
        " AND waiting_for IS NULL),"
        " count(*) FILTER (WHERE status = 'failed'),"
        " min(received_at) FILTER (WHERE status IN ('received', 'processing')"
        " AND waiting_for IS NULL),"
        " count(*) FILTER (WHERE status = 'received' AND waiting_for IS NOT NULL)"
        " FROM webhook_inbox WHERE status IN ('received', 'processing', 'failed')"
    ).fetchone()
    (lag,) = conn.execute(
        "SELECT percentile_cont(0.95) WITHIN GROUP"
        " (ORDER BY extract(epoch FROM processed_at - received_at)) FROM webhook_inbox"
        " WHERE processed_at >= ?",
        [now - timedelta(hours=1)],
    ).fetchone()
    return {
        "backlog": backlog,
        "waiting": waiting,
        "failed": failed,
        "oldest_backlog_seconds": (now - oldest).total_seconds() if oldest else None,
        "lag_p95_seconds": round(lag, 3) if lag is not None else None,
    }


def webhook_lag_by_day(
    conn: duckdb.DuckDBPyConnection, days: Sequence[tuple[str, datetime, datetime]]
) -> list[dict[str, Any]]:
    """For each business day (its name and naive-UTC bounds), the Stripe events processed
    that day and how long they waited (received → processed): median and 95th percentile
    in seconds, None on a day with none."""
    lag = "extract(epoch FROM processed_at - received_at)"
    result = []
    for name, start, stop in days:
        processed, p50, p95 = conn.execute(
            f"SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY {lag}),"
            f" percentile_cont(0.95) WITHIN GROUP (ORDER BY {lag})"
            f" FROM {every_event('received_at, processed_at')}"
            " WHERE processed_at >= ? AND processed_at < ?",
            [start, stop],
        ).fetchone()
        result.append({
            "date": name, "processed": processed,
            "lag_p50_seconds": round(p50, 3) if p50 is not None else None,
            "lag_p95_seconds": round(p95, 3) if p95 is not None else None,
        })  # fmt: skip
    return result


# --- the order list ------------------------------------------------------------------------

# A search that has to read every order (part of a name or an address, a kind) finds the
# newest matches up to this many in one pass and counts no further: past it, `total` is a
# lower bound (`total_exact` false). Filters on status and dates count exactly.
SEARCH_CAP = 10_000


@dataclass(frozen=True)
class OrderSearch:
    """What the staff order list is filtered by; times are naive UTC.

    `q` is an order id or a Checkout Session, PaymentIntent or subscription id (looked up
    by its unique key), else part of the customer's email address (when it has an @) or of
    their name, in any case. `kind` is one of the order's kinds."""

    q: str | None = None
    payment_status: str | None = None
    fulfillment_status: str | None = None
    kind: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None

    def where(self) -> tuple[Where, str]:
        """The WHERE clause over `orders o` and how to run it: "key" (a unique key finds
        the order), "scan" (every order is read) or "filter" (status and time ranges,
        answered from compressed columns and zonemaps, counted exactly)."""
        where = Where()
        how = "filter"
        q = (self.q or "").strip()
        if q:
            column = next((c for p, c in STRIPE_ID_COLUMNS.items() if q.startswith(p)), None)
            if column is not None or q.startswith("ord_"):
                where.add(f"o.{column or 'order_id'} = ?", q)
                how = "key"
            else:
                column = "customer_email" if "@" in q else "customer_name"
                if any(c in q for c in "\\%_"):
                    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                    where.add(f"o.{column} ILIKE ? ESCAPE '\\'", f"%{escaped}%")
                else:
                    # Nothing to escape: without ESCAPE, DuckDB's ILIKE takes its fast path
                    # (a million names or addresses in 60 % of the time).
                    where.add(f"o.{column} ILIKE ?", f"%{q}%")
                how = "scan"
        where.equal("o.payment_status", self.payment_status)
        where.equal("o.fulfillment_status", self.fulfillment_status)
        if self.created_from is not None:
            where.add("o.created_at >= ?", self.created_from)
        if self.created_before is not None:
            where.add("o.created_at < ?", self.created_before)
        if self.kind is not None:
            # kind names are not parts of one another
            where.add("o.kinds LIKE ?", f"%{self.kind}%")
        return where, how


def find_orders(
    conn: duckdb.DuckDBPyConnection, search: OrderSearch, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """One page of orders, newest first, each with its kinds and step statuses:
    `{"orders", "total", "total_exact"}`. The page is found by (order_id, created_at)
    alone and its rows read after, from the few row groups they are in."""
    filters, how = search.where()
    where, params = filters.sql, filters.params
    key = "SELECT o.order_id, o.created_at FROM orders o"
    newest = "ORDER BY o.created_at DESC, o.order_id DESC"
    exact = True
    if how == "key":
        found = sorted(conn.execute(f"{key} {where}", params).fetchall(), reverse=True,
                       key=lambda r: (r[1], r[0]))  # fmt: skip
        total, found = len(found), found[offset : offset + limit]
    elif how == "scan":
        # One pass finds the newest matches (up to the cap); the page is cut from them.
        found = conn.execute(f"{key} {where} {newest} LIMIT ?", [*params, SEARCH_CAP + 1])
        found = found.fetchall()
        total, exact = min(len(found), SEARCH_CAP), len(found) <= SEARCH_CAP
        if offset + limit > len(found) and not exact:
            found = conn.execute(
                f"{key} {where} {newest} LIMIT ? OFFSET ?", [*params, limit, offset]
            ).fetchall()
        else:
            found = found[offset : offset + limit]
    else:
        total = paging.count(conn, "orders o", filters)
        found = _page(conn, f"{key} {where}", params, total, limit, offset)
    orders = [dict(zip(ORDER_SUMMARY, row, strict=True)) for row in _summaries(conn, dict(found))]
    _add_kinds_and_steps(conn, orders)
    return {"orders": orders, "total": total, "total_exact": exact}


def _page(
    conn: duckdb.DuckDBPyConnection,
    select: str,
    params: list[Any],
    total: int,
    limit: int,
    offset: int,
) -> list[tuple]:
    """One page of `select` (newest first) of `total` rows. A page past the middle is
    read from the oldest end: DuckDB's top-N keeps offset + limit rows, so the last page
    of a million would otherwise sort them all."""
    if offset >= total:
        return []
    if offset + limit <= total // 2:
        return conn.execute(
            f"{select} ORDER BY o.created_at DESC, o.order_id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
    count = min(limit, total - offset)
    rows = conn.execute(
        f"{select} ORDER BY o.created_at, o.order_id LIMIT ? OFFSET ?",
        [*params, count, total - offset - count],
    ).fetchall()
    return rows[::-1]


def _summaries(conn: duckdb.DuckDBPyConnection, created: dict[str, datetime]) -> list[tuple]:
    """The list rows of these orders (id -> created_at), newest first."""
    rows = rows_made_at(conn, "orders", ", ".join(ORDER_SUMMARY), created)
    return sorted(rows, key=lambda r: (r[1], r[0]), reverse=True)


def _add_kinds_and_steps(conn: duckdb.DuckDBPyConnection, orders: list[dict]) -> None:
    steps: dict[str, dict[str, str]] = {}
    paid = {o["order_id"]: o["paid_at"] for o in orders if o["paid_at"]}
    for order_id, step, status in steps_of(conn, paid):
        steps.setdefault(order_id, {})[step] = status
    for order in orders:
        kinds = (order["kinds"] or "").split(",")
        order["kinds"] = [k for k in KINDS if k in kinds]
        known = steps.get(order["order_id"], {})
        order["steps"] = {step: known[step] for step in STEPS if step in known}

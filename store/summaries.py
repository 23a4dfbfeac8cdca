"""The daily summary's SQL: the rows of a business day, and the stored summary per day.

A business day arrives as a UTC range computed in Python (core/summary.py); every query
here filters on plain timestamp ranges, so it is the same SQL in DuckDB and PostgreSQL and
each scan is narrowed by the tables' time order. Several days (the trends) are one query
each, joined against a VALUES list of ranges.

Storing and posting happen in one write: the summary row is upserted and, when asked, a
Slack message is queued in the outbox under `summary:<date>` in the same transaction. That
unique key is what posts a day at most once; a forced post uses
`summary:<date>:forced:<n>` with n counting the posts of that day.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from core import summary
from core.summary import DayRows, EventRow, TrendRows
from store import outbox, paging, waitlist
from store.inbox_archive import every_event
from store.paging import Where

_COLUMNS = ("summary_date", "figures", "computed_at", "posted_at", "post_count")


def _days(ranges: list[tuple[datetime, datetime]]) -> tuple[str, list[Any]]:
    """A `days(n, day_start, day_end)` CTE over the given ranges, and its parameters."""
    values = ", ".join("(?, ?, ?)" for _ in ranges)
    params: list[Any] = []
    for n, (start, end) in enumerate(ranges):
        params += [n, start, end]
    return f"days AS (SELECT * FROM (VALUES {values}) AS v(n, day_start, day_end))", params


def _span(ranges: list[tuple[datetime, datetime]]) -> list[datetime]:
    """[first start, last end] of the ranges: the same bounds again as plain parameters, so
    that each table's scan is narrowed by its time order (DuckDB's zonemaps skip the row
    groups outside them; a join against the days alone reads every row)."""
    return [min(start for start, _ in ranges), max(end for _, end in ranges)]


def money(conn: duckdb.DuckDBPyConnection, ranges: list[tuple[datetime, datetime]]) -> list[tuple]:
    """(day, kind, paid, refunded) for each day and kind: payments recorded that day, Ignite
    renewal invoices paid that day, refunds recorded that day; an order's amounts shared
    between its items' kinds in proportion to their prices (floats; core/summary.py rounds)."""
    days, params = _days(ranges)
    span = _span(ranges)
    return conn.execute(
        f"""
        WITH {days},
        paid AS (
            SELECT d.n, o.order_id, o.amount_paid AS amount FROM orders o
            JOIN days d ON o.paid_at >= d.day_start AND o.paid_at < d.day_end
            WHERE o.paid_at >= ? AND o.paid_at < ?
        ),
        refunded AS (
            SELECT d.n, r.order_id, r.amount FROM refunds r
            JOIN days d ON r.refunded_at >= d.day_start AND r.refunded_at < d.day_end
            WHERE r.refunded_at >= ? AND r.refunded_at < ?
        ),
        -- A subscription's first invoice is the checkout's payment (counted above); its
        -- later invoices are renewals. An invoice covering several children has a row per
        -- enrolment, each with the invoice's whole amount: counted once.
        renewals AS (
            SELECT DISTINCT d.n, split_part(p.invoice_id, ':', 1) AS invoice,
                   p.amount_paid AS amount
            FROM enrolment_periods p
            JOIN days d ON p.paid_at >= d.day_start AND p.paid_at < d.day_end
            WHERE p.paid_at >= ? AND p.paid_at < ?
                AND p.period_start > (SELECT min(q.period_start) FROM enrolment_periods q
                                      WHERE q.enrolment_id = p.enrolment_id)
        ),
        kinds AS (
            SELECT i.order_id, i.kind, sum(i.unit_amount) AS amount,
                   sum(sum(i.unit_amount)) OVER (PARTITION BY i.order_id) AS order_amount,
                   count(*) OVER (PARTITION BY i.order_id) AS kinds
            FROM order_items i
            WHERE i.order_id IN (SELECT order_id FROM paid UNION SELECT order_id FROM refunded)
                AND i.created_at >= ?
            GROUP BY i.order_id, i.kind
        ),
        shares AS (
            SELECT order_id, kind,
                   CASE WHEN order_amount > 0
                        THEN CAST(amount AS DOUBLE PRECISION) / order_amount
                        ELSE 1.0 / kinds END AS share
            FROM kinds
        ),
        moved AS (
            SELECT p.n, coalesce(s.kind, '{summary.UNASSIGNED}') AS kind,
                   p.amount * coalesce(s.share, 1.0) AS paid, 0.0 AS refunded
            FROM paid p LEFT JOIN shares s ON s.order_id = p.order_id
            UNION ALL
            SELECT r.n, coalesce(s.kind, '{summary.UNASSIGNED}'), 0.0,
                   r.amount * coalesce(s.share, 1.0)
            FROM refunded r LEFT JOIN shares s ON s.order_id = r.order_id
            UNION ALL
            SELECT n, 'ignite', CAST(amount AS DOUBLE PRECISION), 0.0 FROM renewals
        )
        SELECT n, kind, sum(paid), sum(refunded) FROM moved GROUP BY n, kind ORDER BY n, kind
        """,
        params + span * 3 + [_first_order_made(conn, span)],
    ).fetchall()


def _first_order_made(conn: duckdb.DuckDBPyConnection, span: list[datetime]) -> datetime:
    """When the first of the orders paid or refunded in the span was made: an order's items
    are made with it (`order_items.created_at` is the order's), so the items are read from
    then on, not from the start of the table."""
    (paid,) = conn.execute(
        "SELECT min(created_at) FROM orders WHERE paid_at >= ? AND paid_at < ?", span
    ).fetchone()
    # A join, not `order_id IN (…)`: DuckDB builds the join's hash table of the few refunds
    # and probes the orders with it (2 ms with a million orders, against 20 ms).
    (refunded,) = conn.execute(
        "SELECT min(o.created_at) FROM refunds r JOIN orders o ON o.order_id = r.order_id"
        " WHERE r.refunded_at >= ? AND r.refunded_at < ?",
        span,
    ).fetchone()
    made = [moment for moment in (paid, refunded) if moment is not None]
    return min(made) if made else span[1]


def bookings(
    conn: duckdb.DuckDBPyConnection, ranges: list[tuple[datetime, datetime]]
) -> list[tuple]:
    """(day, kind, n): bookings made that day that are confirmed now."""
    days, params = _days(ranges)
    return conn.execute(
        f"WITH {days} SELECT d.n, e.kind, count(*) FROM bookings b"
        " JOIN days d ON b.created_at >= d.day_start AND b.created_at < d.day_end"
        " JOIN events e ON e.event_id = b.event_id"
        " WHERE b.status = 'confirmed' AND b.created_at >= ? AND b.created_at < ?"
        " GROUP BY d.n, e.kind ORDER BY d.n, e.kind",
        params + _span(ranges),
    ).fetchall()


def events(
    conn: duckdb.DuckDBPyConnection, ranges: list[tuple[datetime, datetime]]
) -> list[tuple[int, EventRow]]:
    """(day, event) for each scheduled event starting that day, with its confirmed
    bookings."""
    days, params = _days(ranges)
    rows = conn.execute(
        f"""
        WITH {days},
        day_events AS (
            SELECT d.n, e.event_id, e.title, e.kind, e.product_id, e.starts_at, e.capacity,
                   e.created_at
            FROM events e JOIN days d ON e.starts_at >= d.day_start AND e.starts_at < d.day_end
            WHERE e.status = 'scheduled' AND e.starts_at >= ? AND e.starts_at < ?
        ),
        -- An event is made when its first place is booked: its bookings are read from the
        -- earliest of the events' created_at on (see store/calendar.py).
        booked AS (
            SELECT b.event_id, count(*) AS booked FROM bookings b
            WHERE b.status = 'confirmed' AND b.event_id IN (SELECT event_id FROM day_events)
                AND b.created_at >= (SELECT min(created_at) FROM day_events)
            GROUP BY b.event_id
        )
        SELECT e.n, e.event_id, e.title, e.kind, e.product_id, e.starts_at, e.capacity,
               coalesce(b.booked, 0)
        FROM day_events e LEFT JOIN booked b ON b.event_id = e.event_id
        ORDER BY e.n, e.starts_at, e.event_id
        """,
        params + _span(ranges),
    ).fetchall()
    return [(row[0], EventRow(*row[1:])) for row in rows]


def day_rows(
    conn: duckdb.DuckDBPyConnection,
    start: datetime,
    end: datetime,
    next_start: datetime,
    next_end: datetime,
) -> DayRows:
    """Everything the summary of the day [start, end) needs (naive UTC bounds)."""
    day = [(start, end)]
    orders_created, orders_paid = conn.execute(
        "SELECT count(*) FILTER (WHERE created_at >= ? AND created_at < ?),"
        " count(*) FILTER (WHERE paid_at >= ? AND paid_at < ?)"
        " FROM orders WHERE (created_at >= ? AND created_at < ?)"
        " OR (paid_at >= ? AND paid_at < ?)",
        [start, end, start, end, start, end, start, end],
    ).fetchone()
    refund_count, refund_amount = conn.execute(
        "SELECT count(*), coalesce(sum(amount), 0) FROM refunds"
        " WHERE refunded_at >= ? AND refunded_at < ?",
        [start, end],
    ).fetchone()
    errors = conn.execute(
        "SELECT category, severity, count(*) FROM error_log"
        " WHERE created_at >= ? AND created_at < ? GROUP BY category, severity"
        " ORDER BY category, severity",
        [start, end],
    ).fetchall()
    (errors_open,) = conn.execute(
        "SELECT count(*) FROM error_log WHERE resolved_at IS NULL"
    ).fetchone()
    tickets_new, tickets_open = conn.execute(
        "SELECT count(*) FILTER (WHERE created_at >= ? AND created_at < ?),"
        " count(*) FILTER (WHERE status IN ('open', 'in_progress')) FROM support_tickets",
        [start, end],
    ).fetchone()
    return DayRows(
        orders_created=orders_created,
        orders_paid=orders_paid,
        money=[(kind, paid, refunded) for _, kind, paid, refunded in money(conn, day)],
        refunds=(refund_count, refund_amount),
        bookings=[(kind, n) for _, kind, n in bookings(conn, day)],
        next_day_events=[event for _, event in events(conn, [(next_start, next_end)])],
        errors=errors,
        errors_open=errors_open,
        tickets_new=tickets_new,
        tickets_open=tickets_open,
        webhooks=webhook_health(conn, start, end),
        attendance=attendance(conn, start, end),
    )


def attendance(conn: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> list[tuple]:
    """(starts_at, ends_at, checked_in_at, checked_out_at) of each confirmed booking in the
    scheduled events starting in [start, end)."""
    return conn.execute(
        "SELECT e.starts_at, e.ends_at, a.checked_in_at, a.checked_out_at FROM events e"
        " JOIN bookings b ON b.event_id = e.event_id AND b.status = 'confirmed'"
        " LEFT JOIN attendance a ON a.booking_id = b.booking_id"
        " WHERE e.starts_at >= ? AND e.starts_at < ? AND e.status = 'scheduled'",
        [start, end],
    ).fetchall()


def webhook_health(conn: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> dict:
    """Deliveries received and processed in the day, failures among the day's deliveries,
    the backlog now, and how long processing took (received → processed) that day."""
    received, failed = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'failed')"
        f" FROM {every_event('status, received_at')}"
        " WHERE received_at >= ? AND received_at < ?",
        [start, end],
    ).fetchone()
    lag = "extract(epoch FROM processed_at - received_at)"
    processed, lag_p50, lag_p95 = conn.execute(
        f"SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY {lag}),"
        f" percentile_cont(0.95) WITHIN GROUP (ORDER BY {lag})"
        f" FROM {every_event('received_at, processed_at')}"
        " WHERE processed_at >= ? AND processed_at < ?",
        [start, end],
    ).fetchone()
    backlog, oldest = conn.execute(
        "SELECT count(*), min(received_at) FROM webhook_inbox"
        " WHERE status IN ('received', 'processing')"
    ).fetchone()
    return {
        "received": received,
        "processed": processed,
        "failed": failed,
        "backlog": backlog,
        "oldest_backlog_at": oldest.isoformat() + "Z" if oldest else None,
        "lag_p50_seconds": round(lag_p50, 3) if lag_p50 is not None else None,
        "lag_p95_seconds": round(lag_p95, 3) if lag_p95 is not None else None,
    }


# --- read functions for the store process --------------------------------------------------


def compute(
    conn: duckdb.DuckDBPyConnection, day: date, tz_name: str, currency: str, now: datetime
) -> dict[str, Any]:
    """The figures of business `day` as they stand now (a read; nothing stored)."""
    tz = ZoneInfo(tz_name)
    start, end = summary.day_range(day, tz)
    next_start, next_end = summary.day_range(day + timedelta(days=1), tz)
    rows = day_rows(conn, start, end, next_start, next_end)
    figures = summary.day_figures(rows, day, tz, currency, now)
    figures["waitlist"] = waitlist.figures(conn, start, end)
    return figures


def trends(conn: duckdb.DuckDBPyConnection, days: list[date], tz_name: str) -> list[dict[str, Any]]:
    tz = ZoneInfo(tz_name)
    ranges = [summary.day_range(day, tz) for day in days]
    rows = TrendRows(money(conn, ranges), bookings(conn, ranges), events(conn, ranges))
    return summary.trend_figures(rows, days)


def stored(conn: duckdb.DuckDBPyConnection, day: date) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM daily_summaries WHERE summary_date = ?", [day]
    ).fetchone()
    return _summary(dict(zip(_COLUMNS, row, strict=True))) if row else None


def last_done(conn: duckdb.DuckDBPyConnection, until: date, posted: bool) -> date | None:
    """The latest business day up to `until` whose summary is stored (and posted to Slack,
    when `posted`): what the sidecar's own daily run counts as done."""
    (day,) = conn.execute(
        "SELECT max(summary_date) FROM daily_summaries"
        " WHERE summary_date <= ? AND (posted_at IS NOT NULL OR NOT ?)",
        [until, posted],
    ).fetchone()
    return day


def stored_between(
    conn: duckdb.DuckDBPyConnection,
    since: date | None,
    until: date | None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """A page of stored summaries, newest first, `since`..`until` inclusive, and how many
    there are in that range."""
    where = Where()
    if since is not None:
        where.add("summary_date >= ?", since)
    if until is not None:
        where.add("summary_date <= ?", until)
    records, total = paging.page(
        conn, "daily_summaries", _COLUMNS, where, "summary_date DESC", limit, offset
    )
    return [_summary(record) for record in records], total


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "date": record["summary_date"].isoformat(),
        "figures": json.loads(record["figures"]),
        "computed_at": record["computed_at"],
        "posted_at": record["posted_at"],
        "post_count": record["post_count"],
    }


# --- the write -----------------------------------------------------------------------------


def store(
    conn: duckdb.DuckDBPyConnection,
    day: date,
    figures: dict[str, Any],
    text: str,
    now: datetime,
    post: bool,
    force: bool,
) -> dict[str, Any]:
    """Keep the day's figures (replacing an earlier computation) and, when `post`, queue the
    Slack message in the same transaction: once per day, or once more when `force`."""
    conn.execute(
        "INSERT INTO daily_summaries (summary_date, figures, computed_at, post_count)"
        " VALUES (?, ?, ?, 0) ON CONFLICT (summary_date) DO UPDATE"
        " SET figures = excluded.figures, computed_at = excluded.computed_at",
        [day, json.dumps(figures), now],
    )
    posted = False
    if post:
        (post_count,) = conn.execute(
            "SELECT post_count FROM daily_summaries WHERE summary_date = ?", [day]
        ).fetchone()
        key = f"summary:{day}:forced:{post_count + 1}" if force else f"summary:{day}"
        posted = outbox.enqueue(
            conn, dedupe_key=key, channel="slack", payload={"text": text}, now=now
        )
        if posted:
            conn.execute(
                "UPDATE daily_summaries SET posted_at = ?, post_count = post_count + 1"
                " WHERE summary_date = ?",
                [now, day],
            )
    result = stored(conn, day)
    assert result is not None
    return {"summary": result, "posted": posted}

"""The trends (`GET /api/trends`): rows kept while what they were computed from is unchanged.

Reading 30 days of revenue, bookings and fill from the tables (`summaries.money`,
`summaries.bookings`, `summaries.events`) joins a month of orders, items, refunds, bookings
and events by their string ids: 200 to 500 ms with a million orders. The days before today
rarely change, so their rows are kept in the store process with a fingerprint of what they
were computed from, apart from today's (the day that changes with every order): only a
day whose fingerprint changed is read again, and one day's range reads far fewer rows.

The fingerprint is a handful of counts, sums and latest `updated_at`s over the same time
ranges, narrowed by the tables' time order and with no join on ids (a few milliseconds):

- orders paid in the days: how many, when, their amounts paid, their kinds, latest update
  (not what was refunded of them since: a refund counts on the day it is recorded);
- refunds recorded and Ignite renewals paid in the days: how many, how much;
- events starting in the days: how many, latest update;
- bookings made from the first of those events' creation up to today: how many, how many
  confirmed, latest update (a cancellation sets it); and bookings made since into those
  events.

Any change to these re-reads the kept days at the next request (as the plain scan would
read them). `summaries.trends` stays the reference: tests check both give the same rows
after payments, refunds, cancellations and bookings into past events.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from core import summary
from core.summary import TrendRows
from store import summaries

_KEPT_RUNS = 8  # runs of days kept: past days and today, of a 30- and a 90-day read …
_kept: dict[tuple, tuple[tuple, TrendRows]] = {}
_lock = threading.Lock()


def trends(conn: duckdb.DuckDBPyConnection, days: list[date], tz_name: str) -> list[dict[str, Any]]:
    """As `summaries.trends`: the days before the last one, and the last one, each from the
    rows kept at an earlier read when nothing they were computed from has changed since."""
    tz = ZoneInfo(tz_name)
    ranges = [summary.day_range(day, tz) for day in days]
    past, last = ranges[:-1], ranges[-1:]
    past_rows = _kept_rows(conn, past) if past else TrendRows()
    live = _kept_rows(conn, last)
    shift = len(past)
    rows = TrendRows(
        past_rows.money + [(n + shift, *rest) for n, *rest in live.money],
        past_rows.bookings + [(n + shift, *rest) for n, *rest in live.bookings],
        past_rows.events + [(n + shift, event) for n, event in live.events],
    )
    return summary.trend_figures(rows, days)


def _rows(conn: duckdb.DuckDBPyConnection, ranges: list[tuple[datetime, datetime]]) -> TrendRows:
    return TrendRows(
        summaries.money(conn, ranges),
        summaries.bookings(conn, ranges),
        summaries.events(conn, ranges),
    )


def _kept_rows(
    conn: duckdb.DuckDBPyConnection, ranges: list[tuple[datetime, datetime]]
) -> TrendRows:
    """The rows of the days, kept from the last read while their fingerprint is the same."""
    key = tuple(ranges)
    mark = fingerprint(conn, ranges[0][0], ranges[-1][1])
    with _lock:
        kept = _kept.get(key)
    if kept is not None and kept[0] == mark:
        return kept[1]
    rows = _rows(conn, ranges)
    with _lock:
        if len(_kept) >= _KEPT_RUNS:
            _kept.clear()
        _kept[key] = (mark, rows)
    return rows


def fingerprint(conn: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> tuple:
    """What the trend rows of [start, end) are computed from, in brief (see the module's
    docstring); equal fingerprints mean equal rows."""
    orders = conn.execute(
        "SELECT count(*), sum(amount_paid), max(updated_at),"
        " sum(length(coalesce(kinds, ''))),"
        " sum(CAST(extract(epoch FROM paid_at) * 1000 AS BIGINT)) FROM orders"  # both dialects
        " WHERE paid_at >= ? AND paid_at < ?",
        [start, end],
    ).fetchone()
    refunds = conn.execute(
        "SELECT count(*), sum(amount) FROM refunds WHERE refunded_at >= ? AND refunded_at < ?",
        [start, end],
    ).fetchone()
    renewals = conn.execute(
        "SELECT count(*), sum(amount_paid) FROM enrolment_periods"
        " WHERE paid_at >= ? AND paid_at < ?",
        [start, end],
    ).fetchone()
    events = conn.execute(
        "SELECT count(*), max(updated_at), min(created_at), sum(capacity) FROM events"
        " WHERE starts_at >= ? AND starts_at < ?",
        [start, end],
    ).fetchone()
    # Bookings made in the days, and the bookings of the days' events (made from the first
    # event's creation on): those made up to `end`, and those made since into the events.
    since = min(start, events[2]) if events[2] is not None else start
    bookings = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'confirmed'), max(updated_at)"
        " FROM bookings WHERE created_at >= ? AND created_at < ?",
        [since, end],
    ).fetchone()
    later = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'confirmed'), max(updated_at)"
        " FROM bookings WHERE created_at >= ? AND event_id IN"
        " (SELECT event_id FROM events WHERE starts_at >= ? AND starts_at < ?)",
        [end, start, end],
    ).fetchone()
    return (orders, refunds, renewals, events, bookings, later)

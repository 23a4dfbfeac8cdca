"""The children and families of bookings (the Check-in page's day, an event's roster), read
without going through every student and every order.

A booking names its student and its order by id. The ids are random, so looking a few
thousand of them up reads the ids of every student and every order: with a million orders
(`python -m bench million`) that was 100 of the Check-in day's 110 ms. Two facts never
change once written:

- a student's row (students are only ever inserted);
- when an order was made (`orders.created_at`).

Both are kept in the store process per DuckDB file (`database_file`: its path and inode), so
students already seen are not read again, and orders are read only within the time range in
which those orders were made: the orders table grows in time order, so its zonemaps skip
every row group outside it. The families' names, emails and mobiles are read each time,
since they may be filled in later (a repaired order, a mobile from Stripe). On PostgreSQL or
an in-memory database nothing is kept: the primary keys' indexes find the rows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import duckdb

from store.staff_reads import database_file, query_dicts

STUDENT_COLUMNS = ("student_id", "name", "age", "notes", "emergency_contacts",
                   "authorised_collectors")  # fmt: skip
FAMILY_COLUMNS = ("customer_name", "customer_email", "customer_phone")

# A few days of check-in sheets and rosters (2,700 children a day in the bench's business);
# when a file's kept facts reach this, they are dropped and gathered again.
KEPT_PER_FILE = 20_000


class _Kept:
    def __init__(self) -> None:
        self.students: dict[str, dict[str, Any]] = {}
        self.orders_made: dict[str, datetime] = {}


_kept: dict[tuple, _Kept] = {}
_lock = threading.Lock()


def _kept_for(conn: duckdb.DuckDBPyConnection) -> _Kept | None:
    file = database_file(conn)
    if file is None:
        return None
    with _lock:
        return _kept.setdefault(file, _Kept())


def students_of(conn: duckdb.DuckDBPyConnection, student_ids: Iterable[str]) -> dict[str, dict]:
    """student id -> its row (`STUDENT_COLUMNS`), for those that exist."""
    wanted = set(student_ids)
    kept = _kept_for(conn)
    found: dict[str, dict] = {}
    if kept is not None:
        with _lock:
            found = {s: kept.students[s] for s in wanted if s in kept.students}
    missing = sorted(wanted - found.keys())
    if missing:
        read = {
            row["student_id"]: row
            for row in query_dicts(
                conn,
                f"SELECT {', '.join(STUDENT_COLUMNS)} FROM students"
                " WHERE student_id IN (SELECT unnest(?))",
                [missing],
            )
        }
        found.update(read)
        if kept is not None:
            with _lock:
                if len(kept.students) + len(read) > KEPT_PER_FILE:
                    kept.students.clear()
                kept.students.update(read)
    # A copy each: callers shape the rows they are given.
    return {s: dict(row) for s, row in found.items()}


def orders_of(conn: duckdb.DuckDBPyConnection, order_ids: Iterable[str]) -> dict[str, dict]:
    """order id -> the family of that order (`order_id`, `created_at`, `customer_name`,
    `customer_email`, `customer_phone`), for those that exist."""
    wanted = sorted(set(order_ids))
    if not wanted:
        return {}
    columns = ", ".join(("order_id", "created_at", *FAMILY_COLUMNS))
    kept = _kept_for(conn)
    made: list[datetime] = []
    if kept is not None:
        with _lock:
            made = [kept.orders_made[o] for o in wanted if o in kept.orders_made]
    if kept is not None and len(made) == len(wanted):
        rows = query_dicts(
            conn,
            f"SELECT {columns} FROM orders WHERE order_id IN (SELECT unnest(?))"
            " AND created_at >= ? AND created_at <= ?",
            [wanted, min(made), max(made)],
        )
    else:
        rows = query_dicts(
            conn, f"SELECT {columns} FROM orders WHERE order_id IN (SELECT unnest(?))", [wanted]
        )
        if kept is not None:
            with _lock:
                if len(kept.orders_made) + len(rows) > KEPT_PER_FILE:
                    kept.orders_made.clear()
                kept.orders_made.update((r["order_id"], r["created_at"]) for r in rows)
    return {row["order_id"]: row for row in rows}

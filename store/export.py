"""Parquet snapshots for analysts (`POST /api/export`, `tinkertank export`).

One read transaction copies every analyst table with DuckDB's `COPY (SELECT …) TO … (FORMAT
parquet)`, so the files agree with each other (an order and its items are in both or in
neither). They are written into a hidden directory and renamed into place when complete,
then `latest` is pointed at it (a symlink swapped atomically), so a reader sees a whole
snapshot or none.

What is left out: students' notes, emergency contacts and authorised collectors, and who
collected a child (personal data analysts do not need), and the raw webhook payloads.

On PostgreSQL (`conn` is store/postgres.py's, in the read's REPEATABLE READ transaction, so
again one snapshot for every table), each table's rows come through psycopg as CSV
(`COPY (SELECT …) TO STDOUT`: twice as fast as fetching Python rows into Arrow) into an in-memory
DuckDB table made by the same SELECT over the schema's DuckDB tables (so every column has
the type DuckDB's export gives it), and are written by the same COPY: the same files,
columns and types from either backend. No DuckDB extension is needed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from store import schema
from store.database import long_running

# name -> what is exported of it
TABLES: dict[str, str] = {
    "orders": "SELECT * FROM orders",
    "order_items": "SELECT * FROM order_items",
    "students": "SELECT student_id, order_id, name, age, date_of_birth FROM students",
    "bookings": "SELECT * FROM bookings",
    "events": "SELECT * FROM events",
    "enrolments": "SELECT * FROM enrolments",
    "enrolment_periods": "SELECT * FROM enrolment_periods",
    "refunds": "SELECT * FROM refunds",
    "fulfilment_steps": "SELECT * FROM fulfilment_steps",
    "error_log": "SELECT * FROM error_log",
    "support_tickets": "SELECT * FROM support_tickets",
    "daily_summaries": "SELECT * FROM daily_summaries",
    # Who collected a child, and why staff let them, are personal data: left out, but
    # whether an override was needed is kept.
    "attendance": "SELECT booking_id, event_id, student_id, checked_in_at, checked_in_by,"
    " checked_out_at, checked_out_by, collection_override IS NOT NULL AS collection_overridden"
    " FROM attendance",
}
# PostgreSQL: the in-memory DuckDB's limit while one table is in it.
EXPORT_MEMORY_LIMIT = "512MB"
LATEST = "latest"
_PARTIAL = ".partial-"
_NEW_LINK = ".latest-"

_one_at_a_time = threading.Lock()


class ExportBusy(RuntimeError):
    """Another export is being written."""


@long_running
def export_snapshot(conn: duckdb.DuckDBPyConnection, root: str, stamp: str) -> dict[str, Any]:
    """Write the snapshot under `root`/`stamp`/ (a read function for the store) and point
    `root`/latest at it; the row count of each table and where it is."""
    if not _one_at_a_time.acquire(blocking=False):
        raise ExportBusy("an export is being written already; try again when it is done")
    try:
        return _export(conn, Path(root), stamp)
    finally:
        _one_at_a_time.release()


def _export(conn: duckdb.DuckDBPyConnection, root: Path, stamp: str) -> dict[str, Any]:
    started = time.monotonic()
    root.mkdir(parents=True, exist_ok=True)
    for leftover in root.glob(_PARTIAL + "*"):  # from an export cut short by a crash
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in root.glob(_NEW_LINK + "*"):
        leftover.unlink(missing_ok=True)
    partial = root / f"{_PARTIAL}{stamp}-{secrets.token_hex(4)}"
    partial.mkdir()
    try:
        if getattr(conn, "dialect", None) == "postgresql":
            counts = _write_from_postgres(conn, partial)
        else:
            counts = _write(conn, partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    final = _free_name(root, stamp)
    os.rename(partial, final)
    link = root / f"{_NEW_LINK}{secrets.token_hex(4)}"
    os.symlink(final.name, link)
    os.replace(link, root / LATEST)
    return {
        "path": str(final.resolve()),
        "tables": counts,
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
    }


def _write(conn: duckdb.DuckDBPyConnection, partial: Path) -> dict[str, int]:
    (catalog,) = conn.execute("SELECT current_database()").fetchone()
    cursor = conn.cursor()
    counts: dict[str, int] = {}
    try:
        cursor.execute(f'USE "{catalog}"')
        cursor.execute("BEGIN TRANSACTION")  # one snapshot for every table
        for name, select in TABLES.items():
            counts[name] = _copy_to_parquet(cursor, select, partial / name)
        cursor.execute("COMMIT")
    finally:
        cursor.close()
    return counts


def _copy_to_parquet(cursor: duckdb.DuckDBPyConnection, select: str, target: Path) -> int:
    # A folder of Parquet files a table, one written by each DuckDB thread: 35 % faster
    # than one file, whose writer keeps the rows in order on one thread. Row groups of
    # 32,768 rows (not 122,880) keep each writer's buffer small enough for the store's
    # memory limit beside a big database's indexes.
    quoted = str(target).replace("'", "''")
    (count,) = cursor.execute(
        f"COPY ({select}) TO '{quoted}' (FORMAT parquet, COMPRESSION lz4_raw,"
        " PER_THREAD_OUTPUT, ROW_GROUP_SIZE 32768)"
    ).fetchone()
    return count


def _write_from_postgres(conn: Any, partial: Path) -> dict[str, int]:
    """Each table read from PostgreSQL (in the caller's one read transaction) as CSV through
    COPY … TO STDOUT, loaded into an in-memory DuckDB table of the export's own types, and
    written as DuckDB writes it."""
    duck = duckdb.connect(":memory:", config={"memory_limit": EXPORT_MEMORY_LIMIT})
    counts: dict[str, int] = {}
    try:
        schema.migrate(duck, now=datetime(2000, 1, 1))  # the tables' DuckDB types
        for name, select in TABLES.items():
            table = f'"export_{name}"'
            duck.execute(f"CREATE TABLE {table} AS {select} LIMIT 0")
            width = len(duck.execute(f"DESCRIBE {table}").fetchall())
            rows = partial / f".{name}.csv"
            sent = f"COPY ({select}) TO STDOUT (FORMAT csv)"
            with rows.open("wb") as out, conn.raw.cursor().copy(sent) as copy:
                for data in copy:
                    out.write(data)
            # Every field as text, cast by the INSERT to the column's type; PostgreSQL's CSV
            # writes NULL unquoted and an empty string as "", which DuckDB keeps apart.
            columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width))
            duck.execute(
                f"INSERT INTO {table} SELECT * FROM read_csv(?, header = false,"
                " auto_detect = false, all_varchar = true, allow_quoted_nulls = false,"
                f" quote = '\"', escape = '\"', delim = ',', columns = {{{columns}}})",
                [str(rows)],
            )
            rows.unlink()
            counts[name] = _copy_to_parquet(duck, f"SELECT * FROM {table}", partial / name)
            duck.execute(f"DROP TABLE {table}")
    finally:
        duck.close()
    return counts


def _free_name(root: Path, stamp: str) -> Path:
    candidate, n = root / stamp, 1
    while candidate.exists():
        n += 1
        candidate = root / f"{stamp}-{n}"
    return candidate

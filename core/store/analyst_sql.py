"""Read-only SQL for analysts (`POST /api/sql`): one SELECT, checked, bounded, stoppable.

This is DuckDB's own SQL, not the portable subset: analysts write queries against the
embedded database as it is. A query is accepted only when

1. DuckDB's parser finds exactly one statement, of type SELECT (plain SELECT, WITH, FROM-
   first, VALUES, DESCRIBE/SHOW/SUMMARIZE, which only read). INSERT, UPDATE, DELETE, CREATE,
   DROP, ATTACH, COPY, INSTALL, LOAD, PRAGMA, SET, CALL, EXPORT … are other statement types;
2. its parse tree (`json_serialize_sql`) calls no function that reaches outside the
   database: files (read_csv, read_parquet, glob …), the network (httpfs, which reads
   through the same functions), the environment (getenv) or serialized SQL; and every
   table it names is a plain name, since DuckDB reads `FROM 'file.csv'` as a file.

The database cannot simply be opened read-only or without external access for these
queries: the same DuckDB instance holds the file open read-write for the writer, and
writes the analysts' Parquet exports. So the checks above are the guard, and they err on
the side of refusing.

A query runs on a cursor of its own (a connection to the same database: it sees committed
data and never blocks the writer). It is interrupted from a timer thread after the time
limit, and rows are fetched one more than the limit, so a truncated result says so. Only a
few run at once, so a burst of heavy queries cannot take every read thread of the store.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import threading
import time
import uuid
from decimal import Decimal
from typing import Any

import duckdb

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
TIME_LIMIT_SECONDS = 5.0
MAX_RUNNING = 2
MAX_SQL_LENGTH = 100_000

_running = threading.BoundedSemaphore(MAX_RUNNING)

# Functions that read or write outside the database, or run SQL given as data. Matched on
# the lower-cased name: exact names, and prefixes for families (read_csv_auto,
# parquet_metadata, iceberg_scan, sqlite_attach …).
DENIED_FUNCTIONS = frozenset(
    (
        "getenv", "glob", "sniff_csv", "query", "query_table", "json_execute_serialized_sql",
        "json_deserialize_sql", "checkpoint", "force_checkpoint", "duckdb_secrets",
        "which_secret", "load_aws_credentials", "parquet_scan", "arrow_scan", "pandas_scan",
        "python_map",
    )
)  # fmt: skip
DENIED_PREFIXES = (
    "read_", "parquet_", "iceberg_", "delta_", "sqlite_", "postgres_", "mysql_", "http",
    "s3", "gcs", "azure", "ducklake", "write_", "export_", "import_", "copy_", "install",
    "load", "attach", "detach", "fts_", "excel", "spatial_", "st_read", "odbc", "motherduck",
    "md_",
)  # fmt: skip
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


class Refused(ValueError):
    """The SQL is not one read-only SELECT over the database; the message says why."""


class QueryFailed(ValueError):
    """DuckDB could not run the (accepted) query: a wrong column, a type error …"""


class TimedOut(RuntimeError):
    """The query ran past the time limit and was stopped."""


class Busy(RuntimeError):
    """Too many analyst queries are running already."""


def check(conn: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The one SELECT statement in `sql`, or `Refused` saying what is wrong with it."""
    if not sql.strip():
        raise Refused("the query is empty")
    if len(sql) > MAX_SQL_LENGTH:
        raise Refused(f"the query is longer than {MAX_SQL_LENGTH} characters")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise Refused(f"the query does not parse: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise Refused(f"send exactly one statement, not {len(statements)}")
    (statement,) = statements
    if statement.type != duckdb.StatementType.SELECT:
        kind = statement.type.name.replace("_", " ")
        raise Refused(f"only SELECT (or WITH … SELECT) is allowed, not {kind}")
    (tree,) = conn.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    parsed = json.loads(tree)
    if parsed.get("error"):
        raise Refused(f"the query cannot be checked: {parsed.get('error_message', 'unknown')}")
    for node in _nodes(parsed):
        name = node.get("function_name")
        if isinstance(name, str) and _denied(name):
            raise Refused(f"{name}() reaches outside the database and is not allowed here")
        if node.get("type") == "BASE_TABLE":
            for part in ("catalog_name", "schema_name", "table_name"):
                value = node.get(part) or ""
                if value and not _PLAIN_NAME.fullmatch(value):
                    raise Refused(f"{value!r} is not a table name (files cannot be read here)")
    return statement.query


def _denied(name: str) -> bool:
    name = name.lower()
    return name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES)


def _nodes(value: Any):
    """Every JSON object in the parse tree."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def run(
    conn: duckdb.DuckDBPyConnection,
    sql: str,
    limit: int = DEFAULT_LIMIT,
    time_limit: float = TIME_LIMIT_SECONDS,
) -> dict[str, Any]:
    """Check and run `sql` (a read function for the store): columns, up to `limit` rows,
    whether there were more, and how long it took."""
    query = check(conn, sql)
    if not _running.acquire(blocking=False):
        raise Busy(f"{MAX_RUNNING} analyst queries are running already; try again shortly")
    try:
        return _run(conn, query, limit, time_limit)
    finally:
        _running.release()


def _run(conn: duckdb.DuckDBPyConnection, query: str, limit: int, time_limit: float) -> dict:
    (catalog,) = conn.execute("SELECT current_database()").fetchone()
    cursor = conn.cursor()  # its own connection: interrupting it stops only this query
    try:
        cursor.execute(f'USE "{catalog}"')
        started = time.monotonic()
        timer = threading.Timer(time_limit, cursor.interrupt)
        timer.start()
        try:
            cursor.execute(query)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchmany(limit + 1)
        except duckdb.InterruptException:
            raise TimedOut(
                f"the query ran longer than {time_limit:g} s and was stopped;"
                " narrow it down (a WHERE clause, fewer joins, a LIMIT)"
            ) from None
        except duckdb.Error as exc:
            raise QueryFailed(_first_line(exc)) from None
        finally:
            timer.cancel()
        elapsed = time.monotonic() - started
    finally:
        cursor.close()
    return {
        "columns": columns,
        "rows": [[_jsonable(value) for value in row] for row in rows[:limit]],
        "truncated": len(rows) > limit,
        "elapsed_ms": round(elapsed * 1000, 1),
    }


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _jsonable(value: Any) -> Any:
    """A DuckDB value as JSON: stored timestamps are naive UTC and say so with Z."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)

"""Read-only SQL for analysts (`POST /api/sql`): one SELECT, bounded, as JSON rows.

This runs inside the analysts' sandbox process (analyst_sandbox.py), over its read-only,
locked-down DuckDB instance on a copy of the database: the sandbox, not this module, is
what keeps a query from reading files or the environment, changing settings or eating the
store's memory. This module only gives the contract its clear answers:

1. DuckDB's parser must find exactly one statement, of type SELECT (plain SELECT, WITH,
   FROM-first, VALUES, DESCRIBE/SHOW/SUMMARIZE, which only read). INSERT, UPDATE, DELETE,
   CREATE, DROP, ATTACH, COPY, INSTALL, LOAD, PRAGMA, SET, CALL, EXPORT … are refused by
   name;
2. rows are fetched one more than the limit, so a truncated result says so;
3. values become JSON: stored timestamps are naive UTC and say so with a Z.

This is DuckDB's own SQL, not the portable subset: analysts write queries against the
embedded database as it is.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import time
import uuid
from decimal import Decimal
from typing import Any

import duckdb

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
MAX_SQL_LENGTH = 100_000


class Refused(ValueError):
    """The SQL is not one SELECT statement; the message says why."""


def check(conn: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The one SELECT statement in `sql`, or `Refused` saying what is wrong with it."""
    if not sql.strip():
        raise Refused("the query is empty")
    if len(sql) > MAX_SQL_LENGTH:
        raise Refused(f"the query is longer than {MAX_SQL_LENGTH} characters")
    try:
        statements = conn.extract_statements(sql)
    except duckdb.Error as exc:
        raise Refused(f"the query does not parse: {first_line(exc)}") from None
    if len(statements) != 1:
        raise Refused(f"send exactly one statement, not {len(statements)}")
    (statement,) = statements
    if statement.type != duckdb.StatementType.SELECT:
        # What the analyst wrote (INSTALL is a LOAD statement to DuckDB, say).
        words = statement.query.split()
        kind = words[0].upper() if words and words[0].isalpha() else statement.type.name
        raise Refused(f"only SELECT (or WITH … SELECT) is allowed, not {kind}")
    return statement.query


def run(conn: duckdb.DuckDBPyConnection, sql: str, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """Check and run `sql`: columns, up to `limit` rows, whether there were more, and how
    long the query took (the sandbox's start is not counted)."""
    query = check(conn, sql)
    started = time.monotonic()
    cursor = conn.execute(query)
    columns = [d[0] for d in cursor.description or []]
    rows = cursor.fetchmany(limit + 1)
    elapsed = time.monotonic() - started
    return {
        "columns": columns,
        "rows": [[jsonable(value) for value in row] for row in rows[:limit]],
        "truncated": len(rows) > limit,
        "elapsed_ms": round(elapsed * 1000, 1),
    }


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def jsonable(value: Any) -> Any:
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
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)

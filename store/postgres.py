"""PostgreSQL behind the connection surface the store modules use on DuckDB.

The store modules call `conn.execute(sql, params)` with DuckDB's `?` placeholders and read
the answer with `fetchall`, `fetchone` and `description`; the writer opens transactions with
`BEGIN TRANSACTION … COMMIT`. `PostgresConnection` gives them the same surface over a
psycopg 3 connection in autocommit mode (so `BEGIN`/`COMMIT` are plain statements, as in
DuckDB), so that the SQL in `store/` runs unchanged on both backends:

- `?` becomes `$1, $2 …` (psycopg's raw cursor: PostgreSQL's own placeholders, so a `%` in
  the SQL needs no escaping), outside quoted literals, identifiers and comments;
- a Python list is a PostgreSQL array, as DuckDB's `unnest(?)` expects. psycopg sends a
  list of strings untyped, which `unnest` cannot resolve, so such a list (or an empty one)
  is sent as `text[]`. A list of nothing but NULLs has no type at all: in an
  `INSERT … SELECT unnest(?), unnest(?) …` (one row per list element, in step) its
  `unnest(?)` becomes a plain `NULL`, which takes the column's type;
- a parameter PostgreSQL cannot type from its place, `? IS NULL`, is cast to text (a null
  test is the same whatever the type);
- `numeric` answers (PostgreSQL's `sum` of a `BIGINT`, `avg`, `extract(epoch …)`) come back
  as `int` when whole and `float` otherwise, as DuckDB's do, never as `Decimal` (which JSON
  cannot carry).

Everything else the store writes (`RETURNING`, `ON CONFLICT … DO UPDATE SET … excluded`,
`UPDATE … FROM`, `string_agg`, `percentile_cont … WITHIN GROUP`, `?::TIMESTAMP`,
`extract(epoch FROM …)`, `concat_ws`, `split_part`) is in the subset both databases share.
What differs in the migrations is in `store/schema.py` (`POSTGRES_DIALECT`).
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import socket
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg.adapt import Loader
from psycopg.rows import tuple_row
from psycopg.types.array import ListBinaryDumper
from psycopg_pool import ConnectionPool

# The session every connection starts with: naive UTC timestamps (store/schema.py), and
# an application name that shows in pg_stat_activity: this process's, on every connection
# it makes (`tinkertank <host>:<pid>:<random>`, within PostgreSQL's 63 characters). A claim
# of work is signed with it (`claimed_by`, store/locks.py): once no connection carries it,
# the process is gone, and what it claimed is due again.
CONNECT_OPTIONS = {"autocommit": True, "options": "-c timezone=UTC -c datestyle=ISO"}
APPLICATION_NAME = f"tinkertank {socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(3)}"
Error = psycopg.Error
# A unique key refusing a second copy of a row (sidecar/app.py answers it 409).
UniqueViolation = psycopg.errors.UniqueViolation
# The server or the connection to it failed (not a bad statement): the writer reports it as
# a storage failure, as it does DuckDB's I/O errors.
Unavailable = psycopg.OperationalError
# Another transaction (another sidecar's) got there first: the second insert of a unique
# key, a deadlock the server broke, a serialization failure. Run again, the job sees the
# other's committed rows.
_RACES = (
    psycopg.errors.UniqueViolation,
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
)


def lost_a_race(exc: BaseException) -> bool:
    return isinstance(exc, _RACES)


class _WholeOrFloatLoader(Loader):
    """numeric → int when it has no fraction, else float (DuckDB's HUGEINT and DOUBLE)."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        if "." in text or "e" in text or "N" in text:  # NaN, Infinity
            return float(text)
        return int(text)


class TextList(list):
    """A list of strings (or NULLs) for a `text[]` parameter, sent in PostgreSQL's binary
    format: psycopg's text format escapes every element with a regular expression in
    Python, which for the webhook payloads of one group commit (64 JSON bodies of ~2 kB)
    took 170 ms of the writer's time against 1 ms in binary (measured on this machine)."""


class _TextListDumper(ListBinaryDumper):
    element_oid = psycopg.postgres.types["text"].oid
    oid = psycopg.postgres.types["text"].array_oid


def configure(conn: psycopg.Connection) -> None:
    """The answers' types as DuckDB's (numeric → int or float); lists of strings in binary."""
    conn.adapters.register_loader("numeric", _WholeOrFloatLoader)
    conn.adapters.register_dumper(TextList, _TextListDumper)


def connect(url: str) -> PostgresConnection:
    """One connection in autocommit mode (the writer's), made again when it is lost."""
    return PostgresConnection(_connect(url), url)


def _connect(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url, application_name=APPLICATION_NAME, **CONNECT_OPTIONS)
    configure(conn)
    return conn


def pool(url: str, max_size: int) -> ConnectionPool:
    """The readers' connections, opened on demand and checked before each use."""
    return ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs={"application_name": APPLICATION_NAME, **CONNECT_OPTIONS},
        configure=configure,
        check=ConnectionPool.check_connection,
        open=True,
        name="tinkertank-readers",
    )


class PostgresConnection:
    """DuckDB's `execute` surface over one psycopg connection."""

    dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection, url: str | None = None) -> None:
        self.raw = conn
        self._url = url  # to connect again after the server restarts (the writer's)
        self._in_transaction = False
        self._last: psycopg.RawCursor | None = None

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.RawCursor:
        query, values = translate(sql, params or ())
        word = query.lstrip()[:8].upper()
        begins = word.startswith("BEGIN")
        if word.startswith(("COMMIT", "ROLLBACK")):
            self._in_transaction = False
        if self._url and self.raw.closed and not self._in_transaction:
            self.raw = _connect(self._url)  # lost earlier (a restart): a new one
        try:
            cursor = self._run(query, values)
        except psycopg.OperationalError:
            if not (begins and self._url and self.raw.closed):
                raise
            # Lost while idle, found at the start of a transaction: nothing was done on it,
            # so begin again on a new connection.
            self.raw = _connect(self._url)
            cursor = self._run(query, values)
        if begins:
            self._in_transaction = True
        if cursor.statusmessage == "ROLLBACK" and query.strip().upper() == "COMMIT":
            # PostgreSQL answers COMMIT of a transaction an error has aborted with a rollback,
            # not an error; DuckDB raises, and the writer must not tell callers it committed.
            raise psycopg.errors.InFailedSqlTransaction("the transaction was rolled back")
        self._last = cursor
        return cursor

    def _run(self, query: str, values: list[Any]) -> psycopg.RawCursor:
        cursor = psycopg.RawCursor(self.raw, row_factory=tuple_row)
        cursor.execute(query, values)
        return cursor

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> None:
        for params in seq:
            self.execute(sql, params)

    # DuckDB's connection answers for its last statement too.
    def fetchall(self) -> list[tuple]:
        return self._cursor().fetchall()

    def fetchone(self) -> tuple | None:
        return self._cursor().fetchone()

    @property
    def description(self) -> Any:
        return self._cursor().description

    def _cursor(self) -> psycopg.RawCursor:
        if self._last is None:
            raise psycopg.ProgrammingError("no statement has been executed")
        return self._last

    def cursor(self) -> PostgresConnection:
        return self

    def close(self) -> None:
        self.raw.close()


# --- placeholders and lists ---------------------------------------------------------------

# A quoted literal or identifier, a comment, or a placeholder; whatever else is copied.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\?", re.DOTALL)
_UNNEST = re.compile(r"unnest\(\s*\Z", re.IGNORECASE)
_NULL_TEST = re.compile(r"\s+IS\s+(NOT\s+)?NULL\b", re.IGNORECASE)


def translate(sql: str, params: Sequence[Any]) -> tuple[str, list[Any]]:
    """DuckDB's SQL and parameters → PostgreSQL's (`$n` placeholders, typed lists)."""
    shape = tuple(_kind(value) for value in params)
    query, keep = _translate(sql, shape)
    return query, [
        TextList(value)
        if kind in ("text", "nulls")
        else list(value)
        if isinstance(value, tuple)
        else value
        for value, kind, kept in zip(params, shape, keep, strict=True)
        if kept
    ]


def _kind(value: Any) -> str:
    if not isinstance(value, (list, tuple)):
        return ""
    present = [v for v in value if v is not None]
    if not present:
        return "nulls" if value else "text"
    return "text" if all(isinstance(v, str) for v in present) else "list"


@functools.lru_cache(maxsize=2048)
def _translate(sql: str, shape: tuple[str, ...]) -> tuple[str, tuple[bool, ...]]:
    pieces: list[str] = []
    keep: list[bool] = []
    position = 0
    inserting = sql.lstrip().upper().startswith("INSERT") and shape.count("") < len(shape) - 1
    end = 0
    for match in _TOKENS.finditer(sql):
        pieces.append(sql[end : match.start()])
        end = match.end()
        token = match.group()
        if token != "?":
            pieces.append(token)
            continue
        if position >= len(shape):
            raise psycopg.ProgrammingError(
                f"the query has more placeholders than the {len(shape)} parameters given"
            )
        kind = shape[position]
        position += 1
        before = "".join(pieces)
        in_unnest = _UNNEST.search(before) is not None
        if kind == "nulls" and inserting and in_unnest:
            # unnest(NULL-only list) → NULL: the other lists give the rows, the column the type.
            unnest = _UNNEST.search(before)
            assert unnest is not None
            pieces = [before[: unnest.start()], "NULL"]
            keep.append(False)
            end = _skip_closing_paren(sql, end)
            continue
        keep.append(True)
        number = sum(keep)
        if kind in ("text", "nulls"):
            pieces.append(f"${number}::text[]")
        elif _NULL_TEST.match(sql, end):
            pieces.append(f"CAST(${number} AS TEXT)")  # `? IS NULL`: any type will do
        else:
            pieces.append(f"${number}")
    if position != len(shape):
        raise psycopg.ProgrammingError(
            f"the query has {position} placeholders but {len(shape)} parameters were given"
        )
    pieces.append(sql[end:])
    return "".join(pieces), tuple(keep)


def _skip_closing_paren(sql: str, at: int) -> int:
    closing = re.compile(r"\s*\)").match(sql, at)
    if closing is None:
        raise psycopg.ProgrammingError("unnest(? …) with more than one argument")
    return closing.end()

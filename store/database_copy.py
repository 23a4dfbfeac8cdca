"""`tinkertank db copy`: a business's history from its DuckDB file into an empty PostgreSQL
database (docs/postgresql.md, Moving up).

1. The DuckDB file is opened read-only. A running sidecar holds its lock, so the copy is
   made with the sidecar stopped, or from a copy of the file taken while it was stopped (a
   backup); DuckDB refuses otherwise, and the message says so.
2. Its schema version must be this code's (the last of `schema.MIGRATIONS`): an older file
   is brought up to date by starting this version's sidecar on it once; a newer one needs
   this code updated.
3. The target is migrated to the same version (under the sidecars' migration lock, held to
   the end), then must hold no rows at all (`schema_migrations` and the readiness probe's
   `sidecar_heartbeat` aside); else nothing is done.
4. The tables are the source's own (every table of its schema, so a table a later migration
   adds is copied without a change here), and must be the target's. Each is streamed with
   PostgreSQL's COPY, columns by name, all in ONE transaction.
5. Before that transaction commits, each table's row count and the sums of its number
   columns (money is BIGINT cents) are read on both sides (core/copy_check.py); any
   difference rolls the whole copy back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import duckdb

from core.copy_check import Totals, mismatches
from store import postgres, schema
from store.database import MIGRATION_LOCK  # held for the copy: no sidecar migrates meanwhile

BATCH_ROWS = 10_000
# Not the business's history: the table of applied migrations (each side has its own) and
# the readiness probe's one row.
NOT_COPIED = ("schema_migrations", "sidecar_heartbeat")
NUMBER_TYPES = ("smallint", "integer", "bigint", "numeric", "real", "double precision")


class CopyRefused(RuntimeError):
    """Nothing was copied; the message says why (a non-empty target, another version …)."""


class CopyMismatch(RuntimeError):
    """The totals differ after the copy; it was rolled back. `differences` lists them."""

    def __init__(self, differences: list[str]) -> None:
        super().__init__(
            "the copy does not match its source, so it was rolled back:\n  "
            + "\n  ".join(differences)
        )
        self.differences = differences


@dataclass(frozen=True)
class Copied:
    rows: dict[str, int]  # table -> rows copied
    version: int
    elapsed_seconds: float


def current_version() -> int:
    return schema.MIGRATIONS[-1][0]


def copy_database(
    source_path: str, target_url: str, now: datetime, say: Callable[[str], None] = print
) -> Copied:
    started = time.monotonic()
    source = _open_source(source_path)
    try:
        version = _source_version(source)
        target = _open_target(target_url, now)
        try:
            rows = _copy(source, target, say)
        finally:
            target.close()
    finally:
        source.close()
    return Copied(rows, version, time.monotonic() - started)


def _open_source(path: str) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(path, read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise CopyRefused(
                f"{path} is open in a running sidecar (DuckDB lets one process hold it): stop"
                " the sidecar first, or copy from a copy of the file taken while it was stopped"
            ) from None
        raise CopyRefused(f"cannot open {path}: {exc}") from None
    except duckdb.Error as exc:
        raise CopyRefused(f"cannot open {path}: {exc}") from None


def _source_version(source: duckdb.DuckDBPyConnection) -> int:
    try:
        (version,) = source.execute("SELECT max(version) FROM schema_migrations").fetchone()
    except duckdb.CatalogException:
        raise CopyRefused(
            "the source has no schema_migrations table: not a TinkerTank database"
        ) from None
    if version != current_version():
        raise CopyRefused(
            f"the source is at schema version {version}, this code's is {current_version()}: "
            + (
                "start this version's sidecar on it once (it migrates at start), then copy"
                if (version or 0) < current_version()
                else "copy it with the version of tinkertank that wrote it"
            )
        )
    return version


def _open_target(url: str, now: datetime) -> postgres.PostgresConnection:
    try:
        target = postgres.connect(url)
    except postgres.Error as exc:
        raise CopyRefused(f"cannot connect to the target: {exc}") from None
    try:
        target.execute("SELECT pg_advisory_lock(?)", [MIGRATION_LOCK])
        schema.migrate(target, now=now)
    except BaseException:
        target.close()
        raise
    return target


def _tables(source: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every table of the source's schema and its columns, in order."""
    rows = source.execute(
        "SELECT table_name, column_name FROM duckdb_columns()"
        " WHERE database_name = current_database() AND schema_name = 'main'"
        " ORDER BY table_name, column_index"
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        if table not in NOT_COPIED:
            tables.setdefault(table, []).append(column)
    return tables


def _target_tables(target: postgres.PostgresConnection) -> dict[str, dict[str, str]]:
    rows = target.execute(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c"
        " JOIN information_schema.tables t"
        " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
        " WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
        " ORDER BY c.table_name, c.ordinal_position"
    ).fetchall()
    tables: dict[str, dict[str, str]] = {}
    for table, column, kind in rows:
        if table not in NOT_COPIED:
            tables.setdefault(table, {})[column] = kind
    return tables


def _copy(
    source: duckdb.DuckDBPyConnection,
    target: postgres.PostgresConnection,
    say: Callable[[str], None],
) -> dict[str, int]:
    tables = _tables(source)
    targets = _target_tables(target)
    if set(tables) != set(targets):
        raise CopyRefused(
            "the source's tables are not the target's: only in the source "
            f"{sorted(set(tables) - set(targets))}, only in the target "
            f"{sorted(set(targets) - set(tables))}"
        )
    for table, columns in tables.items():
        if set(columns) != set(targets[table]):
            raise CopyRefused(
                f"{table}: the source's columns are not the target's ({sorted(columns)} and"
                f" {sorted(targets[table])})"
            )
    occupied = [
        f"{table} ({n} rows)"
        for table in sorted(targets)
        if (n := target.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
    ]
    if occupied:
        raise CopyRefused(
            "the target database is not empty: "
            + ", ".join(occupied)
            + "; copy into a new, empty database (CREATE DATABASE …)"
        )
    copied: dict[str, int] = {}
    target.execute("BEGIN TRANSACTION")
    try:
        source.execute("BEGIN TRANSACTION")  # one read snapshot of the source
        for table, columns in tables.items():
            copied[table] = _copy_table(source, target, table, columns)
            say(f"{table}: {copied[table]} rows")
        numbers = {
            table: [c for c, kind in kinds.items() if kind in NUMBER_TYPES]
            for table, kinds in targets.items()
        }
        differences = mismatches(totals(source.execute, numbers), totals(target.execute, numbers))
        if differences:
            raise CopyMismatch(differences)
        target.execute("COMMIT")
    except BaseException:
        target.execute("ROLLBACK")
        raise
    return copied


def _copy_table(
    source: duckdb.DuckDBPyConnection,
    target: postgres.PostgresConnection,
    table: str,
    columns: list[str],
) -> int:
    names = ", ".join(f'"{c}"' for c in columns)
    rows = source.execute(f'SELECT {names} FROM "{table}"')
    count = 0
    with target.raw.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        while batch := rows.fetchmany(BATCH_ROWS):
            for row in batch:
                copy.write_row(row)
            count += len(batch)
    return count


def totals(execute: Callable, numbers: dict[str, list[str]]) -> Totals:
    """Each table's row count and the sum of each of its number columns."""
    found: Totals = {}
    for table, columns in numbers.items():
        measures = ["count(*)", *(f'sum("{c}")' for c in columns)]
        values = execute(f'SELECT {", ".join(measures)} FROM "{table}"').fetchone()
        found[table] = {"rows": values[0]}
        for column, value in zip(columns, values[1:], strict=True):
            found[table][f"sum({column})"] = value
    return found

"""Filter and page a staff list in SQL: the one way the store builds a `WHERE` from the
filters a caller gave, and cuts one page (`LIMIT ? OFFSET ?`) with the count it is a page of.

Column and table names come from the store's own code, never from a request; every value
is a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb


class Where:
    """`WHERE a AND b …` and its parameters, grown one condition at a time; empty (no
    `WHERE`) when nothing filters."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> Where:
        self.clauses.append(clause)
        self.params.extend(params)
        return self

    def equal(self, column: str, value: Any) -> Where:
        """`column = value`, unless `value` is None (not filtered on)."""
        return self if value is None else self.add(f"{column} = ?", value)

    def equals(self, **columns: Any) -> Where:
        for column, value in columns.items():
            self.equal(column, value)
        return self

    @property
    def sql(self) -> str:
        return ("WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


def page(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    where: Where,
    order_by: str,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of `table`'s rows (as dicts of `columns`) in `order_by` order, and how many
    rows match in all."""
    rows = conn.execute(
        f"SELECT {', '.join(columns)} FROM {table} {where.sql}"
        f" ORDER BY {order_by} LIMIT ? OFFSET ?",
        [*where.params, limit, offset],
    ).fetchall()
    return [dict(zip(columns, row, strict=True)) for row in rows], count(conn, table, where)


def count(conn: duckdb.DuckDBPyConnection, table: str, where: Where) -> int:
    (total,) = conn.execute(f"SELECT count(*) FROM {table} {where.sql}", where.params).fetchone()
    return total

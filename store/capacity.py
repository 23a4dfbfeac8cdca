"""The capacity_overrides table's one writer: staff changing how many places a camp day, a
party room slot or an Ignite class has (an extra helper, a room closed), without editing the
catalog or restarting. The catalog's capacity stands wherever there is no override.

Every function runs in the caller's transaction (`conn`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import duckdb


def set_override(
    conn: duckdb.DuckDBPyConnection, resource_key: str, capacity: int, reason: str, actor: str,
    now: datetime,
) -> int | None:  # fmt: skip
    """The resource's capacity from now on; the override it replaces (None: the catalog's)."""
    row = conn.execute(
        "SELECT capacity FROM capacity_overrides WHERE resource_key = ?", [resource_key]
    ).fetchone()
    if row is None:
        conn.execute(
            "INSERT INTO capacity_overrides (resource_key, capacity, reason, actor, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [resource_key, capacity, reason, actor, now],
        )
    else:
        conn.execute(
            "UPDATE capacity_overrides SET capacity = ?, reason = ?, actor = ?, updated_at = ?"
            " WHERE resource_key = ?",
            [capacity, reason, actor, now, resource_key],
        )
    return row[0] if row else None


def overrides(conn: duckdb.DuckDBPyConnection, keys: Iterable[str]) -> dict[str, int]:
    """The overridden capacities among `keys`."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    return dict(
        conn.execute(
            "SELECT resource_key, capacity FROM capacity_overrides"
            " WHERE resource_key IN (SELECT unnest(?))",
            [keys],
        ).fetchall()
    )


def with_overrides(
    conn: duckdb.DuckDBPyConnection, options: tuple[tuple[str, int], ...]
) -> tuple[tuple[str, int], ...]:
    """Hold options (resource key, catalog capacity) with staff's overrides applied."""
    found = overrides(conn, (key for key, _ in options))
    return tuple((key, found.get(key, capacity)) for key, capacity in options)

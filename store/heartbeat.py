"""A one-row table the readiness probe writes to: proof that a commit goes through."""

from __future__ import annotations

from datetime import datetime

import duckdb


def beat(conn: duckdb.DuckDBPyConnection, now: datetime) -> datetime:
    conn.execute(
        "INSERT INTO sidecar_heartbeat (id, beat_at) VALUES (1, ?)"
        " ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at",
        [now],
    )
    return now

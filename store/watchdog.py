"""What the sidecar's watchdog reads (core/watchdog.py decides, sidecar/watchdog.py loops):
the last Stripe delivery stored and the webhook backlog, in one read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from store.staff_reads import webhook_health


def figures(conn: duckdb.DuckDBPyConnection, now: datetime) -> dict[str, Any]:
    """`last_delivery` (naive UTC, None when the inbox is empty), `backlog` and
    `oldest_backlog_seconds` (as the Live page shows them)."""
    (last,) = conn.execute("SELECT max(received_at) FROM webhook_inbox").fetchone()
    hooks = webhook_health(conn, now)
    return {
        "last_delivery": last,
        "backlog": hooks["backlog"],
        "oldest_backlog_seconds": hooks["oldest_backlog_seconds"],
    }

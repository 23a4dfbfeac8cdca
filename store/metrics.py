"""The counts `/metrics` reports from the database, in one read (sidecar/metrics.py).

Each is a GROUP BY over a status column or a handful of waiting rows: cheap on a million
orders, so a scrape every 15 s costs little.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from core.vocabulary import PAYMENT_STATUSES, SEVERITIES
from store.staff_reads import webhook_health


def counts(conn: duckdb.DuckDBPyConnection, now: datetime) -> dict[str, Any]:
    """Webhook backlog and lag, outbox by channel and state, errors by severity (all and
    open), checkout holds now, checkout orders by payment state."""
    errors = {severity: [0, 0] for severity in SEVERITIES}
    for severity, total, unresolved in conn.execute(
        "SELECT severity, count(*), count(*) FILTER (WHERE resolved_at IS NULL)"
        " FROM error_log GROUP BY 1"
    ).fetchall():
        errors[severity] = [total, unresolved]
    holds, seats = conn.execute(
        "SELECT count(*), coalesce(sum(seats), 0) FROM holds"
        " WHERE status = 'active' AND expires_at > ?",
        [now],
    ).fetchone()
    checkouts = dict.fromkeys(PAYMENT_STATUSES, 0)
    checkouts.update(
        conn.execute(
            "SELECT payment_status, count(*) FROM orders WHERE source = 'checkout' GROUP BY 1"
        ).fetchall()
    )
    return {
        "webhooks": webhook_health(conn, now),
        "outbox": conn.execute(
            "SELECT channel, status, count(*) FROM outbox GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall(),
        "errors": {severity: tuple(n) for severity, n in errors.items()},
        "holds": {"active": holds, "seats": seats},
        "checkouts": checkouts,
    }

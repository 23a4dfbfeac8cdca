"""The inbox's archive: finished events move out of `webhook_inbox` after 35 days.

`webhook_inbox`'s primary key on Stripe's event id is what makes a redelivery store nothing.
On DuckDB that key is an in-memory index (ART) over random ids, and any insert or lookup
loads it: with two million events it took about 100 MB of the store's 200 MB, during every
burst of webhooks (docs/benchmarks.md). Stripe retries a delivery for three days and resends
an event for at most 30 days after it was created, so the key only needs the ids of the last
few weeks:

- `move_finished` moves events received more than `ARCHIVE_AFTER` ago whose work is over
  (`processed`, `ignored`) into `webhook_inbox_archive` (no keys), a batch per transaction;
  failed and waiting events stay where staff see and retry them;
- a delivery of an event created before `ARCHIVE_AFTER` less a day (which Stripe does not
  send) is looked for in the archive too (`archived`), so it stores nothing either;
- staff opening an archived event see it (`get_archived`), and reprocessing an ignored one
  brings it back first (`restore`).

The writer is the only one to move rows (runtime/background.py runs the pass); both tables
are written in one transaction, so an event is always in exactly one of them. On PostgreSQL
nothing is moved: its B-tree indexes stay on disk, and several sidecars share the key.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import duckdb

from store import locks

ARCHIVE_AFTER = timedelta(days=35)
# Stripe's `created` may be a little behind our clock; an event created this long before
# the archive's horizon may have been received after it.
_MARGIN = timedelta(days=1)
BATCH = 1_000

COLUMNS = ("event_id", "type", "object_id", "livemode", "api_version", "created_at", "payload",
           "received_at", "status", "attempts", "next_attempt_at", "last_error",
           "processed_at", "order_id", "not_ours", "waiting_for", "claimed_by")  # fmt: skip
_LIST = ", ".join(COLUMNS)


def every_event(columns: str) -> str:
    """A FROM clause of every event received, in the inbox or archived, with `columns`:
    for reads over days that may lie beyond the archive's horizon (filters on time reach
    both tables, whose zonemaps skip what is outside them)."""
    return (
        f"(SELECT {columns} FROM webhook_inbox"
        f" UNION ALL SELECT {columns} FROM webhook_inbox_archive) AS every_event"
    )


def move_finished(conn: duckdb.DuckDBPyConnection, now: datetime, limit: int = BATCH) -> int:
    """Move up to `limit` finished events received before `now - ARCHIVE_AFTER`, oldest
    first, into the archive (a writer function: one transaction); how many moved. None
    on PostgreSQL."""
    if locks.on_postgres(conn):
        return 0
    ids = [row[0] for row in conn.execute(
        "SELECT event_id FROM webhook_inbox WHERE received_at < ?"
        " AND status IN ('processed', 'ignored') ORDER BY received_at LIMIT ?",
        [now - ARCHIVE_AFTER, limit],
    ).fetchall()]  # fmt: skip
    if not ids:
        return 0
    conn.execute(
        f"INSERT INTO webhook_inbox_archive ({_LIST}, archived_at)"
        f" SELECT {_LIST}, ? FROM webhook_inbox WHERE event_id IN (SELECT unnest(?))",
        [now, ids],
    )
    conn.execute("DELETE FROM webhook_inbox WHERE event_id IN (SELECT unnest(?))", [ids])
    return len(ids)


def may_be_archived(created: datetime | None, received_at: datetime) -> bool:
    """Whether an event Stripe created at `created` could be in the archive already (it was
    created long enough before it is received now): only then is the archive searched."""
    return created is not None and created < received_at - ARCHIVE_AFTER + _MARGIN


def archived(conn: duckdb.DuckDBPyConnection, event_ids: Iterable[str]) -> set[str]:
    """Which of these events are in the archive."""
    ids = sorted(set(event_ids))
    if not ids:
        return set()
    return {row[0] for row in conn.execute(
        "SELECT DISTINCT event_id FROM webhook_inbox_archive WHERE event_id IN (SELECT unnest(?))",
        [ids],
    ).fetchall()}  # fmt: skip


def get_archived(conn: duckdb.DuckDBPyConnection, event_id: str) -> dict[str, Any] | None:
    """An archived event as `store.inbox.get_event` gives one, with `archived_at`."""
    cursor = conn.execute(
        f"SELECT {_LIST}, archived_at FROM webhook_inbox_archive WHERE event_id = ? LIMIT 1",
        [event_id],
    )
    row = cursor.fetchone()
    return dict(zip((*COLUMNS, "archived_at"), row, strict=True)) if row else None


def restore(conn: duckdb.DuckDBPyConnection, event_id: str) -> bool:
    """An archived event back in the inbox (to be reprocessed); False if it is not archived."""
    if event_id not in archived(conn, [event_id]):
        return False
    conn.execute(
        f"INSERT INTO webhook_inbox ({_LIST}) SELECT {_LIST} FROM webhook_inbox_archive"
        " WHERE event_id = ? LIMIT 1",
        [event_id],
    )
    conn.execute("DELETE FROM webhook_inbox_archive WHERE event_id = ?", [event_id])
    return True

"""The webhook inbox: every verified Stripe event, stored before it is acknowledged.

The primary key on `event_id` makes a redelivery a no-op; `status` separates "received"
from "processed" so a failed handler is retried rather than forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb

from core.stripe_events import InboxEvent
from core.vocabulary import INBOX_STATUSES
from store import inbox_archive, locks, paging
from store.database import single_statement
from store.paging import Where

_COLUMNS = (
    "event_id",
    "type",
    "object_id",
    "livemode",
    "api_version",
    "created_at",
    "payload",
    "received_at",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "processed_at",
    "not_ours",
    "waiting_for",
)


# The AS names change nothing in what is stored, but DuckDB (2.0) plans the statement about
# a tenth faster with them: ~1.07 ms instead of ~1.18 ms of CPU for 25 events.
_INSERT = """
    INSERT INTO webhook_inbox (event_id, type, object_id, livemode, api_version,
                               created_at, payload, received_at, status)
    SELECT unnest(?) AS event_id, unnest(?) AS type, unnest(?) AS object_id,
           unnest(?) AS livemode, unnest(?) AS api_version, unnest(?) AS created_at,
           unnest(?) AS payload, unnest(?) AS received_at, unnest(?) AS status
"""


@single_statement
def store_events(
    conn: duckdb.DuckDBPyConnection, items: Sequence[tuple[InboxEvent, datetime]]
) -> list[bool]:
    """Insert (event, received_at) pairs; True for each event that was not stored before.

    One statement for the whole group the writer hands over. This is the fast path: it
    assumes no event is stored yet, and the primary key refuses the group if one is; the
    writer then retries it with `store_events_skipping_duplicates`. (A plain INSERT costs
    a third of one with ON CONFLICT in DuckDB, and redeliveries are rare.)
    """
    fresh: dict[str, tuple[InboxEvent, datetime]] = {}
    for event, received_at in items:
        fresh.setdefault(event.event_id, (event, received_at))
    for event_id in _archived_of(conn, items):
        del fresh[event_id]
    if fresh:
        _insert(conn, fresh.values(), "")
    return _first_copies(items, set(fresh))


@single_statement
def store_events_skipping_duplicates(
    conn: duckdb.DuckDBPyConnection, items: Sequence[tuple[InboxEvent, datetime]]
) -> list[bool]:
    """As `store_events`, but events already stored are skipped rather than refused."""
    old = _archived_of(conn, items)
    rows = _insert(
        conn, [i for i in items if i[0].event_id not in old],
        "ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
    )  # fmt: skip
    return _first_copies(items, {row[0] for row in rows})


def _archived_of(conn, items: Sequence[tuple[InboxEvent, datetime]]) -> set[str]:
    """The events of `items` stored long ago and archived since (store/inbox_archive.py):
    looked for only for events Stripe created before the archive's horizon, which it does
    not resend, so the webhook's usual path reads nothing more."""
    old = [
        e.event_id
        for e, received_at in items
        if inbox_archive.may_be_archived(e.created, received_at)
    ]
    return inbox_archive.archived(conn, old) if old else set()


def _insert(conn, items, suffix: str) -> list[tuple]:
    items = list(items)
    if not items:
        return []
    cursor = conn.execute(
        _INSERT + suffix,
        [
            [e.event_id for e, _ in items],
            [e.type for e, _ in items],
            [e.object_id for e, _ in items],
            [e.livemode for e, _ in items],
            [e.api_version for e, _ in items],
            [e.created for e, _ in items],
            [e.payload for e, _ in items],
            [received_at for _, received_at in items],
            ["received" if e.handled else "ignored" for e, _ in items],
        ],
    )
    return cursor.fetchall() if suffix else []


def _first_copies(items, new_ids: set[str]) -> list[bool]:
    """True for the first copy of each newly stored id; later copies are duplicates."""
    results = []
    for event, _ in items:
        results.append(event.event_id in new_ids)
        new_ids.discard(event.event_id)
    return results


def get_event(conn: duckdb.DuckDBPyConnection, event_id: str) -> dict[str, Any] | None:
    """An event by its id, from the inbox or, finished long ago, its archive (with
    `archived_at`, when it was moved there)."""
    row = conn.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM webhook_inbox WHERE event_id = ?", [event_id]
    ).fetchone()
    if row is None:
        found = inbox_archive.get_archived(conn, event_id)
        return (
            {k: v for k, v in found.items() if k in _COLUMNS or k == "archived_at"}
            if found
            else None
        )
    return dict(zip(_COLUMNS, row, strict=True))


def _filtered(status: str | None, event_type: str | None) -> Where:
    """A status, or a view (core.vocabulary.INBOX_VIEWS): `waiting` is a received event put
    off until what it needs is there, `not_ours` an ignored event that is not TinkerTank's."""
    where = Where().equals(type=event_type)
    if status == "waiting":
        where.add("status = 'received' AND waiting_for IS NOT NULL")
    elif status == "not_ours":
        where.add("not_ours")
    else:
        where.equals(status=status)
    return where


def list_events(
    conn: duckdb.DuckDBPyConnection,
    *,
    status: str | None = None,
    event_type: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of events, newest first, without payloads, and the total it is a page of;
    filtered and paged in SQL. A waiting event's `next_attempt_at` is its next try and its
    `last_error` the reason it waits."""
    columns = [c for c in _COLUMNS if c != "payload"]
    order = "received_at DESC, event_id DESC"
    return paging.page(
        conn, "webhook_inbox", columns, _filtered(status, event_type), order, limit, offset
    )


def count_events(
    conn: duckdb.DuckDBPyConnection, *, status: str | None = None, event_type: str | None = None
) -> int:
    return paging.count(conn, "webhook_inbox", _filtered(status, event_type))


def count_by_status(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Events in the inbox by status, and `archived`: the events finished more than 35 days
    ago, moved to the archive (store/inbox_archive.py). Nearly every event is `processed`,
    so that count is what is left of the table's row count (from its metadata) once the
    others are counted: the status column's zonemaps find those without reading the
    processed millions (1 ms against 45 ms with two million events)."""
    (total,) = conn.execute("SELECT count(*) FROM webhook_inbox").fetchone()
    rows = conn.execute(
        "SELECT status, count(*) FROM webhook_inbox WHERE status <> 'processed' GROUP BY status"
    ).fetchall()
    counts = dict.fromkeys(INBOX_STATUSES, 0)
    counts.update({status: n for status, n in rows})
    counts["processed"] = total - sum(n for _, n in rows)
    (counts["archived"],) = conn.execute("SELECT count(*) FROM webhook_inbox_archive").fetchone()
    return counts


def count_views(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Events in each view (core.vocabulary.INBOX_VIEWS), which overlap the statuses: a
    waiting event is `received`, a not-ours one `ignored`."""
    waiting, not_ours = conn.execute(
        "SELECT count(*) FILTER (WHERE status = 'received' AND waiting_for IS NOT NULL),"
        " count(*) FILTER (WHERE not_ours) FROM webhook_inbox"
        " WHERE status IN ('received', 'ignored')"
    ).fetchone()
    return {"waiting": waiting, "not_ours": not_ours}


# What applying an event made of it (`fulfilment.events`, `fulfilment.worker`).


def record_outcome(
    conn: duckdb.DuckDBPyConnection, event_id: str, outcome: str, order_id: str | None,
    now: datetime,
) -> None:  # fmt: skip
    """Applied (`processed`) or nothing to apply (`ignored`), naming its order if it found one."""
    conn.execute(
        "UPDATE webhook_inbox SET status = ?, attempts = attempts + 1, processed_at = ?,"
        " last_error = NULL, next_attempt_at = NULL, waiting_for = NULL,"
        " order_id = coalesce(?, order_id)"
        " WHERE event_id = ?",
        [outcome, now, order_id, event_id],
    )


def mark_processed_many(
    conn: duckdb.DuckDBPyConnection, order_of_event: dict[str, str], now: datetime
) -> None:
    """`record_outcome` processed, for many events at once (`fulfilment.bulk_payments`)."""
    conn.execute(
        "UPDATE webhook_inbox SET status = 'processed', attempts = attempts + 1,"
        " processed_at = ?, last_error = NULL, next_attempt_at = NULL, order_id = n.order_id"
        " FROM (SELECT unnest(?) AS event_id, unnest(?) AS order_id) n"
        " WHERE webhook_inbox.event_id = n.event_id",
        [now, list(order_of_event), list(order_of_event.values())],
    )


def refuse(
    conn: duckdb.DuckDBPyConnection, event_id: str, error: str, order_id: str | None
) -> None:
    """Failed without being applied (an event of the other mode), naming its order."""
    conn.execute(
        "UPDATE webhook_inbox SET status = 'failed', attempts = attempts + 1, last_error = ?,"
        " next_attempt_at = NULL, waiting_for = NULL, order_id = coalesce(?, order_id)"
        " WHERE event_id = ?",
        [error, order_id, event_id],
    )


def defer(
    conn: duckdb.DuckDBPyConnection, event_id: str, reason: str, retry_at: datetime,
    waiting_for: str | None = None,
) -> None:  # fmt: skip
    """Not applicable yet (its order is not there yet): waiting, tried again at `retry_at`,
    or as soon as an order with the Stripe id `waiting_for` is recorded (`wake_waiting`)."""
    conn.execute(
        "UPDATE webhook_inbox SET attempts = attempts + 1, last_error = ?,"
        " next_attempt_at = ?, waiting_for = ? WHERE event_id = ?",
        [reason, retry_at, waiting_for or "", event_id],
    )


def give_up(conn: duckdb.DuckDBPyConnection, event_id: str, error: str) -> None:
    """Deferred for too long: failed, for staff."""
    conn.execute(
        "UPDATE webhook_inbox SET status = 'failed', attempts = attempts + 1, last_error = ?,"
        " next_attempt_at = NULL, waiting_for = NULL WHERE event_id = ?",
        [error, event_id],
    )


def record_not_ours(
    conn: duckdb.DuckDBPyConnection, event_id: str, reason: str, now: datetime
) -> None:
    """A payment, invoice or subscription that is not TinkerTank's (a shared Stripe account):
    ignored, counted apart, with the reason; nothing applied, nothing logged."""
    conn.execute(
        "UPDATE webhook_inbox SET status = 'ignored', not_ours = true, attempts = attempts + 1,"
        " processed_at = ?, last_error = ?, next_attempt_at = NULL, waiting_for = NULL"
        " WHERE event_id = ?",
        [now, reason, event_id],
    )


def record_not_ours_many(
    conn: duckdb.DuckDBPyConnection, reason_of_event: dict[str, str], now: datetime
) -> None:
    """`record_not_ours` for many events at once (`fulfilment.bulk_payments`)."""
    conn.execute(
        "UPDATE webhook_inbox SET status = 'ignored', not_ours = true, attempts = attempts + 1,"
        " processed_at = ?, last_error = n.reason, next_attempt_at = NULL, waiting_for = NULL"
        " FROM (SELECT unnest(?) AS event_id, unnest(?) AS reason) n"
        " WHERE webhook_inbox.event_id = n.event_id",
        [now, list(reason_of_event), list(reason_of_event.values())],
    )


def any_waiting(conn: duckdb.DuckDBPyConnection, now: datetime) -> bool:
    """Whether any event waits for a later try (most of the time, none: the worker then
    writes nothing to wake them)."""
    return bool(conn.execute(
        "SELECT 1 FROM webhook_inbox WHERE status = 'received' AND waiting_for IS NOT NULL"
        " AND next_attempt_at > ? LIMIT 1",
        [now],
    ).fetchone())  # fmt: skip


def wake_waiting(conn: duckdb.DuckDBPyConnection, event_ids: list[str], now: datetime) -> int:
    """Waiting events that wait for an order these (just applied) events recorded are due
    now: a refund that came before its payment is applied on the worker's next pass."""
    rows = conn.execute(
        "UPDATE webhook_inbox SET next_attempt_at = ? WHERE status = 'received'"
        " AND waiting_for IS NOT NULL AND next_attempt_at > ? AND waiting_for IN ("
        "  SELECT unnest(ARRAY[o.checkout_session_id, o.payment_intent_id, o.subscription_id,"
        "                 o.stripe_customer_id]) FROM orders o WHERE o.order_id IN ("
        "   SELECT order_id FROM webhook_inbox WHERE event_id IN (SELECT unnest(?))"
        "   AND order_id IS NOT NULL))"
        " RETURNING event_id",
        [now, now, list(event_ids)],
    ).fetchall()
    return len(rows)


def wake_waiting_for(conn: duckdb.DuckDBPyConnection, ids: list[str], now: datetime) -> int:
    """Waiting events that wait for one of these Stripe ids are due now (the lookup pass
    has stored which invoice a payment paid: `store/payment_invoices.py`)."""
    if not ids:
        return 0
    return len(conn.execute(
        "UPDATE webhook_inbox SET next_attempt_at = ? WHERE status = 'received'"
        " AND waiting_for IN (SELECT unnest(?)) AND next_attempt_at > ? RETURNING event_id",
        [now, list(ids), now],
    ).fetchall())  # fmt: skip


def record_failure(
    conn: duckdb.DuckDBPyConnection, event_id: str, status: str, attempts: int, error: str,
    next_attempt_at: datetime | None,
) -> None:  # fmt: skip
    """A failed attempt: `received` again at `next_attempt_at`, or `failed` for good."""
    conn.execute(
        "UPDATE webhook_inbox SET status = ?, attempts = ?, last_error = ?,"
        " next_attempt_at = ?, waiting_for = NULL WHERE event_id = ?",
        [status, attempts, error, next_attempt_at, event_id],
    )


def reprocess(conn: duckdb.DuckDBPyConnection, event_id: str) -> bool:
    """Staff: a failed or ignored event `received` again, to be applied from its stored
    body (an ignored one archived long ago back in the inbox first); False for any other
    (a processed event's effects stand)."""

    def again() -> bool:
        return bool(conn.execute(
            "UPDATE webhook_inbox SET status = 'received', attempts = 0, next_attempt_at = NULL,"
            " not_ours = NULL, waiting_for = NULL"
            " WHERE event_id = ? AND status IN ('failed', 'ignored') RETURNING event_id",
            [event_id],
        ).fetchall())  # fmt: skip

    if again():
        return True
    archived = inbox_archive.get_archived(conn, event_id)
    if archived is None or archived["status"] != "ignored":
        return False
    inbox_archive.restore(conn, event_id)
    return again()


# Claiming the due events (store/locks.py): several sidecars on one PostgreSQL database.


def claim_due(
    conn: duckdb.DuckDBPyConnection, now: datetime, limit: int, lease_until: datetime
) -> list[str]:
    """The events due at `now`, oldest first (by Stripe's `created`), up to `limit`. On
    PostgreSQL they are claimed in the same statement: their next try moves to
    `lease_until`, so the other sidecars leave them alone, and they are due again then if
    this sidecar dies before it applies them (at once, once its connections are gone: see
    `store/locks.py`); rows another sidecar is claiming are skipped.
    On DuckDB, whose file one sidecar owns, a plain read."""
    due = "next_attempt_at IS NULL OR next_attempt_at <= ?"
    order = " ORDER BY created_at, received_at, event_id LIMIT ?"
    if not locks.on_postgres(conn):
        return [row[0] for row in conn.execute(
            f"SELECT event_id FROM webhook_inbox WHERE status = 'received' AND ({due})" + order,
            [now, limit],
        ).fetchall()]  # fmt: skip
    rows = conn.execute(
        "UPDATE webhook_inbox SET next_attempt_at = ?, claimed_by = ? WHERE event_id IN ("
        "SELECT event_id FROM webhook_inbox WHERE status = 'received'"
        " AND created_at IS NOT NULL"  # always: the condition of its index (store/schema.py)
        f" AND ({due} OR {locks.orphaned()})" + order + locks.skip_locked(conn) + ")"
        " RETURNING event_id, created_at, received_at",
        [lease_until, locks.CLAIMANT, now, limit],
    ).fetchall()
    return [row[0] for row in sorted(rows, key=lambda r: (r[1], r[2], r[0]))]

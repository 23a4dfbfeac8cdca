"""The subscription_endings table's one writer (schema v20): one request at a time asks
Stripe to end a subscription, whichever sidecar it reaches.

A request claims the subscription's row in a transaction of its own before Stripe is asked
(`claim`): the first inserts it (the primary key is the subscription), any other finds it
and is told who holds it (`busy`, a 409) or, once the first has finished, that the same
ending was done (`done`: its audit record is the answer). After Stripe answers, the claim
is completed in the transaction that records the action (`complete`), or released when
Stripe could not be asked or refused (`release`), so that the next request may try.

A claim is stale, and the next request takes it over, when its process is gone (on
PostgreSQL no connection of it is left, `store/locks.py` `orphaned`; on DuckDB it was made
by an earlier store process, since one sidecar at a time opens the file) or when it is
older than `STALE_AFTER` (a process alive but stuck). Stripe's idempotency key still makes
a taken-over request's call the same one.

Every function runs in the caller's transaction (`conn`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from store.locks import CLAIMANT, on_postgres, orphaned

# Longer than the Stripe client's longest call with its retries: a claim this old is stuck.
STALE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class Claim:
    """What `claim` found: `claimed` (this request asks Stripe, with `claim_id`), `done` (the
    same ending was asked and answered before) or `busy` (another request is asking now:
    `actor`, `request_key` and `claimed_at` say whose and since when)."""

    outcome: str
    claim_id: str = ""
    request_key: str = ""
    actor: str = ""
    claimed_at: datetime | None = None


def _stale(conn: duckdb.DuckDBPyConnection) -> str:
    gone = orphaned() if on_postgres(conn) else "claimed_by <> ?"
    return f"(claimed_at < ? OR {gone})"


def claim(
    conn: duckdb.DuckDBPyConnection, subscription_id: str, request_key: str, actor: str,
    now: datetime,
) -> Claim:  # fmt: skip
    """Claim the subscription for the request `request_key` (one ending of it)."""
    claim_id = secrets.token_hex(8)
    fresh = [subscription_id, request_key, "claimed", claim_id, CLAIMANT, actor, now]
    if conn.execute(
        "INSERT INTO subscription_endings (subscription_id, request_key, status, claim_id,"
        " claimed_by, actor, claimed_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (subscription_id) DO NOTHING RETURNING subscription_id",
        fresh,
    ).fetchall():
        return Claim("claimed", claim_id)
    # Taken over: another ending that was answered, or a claim whose request is gone.
    stale = [now - STALE_AFTER] + ([] if on_postgres(conn) else [CLAIMANT])
    if conn.execute(
        "UPDATE subscription_endings SET request_key = ?, status = 'claimed', claim_id = ?,"
        " claimed_by = ?, actor = ?, claimed_at = ?, done_at = NULL WHERE subscription_id = ?"
        f" AND ((status = 'done' AND request_key <> ?) OR (status = 'claimed' AND {_stale(conn)}))"
        " RETURNING subscription_id",
        [request_key, claim_id, CLAIMANT, actor, now, subscription_id, request_key, *stale],
    ).fetchall():
        return Claim("claimed", claim_id)
    held, status, by, since = conn.execute(
        "SELECT request_key, status, actor, claimed_at FROM subscription_endings"
        " WHERE subscription_id = ?",
        [subscription_id],
    ).fetchone()
    return Claim("done" if status == "done" else "busy", "", held, by, since)


def complete(
    conn: duckdb.DuckDBPyConnection, subscription_id: str, claim_id: str, now: datetime
) -> bool:
    """Stripe answered the claim `claim_id`: the ending is done. False when the claim was
    taken over meanwhile (stale)."""
    return bool(
        conn.execute(
            "UPDATE subscription_endings SET status = 'done', done_at = ?"
            " WHERE subscription_id = ? AND claim_id = ? AND status = 'claimed'"
            " RETURNING subscription_id",
            [now, subscription_id, claim_id],
        ).fetchall()
    )


def release(conn: duckdb.DuckDBPyConnection, subscription_id: str, claim_id: str) -> None:
    """Stripe could not be asked, or refused: the claim `claim_id` leaves nothing behind."""
    conn.execute(
        "DELETE FROM subscription_endings WHERE subscription_id = ? AND claim_id = ?"
        " AND status = 'claimed'",
        [subscription_id, claim_id],
    )

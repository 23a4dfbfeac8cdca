"""What several sidecars writing to one PostgreSQL database need, and DuckDB does not.

On DuckDB one sidecar owns the file and its single writer thread runs every write in turn,
so a check and the write that follows it can never interleave with another's. On
PostgreSQL each sidecar has a writer of its own, and the server runs their transactions
side by side (READ COMMITTED). Two kinds of lock keep the store's rules there:

- `skip_locked`: a `SELECT … FOR UPDATE SKIP LOCKED` on the rows of work (inbox events,
  fulfilment steps, outbox messages) a transaction is about to do. A row another sidecar is
  doing is skipped, not waited for; one it has done is no longer due when read. So each
  piece of work is done by one transaction, whatever the claims (below) say.
- `lock_keys`: transaction-level advisory locks on names (a camp day's places, a party
  room's slot, the waitlist's pass), taken in sorted order before the check: the check
  and the write it allows are then one step for every sidecar.

A claim (`claim_due` in `store/inbox.py`, `store/fulfilment_steps.py`, `store/outbox.py`)
shares the work out: one statement moves the due rows' `next_attempt_at` a lease ahead
(`WORK_LEASE_SECONDS`) and signs them with the sidecar's name (`claimed_by`, the
`application_name` of every connection it makes), so the other sidecars leave them alone.
Work claimed by a sidecar that has died is due again at once: its connections are gone
from `pg_stat_activity` (`orphaned`). A sidecar that is alive but slow keeps its claims
for the lease; past it they are due for anyone, and the row locks above still let one
transaction do each piece.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from store.postgres import APPLICATION_NAME

# Namespaces of the advisory locks (the first argument of pg_advisory_xact_lock(int, int)).
PLACES = 7_247_010  # a resource's places (store/orders.py, holds)
WAITLIST = 7_247_011  # the waitlist's offers (store/waitlist.py)
TEMPLATES = 7_247_012  # the recurring templates' sync at start (store/recurring.py)
WATCHDOG = 7_247_013  # a watchdog alert every sidecar sees alike (store/error_log.py)


def on_postgres(conn: Any) -> bool:
    return getattr(conn, "dialect", None) == "postgresql"


# What a claim signs its rows with: this process's name on the server.
CLAIMANT = APPLICATION_NAME


def orphaned(column: str = "claimed_by") -> str:
    """SQL: claimed by a process that no longer has a connection to the server (it died, or
    lost the server): its claim no longer counts (PostgreSQL)."""
    return (
        f"({column} IS NOT NULL AND NOT EXISTS"
        f" (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = {column}))"
    )


def skip_locked(conn: Any, of: str | None = None) -> str:
    """The clause that locks the rows a SELECT returns, skipping those another transaction
    holds (PostgreSQL); nothing on DuckDB, whose one writer needs none."""
    if not on_postgres(conn):
        return ""
    return f" FOR UPDATE OF {of} SKIP LOCKED" if of else " FOR UPDATE SKIP LOCKED"


def lock_keys(conn: Any, namespace: int, keys: Iterable[str]) -> None:
    """Hold an advisory lock on each name until the transaction ends (PostgreSQL), in
    sorted order so that two transactions never wait for each other in a circle."""
    names = sorted(set(keys))
    if not names or not on_postgres(conn):
        return
    conn.execute(
        f"SELECT count(pg_advisory_xact_lock({int(namespace)}, hashtext(k)))"
        " FROM (SELECT k FROM unnest(?) AS t(k) ORDER BY k) AS sorted",
        [names],
    )

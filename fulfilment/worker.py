"""The fulfilment worker: drains the inbox and runs due order steps, in the store process
(on PostgreSQL in the web process of each sidecar, each claiming its share: `store/locks.py`).

Each event and each step is one job for the store's single writer (see
`fulfilment.events`), so a batch of them commits together and a failing one is re-run
alone. A failure is recorded in a transaction of its own, by kind:

- `Deferred` (recorded by the handler's own transaction, see `fulfilment.events.handle_event`):
  the event cannot be applied yet (a refund before its payment): waiting, tried again with
  exponential backoff (2 s doubling, capped at 30 minutes, `fulfilment.events.defer_delay`),
  and woken at once when a pass records the order it waits for (`store.inbox.wake_waiting`).
- `PermanentFailure`: fail at once, with an error-log entry.
- anything else is transient: retried with exponential backoff, then failed with an
  error-log entry (three retries). Staff can retry a failed step or reprocess an
  event; both start it afresh.

A crash at any point loses nothing: what was committed is done and recorded as done, what
was not is still due, and runs again on restart.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

from core.catalog import Catalog
from core.clock import utcnow
from fulfilment import bulk_payments, bulk_steps
from fulfilment.context import PermanentFailure
from fulfilment.events import handle_event
from fulfilment.steps import run_step
from store import fulfilment_steps, inbox, order_state
from store.database import Database
from store.error_log import log_error

log = logging.getLogger(__name__)

BATCH = 500
# Orders per bulk job: one commit, so a webhook arriving meanwhile waits for all of it.
BULK_SLICE = 100
# Under a burst of webhooks (the writer says so), fewer: on a database of a million orders
# a job of 100 took 0.1 to 0.5 s, and a webhook that came while it ran waited for all of it
# (`python -m bench million`: the acknowledgements' p99 rose to 0.25 to 0.8 s, measured with
# the writer's slow commits logged).
BULK_SLICE_UNDER_BURST = 20
BULK_STEPS: dict[str, Callable[..., list[str]]] = {
    "create_bookings": bulk_steps.create_bookings,
    "schedule_events": bulk_steps.book_events,
    "send_confirmation": bulk_steps.confirm,
    "notify_staff": bulk_steps.notify,
}
STEP_CATEGORY = {
    "create_bookings": "booking",
    "schedule_events": "calendar",
    "send_confirmation": "email",
    "notify_staff": "system",
}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # the first try and three retries
    base_seconds: float = 2.0  # then 2, 4, 8 seconds

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=self.base_seconds * 2 ** max(attempts - 1, 0))


# --- queries and records (write/read functions for the store) ------------------------------


def record_event_failure(
    conn: duckdb.DuckDBPyConnection,
    event_id: str,
    kind: str,
    error: str,
    policy: RetryPolicy,
    now: datetime,
) -> str:
    attempts, event_type = conn.execute(
        "SELECT attempts + 1, type FROM webhook_inbox WHERE event_id = ?",
        [event_id],
    ).fetchone()
    give_up = kind == "permanent" or attempts >= policy.attempts
    retry_at = now + policy.delay(attempts)
    inbox.record_failure(
        conn, event_id, "failed" if give_up else "received", attempts, error,
        None if give_up else retry_at,
    )  # fmt: skip
    if give_up:
        log_error(
            conn,
            category="payment",
            severity="high",
            message=f"Stripe event {event_type} could not be applied: {error}",
            stripe_event_id=event_id,
            now=now,
        )
    return "failed" if give_up else "retrying"


def record_step_failure(
    conn: duckdb.DuckDBPyConnection,
    order_id: str,
    step: str,
    kind: str,
    error: str,
    policy: RetryPolicy,
    now: datetime,
) -> str:
    (attempts,) = conn.execute(
        "SELECT attempts + 1 FROM fulfilment_steps WHERE order_id = ? AND step = ?",
        [order_id, step],
    ).fetchone()
    give_up = kind == "permanent" or attempts >= policy.attempts
    fulfilment_steps.record_failure(
        conn, order_id, step, "failed" if give_up else "pending", attempts, error,
        None if give_up else now + policy.delay(attempts), now,
    )  # fmt: skip
    if give_up:
        order_state.needs_attention(conn, order_id, now, when=("waiting", "in_progress"))
        log_error(
            conn,
            category=STEP_CATEGORY.get(step, "system"),
            severity="high",
            message=f"{step} failed after {attempts} attempt(s): {error}",
            order_id=order_id,
            step=step,
            now=now,
            # No dedupe key: each give-up (also after a staff retry) is its own incident,
            # written once by the transaction that marks the step failed.
        )
    return "failed" if give_up else "retrying"


def retry_step(conn: duckdb.DuckDBPyConnection, order_id: str, step: str, now: datetime) -> bool:
    """Staff: run a failed step again, with a fresh set of attempts."""
    retried = fulfilment_steps.retry(conn, order_id, step, now)
    if retried:
        order_state.resume(conn, order_id, now)
    return retried


def reprocess_event(conn: duckdb.DuckDBPyConnection, event_id: str, now: datetime) -> bool:
    """Staff: apply a stored event again from its stored body (not re-verified: it was
    verified when it arrived). Refused for an event already processed: its effects stand."""
    return inbox.reprocess(conn, event_id)


# --- the loop ------------------------------------------------------------------------------


def _failure_kind(exc: BaseException) -> str:
    if isinstance(exc, PermanentFailure):
        return "permanent"
    return "transient"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, PermanentFailure):
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]


class Worker:
    def __init__(
        self,
        database: Database,
        catalog: Catalog,
        policy: RetryPolicy,
        *,
        livemode: bool,
        shared: bool = False,
        lookups: bool = False,
        faults: dict[str, int] | None = None,
        poll_seconds: float = 0.05,
        clock: Callable[[], datetime] = utcnow,
        lease_seconds: float = 60.0,
    ) -> None:
        self.database = database
        self.catalog = catalog
        self.policy = policy
        # The mode of our Stripe key: events of the other mode are refused, not applied.
        self.livemode = livemode
        # STRIPE_ACCOUNT_MODE=shared: payments without a marker of ours are not ours.
        self.shared = shared
        # A Stripe key is set: events about a payment nothing of ours names may wait for the
        # lookup pass to ask Stripe which invoice it paid (runtime/invoice_lookups.py).
        self.lookups = lookups
        # Fault drill: {"schedule_events": 2} fails that step's next two runs (tests, drills).
        self.faults = dict(faults or {})
        self.poll_seconds = poll_seconds
        self.clock = clock
        # Several sidecars on PostgreSQL: what this one claims is its own for this long.
        self.lease = timedelta(seconds=lease_seconds)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fulfilment-worker", daemon=True)
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def problem(self) -> str | None:
        if not self._thread.is_alive():
            return "the fulfilment worker has stopped" + (
                f": {self.last_error}" if self.last_error else ""
            )
        return None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.run_once()
            except Exception as exc:  # the store is unavailable: say so, keep trying
                self.last_error = _describe(exc)
                log.exception("fulfilment worker pass failed")
                done = 0
            if not done:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def run_once(self) -> int:
        now = self.clock()
        return self.run_events(now) + self.run_steps(now)

    def run_events(self, now: datetime) -> int:
        """Apply the events due at `now`: the number of them."""
        events = self.database.claim(inbox.claim_due, now, BATCH, now + self.lease)
        # The common case in bulk first; what it leaves, one by one (see fulfilment.bulk_payments).
        leftovers = self._in_bulk(bulk_payments.apply_payments, events, now)
        leftovers = self._in_bulk(bulk_payments.create_metadata_orders, leftovers, now)
        leftovers = self._in_bulk(bulk_payments.record_unusable_payments, leftovers, now)
        submitted = [
            (
                event_id,
                self.database.submit_background(
                    handle_event,
                    event_id,
                    self.catalog,
                    now,
                    self.livemode,
                    self.shared,
                    self.lookups,
                ),
            )
            for event_id in leftovers
        ]
        for event_id, future in submitted:
            self._settle(future, record_event_failure, (event_id,), now)
        if events and self.database.read(inbox.any_waiting, now):
            # A refund that came before its payment waits for that payment's order: now
            # that this pass may have recorded it, its waiting events are due at once.
            self.database.submit_background(inbox.wake_waiting, events, now).result()
        return len(events)

    def run_steps(self, now: datetime) -> int:
        """Run the order steps due at `now`: the number of them."""
        steps = self.database.claim(fulfilment_steps.claim_due, now, BATCH, now + self.lease)
        by_step: dict[str, list[str]] = {}
        for order_id, step in steps:
            by_step.setdefault(step, []).append(order_id)
        runs: list[tuple[tuple[str, str], Any]] = []
        for step, order_ids in by_step.items():
            if self.faults.get(step, 0) <= 0 and step in BULK_STEPS:
                order_ids = self._in_bulk(BULK_STEPS[step], order_ids, now)
            for order_id in order_ids:
                if self.faults.get(step, 0) > 0:
                    self.faults[step] -= 1
                    self.database.submit_background(
                        record_step_failure, order_id, step, "transient",
                        f"injected fault ({step})", self.policy, now,
                    ).result()  # fmt: skip
                    continue
                future = self.database.submit_background(
                    run_step, order_id, step, self.catalog, now
                )
                runs.append(((order_id, step), future))
        for key, future in runs:
            self._settle(future, record_step_failure, key, now)
        return len(steps)

    def _in_bulk(self, fn: Callable[..., list[str]], keys: list[str], now: datetime) -> list[str]:
        """Run a batch function over `keys` in slices; what it leaves, and everything of a
        slice that failed, is returned for the one-by-one path."""
        leftovers: list[str] = []
        start = 0
        while start < len(keys):
            size = BULK_SLICE_UNDER_BURST if self.database.under_burst else BULK_SLICE
            part, start = keys[start : start + size], start + size
            needs_catalog = fn in (
                bulk_payments.create_metadata_orders,
                bulk_payments.record_unusable_payments,
                bulk_steps.create_bookings,
                bulk_steps.book_events,
                bulk_steps.confirm,
                bulk_steps.notify,
            )
            args = (part, self.catalog, now) if needs_catalog else (part, now)
            if fn in (bulk_payments.apply_payments, bulk_payments.create_metadata_orders):
                args = (*args, self.livemode)  # events of the other mode are left
            if fn is bulk_payments.record_unusable_payments:
                args = (*args, self.livemode, self.shared)
            try:
                leftovers.extend(self.database.submit_background(fn, *args).result())
            except Exception as exc:
                log.warning("%s fell back to one by one: %s", fn.__name__, _describe(exc))
                leftovers.extend(part)
        return leftovers

    def _settle(self, future: Any, record: Callable[..., str], key: tuple, now: datetime) -> None:
        try:
            future.result()
        except Exception as exc:
            kind = _failure_kind(exc)
            if kind == "transient":
                log.warning("%s %s failed: %s", record.__name__, key, _describe(exc))
            self.database.submit_background(
                record, *key, kind, _describe(exc), self.policy, now
            ).result()

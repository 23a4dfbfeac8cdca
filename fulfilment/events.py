"""The handler table: what each Stripe event type does, and `handle_event`,
which applies one stored event and records the outcome in the same transaction.
An event of the other mode than our key is refused; one about a payment that is not ours
(a shared account) is recorded as not ours; one that cannot be applied yet is deferred and
tried again with exponential backoff, woken early when the order it waits for is recorded,
and ends by rule: failed, or not ours when it carries no marker of ours in a shared account."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import duckdb

from core.catalog import Catalog
from core.payments import facts_from
from fulfilment.context import Context, Deferred, Handler, NotOurs
from fulfilment.payments import (
    handle_async_payment_failed,
    handle_async_payment_succeeded,
    handle_checkout_session_completed,
    handle_checkout_session_expired,
    handle_payment_intent_payment_failed,
    handle_payment_intent_succeeded,
)
from fulfilment.refunds import handle_charge_dispute_created, handle_charge_refunded
from fulfilment.subscriptions import (
    handle_invoice_paid,
    handle_invoice_payment_failed,
    handle_subscription_created_or_updated,
    handle_subscription_deleted,
)
from store import inbox, order_state
from store.error_log import log_error
from store.locks import skip_locked

# A deferred event is tried again after 2 s, 4 s, 8 s … up to 30 minutes between tries;
# after DEFER_ATTEMPTS tries (about two hours) it ends: failed with an error-log entry, or
# not ours (a shared account, no marker of ours). Waking (store/inbox.wake_waiting) brings
# it back at once when the order it waits for is recorded.
DEFER_FIRST = timedelta(seconds=2)
DEFER_CAP = timedelta(minutes=30)
DEFER_ATTEMPTS = 14


def defer_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th try (1 for the first)."""
    return min(DEFER_FIRST * 2 ** max(attempts - 1, 0), DEFER_CAP)


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": handle_checkout_session_completed,
    "checkout.session.async_payment_succeeded": handle_async_payment_succeeded,
    "checkout.session.async_payment_failed": handle_async_payment_failed,
    "checkout.session.expired": handle_checkout_session_expired,
    "payment_intent.succeeded": handle_payment_intent_succeeded,
    "payment_intent.payment_failed": handle_payment_intent_payment_failed,
    "charge.refunded": handle_charge_refunded,
    "charge.dispute.created": handle_charge_dispute_created,
    "invoice.paid": handle_invoice_paid,
    "invoice.payment_failed": handle_invoice_payment_failed,
    "customer.subscription.created": handle_subscription_created_or_updated,
    "customer.subscription.updated": handle_subscription_created_or_updated,
    "customer.subscription.deleted": handle_subscription_deleted,
}


def handle_event(
    conn: duckdb.DuckDBPyConnection,
    event_id: str,
    catalog: Catalog,
    now: datetime,
    livemode: bool,
    shared: bool = False,
    lookups: bool = False,
) -> str:
    """Apply one stored event and mark it processed, in the same transaction. `livemode` is
    the mode of our Stripe key: an event of the other mode is refused (`wrong_mode`).
    `shared`: the Stripe account carries other sales (STRIPE_ACCOUNT_MODE=shared).
    `lookups`: which invoice a payment paid may be asked of Stripe (a key is set)."""
    row = conn.execute(
        "SELECT type, payload, status, received_at, livemode FROM webhook_inbox WHERE event_id = ?"
        + skip_locked(conn),  # another sidecar's transaction is applying it: not here
        [event_id],
    ).fetchone()
    if row is None or row[2] in ("processed", "ignored"):
        return "already"
    event_type, payload, _, received_at, event_livemode = row
    handler = HANDLERS.get(event_type)
    order_id = None
    if handler is not None and event_livemode != livemode:
        return _refuse_mode(conn, event_id, event_type, payload, livemode, now)
    if handler is None:
        outcome = "ignored"  # a handled type whose handler is not written yet
    else:
        ctx = Context(catalog, now, event_id, received_at, shared, lookups)
        try:
            handler(conn, json.loads(payload), ctx)
        except Deferred as exc:
            # Recorded in this transaction rather than raised: a raise would roll back the
            # whole commit group and re-run every job in it alone.
            return _defer(conn, event_id, event_type, exc, now, shared)
        except NotOurs as exc:
            inbox.record_not_ours(conn, event_id, str(exc), now)
            return "not_ours"
        outcome, order_id = "processed", ctx.order_id
    inbox.record_outcome(conn, event_id, outcome, order_id, now)
    return outcome


def _refuse_mode(
    conn: duckdb.DuckDBPyConnection, event_id: str, event_type: str, payload: str,
    livemode: bool, now: datetime,
) -> str:  # fmt: skip
    """An event of the other mode than our key (a test-mode payment reaching the live
    shop, or the reverse) is applied to nothing: it is failed, with a critical error-log
    entry (an alert). The order it names, if any, is left as it was, so that a test-mode
    event cannot park a real order; staff can reprocess the event once the key is right."""
    body = json.loads(payload)
    obj = body.get("data", {}).get("object", {})
    order_id = (
        order_state.find_order(conn, facts_from(event_type, obj)) if isinstance(obj, dict) else None
    )
    reason = (
        "a live-mode event, but this sidecar runs in test mode (STRIPE_SECRET_KEY is a test"
        " key, or unset)"
        if not livemode
        else "a test-mode event, but this sidecar runs in live mode (STRIPE_SECRET_KEY is a"
        " live key)"
    )
    inbox.refuse(conn, event_id, f"wrong mode: {reason}; not applied", order_id)
    log_error(
        conn,
        category="payment",
        severity="critical",
        message=f"Stripe event {event_type} refused: {reason}. Nothing was applied. Check"
        " who sent it; if the key is wrong, fix STRIPE_SECRET_KEY and reprocess the event",
        context={"event_livemode": not livemode, "key_livemode": livemode},
        order_id=order_id,
        stripe_event_id=event_id,
        now=now,
        dedupe_key=f"wrong-mode:{event_id}",
    )
    return "wrong_mode"


def _defer(
    conn: duckdb.DuckDBPyConnection, event_id: str, event_type: str, exc: Deferred,
    now: datetime, shared: bool,
) -> str:  # fmt: skip
    (attempts,) = conn.execute(
        "SELECT attempts + 1 FROM webhook_inbox WHERE event_id = ?", [event_id]
    ).fetchone()
    reason = str(exc)
    if attempts < DEFER_ATTEMPTS:
        inbox.defer(
            conn, event_id, f"waiting: {reason}", now + defer_delay(attempts), exc.waiting_for
        )
        return "deferred"
    if shared and not exc.marked:
        inbox.record_not_ours(
            conn, event_id, f"not ours: no marker of ours, and {reason} after"
            f" {attempts} tries", now,
        )  # fmt: skip
        return "not_ours"
    inbox.give_up(conn, event_id, f"gave up after {attempts} tries: {reason}")
    log_error(
        conn,
        category="payment",
        severity="high",
        message=f"Stripe event {event_type} waited {attempts} tries and still could not be"
        f" applied: {reason}. Check the payment in Stripe, then reprocess it or resolve this"
        " entry",
        stripe_event_id=event_id,
        now=now,
        dedupe_key=f"gave-up:{event_id}",
    )
    return "failed"

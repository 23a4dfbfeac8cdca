"""What every Stripe event handler is given and may raise.

Every handler and step in fulfilment is a write function (connection first, no commit) run
by the store's single writer, so each event and each step is applied in one transaction
together with the row that records it as done: a crash before the commit leaves nothing
behind, and the worker simply runs it again. What must happen once is guarded by unique
keys: `fulfilment_steps (order_id, step)`, `events.slot_key`, `bookings (order_item_id,
event_id)`, `holds.order_item_id`, `error_log.dedupe_key`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import duckdb

from core.catalog import Catalog


class Deferred(Exception):
    """The event cannot be applied yet (a refund for a payment not seen yet): try later.
    The transaction still commits, with the deferral recorded, so a handler raises it only
    when what it has written so far is complete on its own (linking ids, say).

    `waiting_for` is the Stripe id (a PaymentIntent, subscription or customer) whose order
    would let it apply: the event is woken as soon as an order with that id is recorded.
    `marked` says whether the object carries a marker of ours: in a shared account, an
    unmarked event that waits in vain ends as not ours rather than failed."""

    def __init__(self, reason: str, waiting_for: str | None = None, marked: bool = True):
        super().__init__(reason)
        self.waiting_for = waiting_for
        self.marked = marked


class NotOurs(Exception):
    """The event is about a payment, invoice or subscription that is not TinkerTank's (a
    shared Stripe account): recorded as not ours, nothing applied, nothing logged."""


class PermanentFailure(Exception):
    """Retrying cannot help (the catalog no longer has the product): fail at once."""


Handler = Callable[[duckdb.DuckDBPyConnection, dict[str, Any], "Context"], None]


class Context:
    def __init__(
        self, catalog: Catalog, now: datetime, event_id: str, received_at: datetime,
        shared: bool = False, lookups: bool = False,
    ) -> None:  # fmt: skip
        self.catalog = catalog
        # STRIPE_ACCOUNT_MODE=shared: payments without a marker of ours are not ours.
        self.shared = shared
        # A Stripe key is set: which invoice a payment paid may be asked of Stripe
        # (fulfilment/payment_invoices.py); without one, only answers stored before count.
        self.lookups = lookups
        self.now = now
        self.event_id = event_id
        self.received_at = received_at
        self.order_id: str | None = None  # the order the event turned out to be about

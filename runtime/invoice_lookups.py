"""The lookup pass: asks Stripe which invoice a PaymentIntent paid, for the events that
wait on a payment nothing of ours names (issues 12 and 16; fulfilment/payment_invoices.py).

A thread beside the fulfilment worker (in the DuckDB store process; on PostgreSQL in the
web process of each sidecar). Every LOOKUP_PASS_SECONDS it claims up to LOOKUP_BATCH
wanted lookups (`store/payment_invoices.py`), asks Stripe for each, one at a time and
outside any transaction (`GET /v1/invoice_payments` filtered by the PaymentIntent, the
invoice expanded), then stores what it learnt in one write, which wakes the waiting
events. Stripe down, slow or failing: the lookup is asked again later (2 s doubling up to
30 minutes) and its events keep waiting. A lookup answered is never asked again, by this
sidecar or another on the same PostgreSQL database.

Only made when STRIPE_SECRET_KEY is set: without one, nothing is asked and events wait
by their rules as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import stripe

from core.catalog import Catalog
from core.clock import utcnow
from core.payment_invoices import PaidInvoice, paid_invoice
from core.settings import Settings
from fulfilment.payment_invoices import record_lookups
from runtime.periodic_pass import PeriodicPass
from store import payment_invoices
from store.database import Database

log = logging.getLogger(__name__)

LOOKUP_PASS_SECONDS = 0.5
# At most this many lookups per pass: a flood of unknown payments is asked in slices, each
# slice's answers stored (and its events woken) before the next is claimed.
LOOKUP_BATCH = 20
# One ask waits this long for Stripe at most (the library's default is 80 s).
ASK_TIMEOUT_SECONDS = 10.0


def lookup_client(settings: Settings) -> stripe.StripeClient | None:
    """The Stripe client the pass asks with; None without STRIPE_SECRET_KEY. No retries of
    its own: a lookup Stripe did not answer is asked again by the pass, later."""
    if not settings.stripe_secret_key:
        return None
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses={"api": settings.stripe_api_base},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=ASK_TIMEOUT_SECONDS),
    )


def ask_stripe(
    client: stripe.StripeClient, payment_intent_id: str, our_prices: set[str]
) -> PaidInvoice:
    """Which invoice the PaymentIntent paid, as Stripe's invoice payments say (one read)."""
    listed = client.v1.invoice_payments.list(
        {
            "payment": {"type": "payment_intent", "payment_intent": payment_intent_id},
            "expand": ["data.invoice"],
        }
    )
    return paid_invoice(listed.to_dict(), payment_intent_id, our_prices)


class InvoiceLookups(PeriodicPass):
    def __init__(
        self,
        database: Database,
        catalog: Catalog,
        client: stripe.StripeClient,
        *,
        every_seconds: float = LOOKUP_PASS_SECONDS,
        batch: int = LOOKUP_BATCH,
        lease_seconds: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        # A full batch asked: the next at once.
        super().__init__("invoice-lookups", every_seconds, lambda asked: asked >= batch, clock)
        self.database = database
        self.client = client
        self.our_prices = {p.stripe_price_id for p in catalog.ignite}
        self.batch = batch
        self.lease = timedelta(seconds=lease_seconds)

    def once(self, now: datetime) -> int:
        """Ask Stripe for the lookups due `now` (up to a batch): the number asked."""
        wanted = self.database.claim(payment_invoices.claim_due, now, self.batch, now + self.lease)
        if not wanted:
            return 0
        answers: dict[str, PaidInvoice] = {}
        failures: dict[str, str] = {}
        started = time.monotonic()
        for payment_intent_id in wanted:
            if self.stopping or time.monotonic() - started > self.lease.total_seconds() / 2:
                break  # the rest stays claimed until the lease ends, then is due again
            try:
                answers[payment_intent_id] = ask_stripe(
                    self.client, payment_intent_id, self.our_prices
                )
            except Exception as exc:  # down, 5xx, a timeout, a refusal: asked again later
                log.warning("which invoice %s paid: %s", payment_intent_id, exc)
                failures[payment_intent_id] = f"{type(exc).__name__}: {exc}"
        woken = self.database.submit_background(
            record_lookups, answers, failures, self.clock()
        ).result()
        if answers:
            log.info("invoice lookups: %d answered, %d events woken", len(answers), woken)
        return len(wanted)

"""The work a store does beside its requests, on either backend: the fulfilment worker,
the outbox sender, the waitlist's offer pass and, with a Stripe key, the invoice lookup
pass, each a thread over the one database (started by the DuckDB store process,
`runtime/store_process.py`, and on PostgreSQL by the web process itself,
`runtime/local_store.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from core.catalog import Catalog
from core.settings import Settings
from fulfilment import waitlist_offers
from fulfilment.worker import RetryPolicy, Worker
from runtime.invoice_lookups import InvoiceLookups, lookup_client
from runtime.waitlist_loop import WaitlistLoop
from senders.sender import Sender
from store.database import Database


@dataclass
class Background:
    """The threads, made and not yet started; `lookups` is None without a Stripe key."""

    worker: Worker
    sender: Sender
    offers: WaitlistLoop
    lookups: InvoiceLookups | None

    def start(self) -> None:
        self.worker.start()
        self.sender.start()
        self.offers.start()
        if self.lookups is not None:
            self.lookups.start()

    def stop(self, timeout: float = 30) -> None:
        """In the reverse order: nothing started later is left running on its own."""
        if self.lookups is not None:
            self.lookups.stop(timeout)
        self.offers.stop(timeout)
        self.sender.stop(timeout)
        self.worker.stop(timeout)


def background_work(database: Database, settings: Settings, catalog: Catalog) -> Background:
    """The worker, the sender, the offer pass and the lookup pass, made and not yet started."""
    client = lookup_client(settings)
    worker = Worker(
        database,
        catalog,
        RetryPolicy(base_seconds=settings.fulfilment_retry_seconds),
        livemode=settings.stripe_livemode,
        shared=settings.shared_account,
        lookups=client is not None,
        faults=settings.fault_drill,
        lease_seconds=settings.work_lease_seconds,
    )
    sender = Sender(database, settings, catalog)
    waitlist_offers.use_catalog(catalog)
    lookups = (
        InvoiceLookups(database, catalog, client, lease_seconds=settings.work_lease_seconds)
        if client is not None
        else None
    )
    return Background(worker, sender, WaitlistLoop(database, catalog), lookups)

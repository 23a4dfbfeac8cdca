"""The work a store does beside its requests, on either backend: the fulfilment worker,
the outbox sender, the periodic passes (the waitlist's offers, the inbox's archive) and,
with a Stripe key, the invoice lookup pass, each a thread over the one database (started by
the DuckDB store process, `runtime/store_process.py`, and on PostgreSQL by the web process
itself, `runtime/local_store.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from core.catalog import Catalog
from core.settings import Settings
from fulfilment import waitlist_offers
from fulfilment.worker import RetryPolicy, Worker
from runtime.invoice_lookups import InvoiceLookups, lookup_client
from runtime.periodic_pass import ARCHIVE_PASS_SECONDS, OFFER_PASS_SECONDS, PeriodicPass, WriterPass
from senders.sender import Sender
from store import inbox_archive
from store.database import Database


@dataclass
class Background:
    """The threads, made and not yet started: the periodic passes include the invoice
    lookup pass when there is a Stripe key."""

    worker: Worker
    sender: Sender
    passes: list[PeriodicPass]

    def start(self) -> None:
        self.worker.start()
        self.sender.start()
        for each in self.passes:
            each.start()

    def stop(self, timeout: float = 30) -> None:
        """In the reverse order: nothing started later is left running on its own."""
        for each in reversed(self.passes):
            each.stop(timeout)
        self.sender.stop(timeout)
        self.worker.stop(timeout)


def background_work(database: Database, settings: Settings, catalog: Catalog) -> Background:
    """The worker, the sender, the periodic passes and the lookup pass, made and not yet
    started."""
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
    passes: list[PeriodicPass] = [
        WriterPass(database, "waitlist-offers", waitlist_offers.offer_places, (catalog,),
                   OFFER_PASS_SECONDS),
        WriterPass(database, "inbox-archive", inbox_archive.move_finished, (),
                   ARCHIVE_PASS_SECONDS, again=lambda moved: moved >= inbox_archive.BATCH),
    ]  # fmt: skip
    if client is not None:
        passes.append(
            InvoiceLookups(database, catalog, client, lease_seconds=settings.work_lease_seconds)
        )
    return Background(worker, sender, passes)

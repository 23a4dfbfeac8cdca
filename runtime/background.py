"""The work a store does beside its requests, on either backend: the fulfilment worker,
the outbox sender, the waitlist's offer pass and the inbox's archive pass, each a thread
over the one database
(started by the DuckDB store process, `runtime/store_process.py`, and on PostgreSQL by the
web process itself, `runtime/local_store.py`)."""

from __future__ import annotations

from core.catalog import Catalog
from core.settings import Settings
from fulfilment import waitlist_offers
from fulfilment.worker import RetryPolicy, Worker
from runtime.periodic_pass import ARCHIVE_PASS_SECONDS, OFFER_PASS_SECONDS, PeriodicPass
from senders.sender import Sender
from store import inbox_archive
from store.database import Database


def background_work(
    database: Database, settings: Settings, catalog: Catalog
) -> tuple[Worker, Sender, list[PeriodicPass]]:
    """The worker, the sender and the periodic passes, made and not yet started."""
    worker = Worker(
        database,
        catalog,
        RetryPolicy(base_seconds=settings.fulfilment_retry_seconds),
        livemode=settings.stripe_livemode,
        shared=settings.shared_account,
        faults=settings.fault_drill,
        lease_seconds=settings.work_lease_seconds,
    )
    sender = Sender(database, settings, catalog)
    waitlist_offers.use_catalog(catalog)
    passes = [
        PeriodicPass(database, "waitlist-offers", waitlist_offers.offer_places, (catalog,),
                     OFFER_PASS_SECONDS),
        PeriodicPass(database, "inbox-archive", inbox_archive.move_finished, (),
                     ARCHIVE_PASS_SECONDS, again=lambda moved: moved >= inbox_archive.BATCH),
    ]  # fmt: skip
    return worker, sender, passes

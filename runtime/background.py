"""The work a store does beside its requests, on either backend: the fulfilment worker,
the outbox sender and the waitlist's offer pass, each a thread over the one database
(started by the DuckDB store process, `runtime/store_process.py`, and on PostgreSQL by the
web process itself, `runtime/local_store.py`)."""

from __future__ import annotations

from core.catalog import Catalog
from core.settings import Settings
from fulfilment import waitlist_offers
from fulfilment.worker import RetryPolicy, Worker
from runtime.waitlist_loop import WaitlistLoop
from senders.sender import Sender
from store.database import Database


def background_work(
    database: Database, settings: Settings, catalog: Catalog
) -> tuple[Worker, Sender, WaitlistLoop]:
    """The worker, the sender and the offer pass, made and not yet started."""
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
    return worker, sender, WaitlistLoop(database, catalog)

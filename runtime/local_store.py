"""The store in the web process: PostgreSQL needs no store process.

On DuckDB one process must own the file, so the sidecar starts a store process
(`runtime/store_process.py`) and talks to it over a socket. On PostgreSQL the server does
the concurrency: the web process opens the database itself (`Database`: its writer thread,
group commit, the readers' pool) and runs the fulfilment worker, the sender, the
waitlist's offer pass, the inbox's archive pass and the invoice lookup pass as threads
beside the event loop, claiming their work so that several sidecars on one database do
each piece once (`store/locks.py`).

`LocalStore` answers the calls the app makes of `StoreClient` (`awrite`, `aread`,
`probe`, `astatus`, …), so the app is the same on both backends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable

from core.catalog import Catalog
from core.clock import utcnow
from core.settings import Settings
from runtime.background import Background, background_work
from store.database import Database, DatabaseUnavailable, StoreStatus
from store.recurring import sync_templates


class LocalStore:
    """The database and its background threads, in this process."""

    SHUTTING_DOWN = "the sidecar is shutting down"

    def __init__(self, database: Database, background: Background):
        self.database = database
        self.background = background
        self.worker = background.worker
        self.down: str | None = None
        # Called once if the writer thread stops: nothing can be stored any more, so the
        # sidecar stops serving (exit 3, as on DuckDB when its store process dies) and its
        # supervisor restarts it, rather than answering 503 until someone notices.
        self.on_down: Callable[[str], None] | None = None
        self._watch = threading.Event()
        self._watcher = threading.Thread(
            target=self._watch_writer, name="writer-watch", daemon=True
        )
        # The app's calls go straight to the database.
        self.awrite = database.awrite
        self.awrite_batched = database.awrite_batched
        self.aread = database.aread
        self.probe = database.probe

    @classmethod
    def open(cls, settings: Settings, catalog: Catalog) -> LocalStore:
        """Open the database (migrating it under its advisory lock), sync the recurring
        templates and start the worker, the sender, the offer pass and the lookup pass."""
        database = Database.open(settings.database, settings.duckdb_memory_limit)
        try:
            database.write(sync_templates, catalog, utcnow())
        except Exception as exc:
            database.close()
            raise DatabaseUnavailable(f"cannot sync recurring templates: {exc}") from None
        background = background_work(database, settings, catalog)
        background.start()
        store = cls(database, background)
        store._watcher.start()
        return store

    WRITER_STOPPED = "the database writer thread has stopped"

    def _watch_writer(self, every: float = 1.0) -> None:
        while not self._watch.wait(every):
            if not self.database.writer_alive and self.down is None:
                self.down = self.WRITER_STOPPED
                if self.on_down is not None:
                    self.on_down(self.down)
                return

    async def connect(self) -> None:
        """Nothing to connect: the database is in this process."""

    def status(self) -> StoreStatus:
        return dataclasses.replace(self.database.status(), worker=self.worker.problem())

    async def astatus(self) -> StoreStatus:
        return self.status()

    async def aclose(self, timeout: float = 30) -> None:
        self.down = self.down or self.SHUTTING_DOWN
        await asyncio.to_thread(self.close, timeout)

    def close(self, timeout: float = 30) -> None:
        """Stop the threads, then the writer after its queue. What was claimed and not done
        is due again for the other sidecars once this process's connections are closed
        (store/locks.py), and for a restarted one."""
        self._watch.set()
        self.background.stop(timeout)
        self.database.close(timeout)

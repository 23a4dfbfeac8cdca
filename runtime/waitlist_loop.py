"""The waitlist's offer pass, every OFFER_PASS_SECONDS in the store process.

Holds lapse by themselves (a hold counts until its `expires_at`; nothing marks it), so
this is where a lapsed waitlist offer passes its place on, and where an offer paid for is
marked booked (`fulfilment.waitlist_offers.offer_places`). The first pass runs at start,
so offers that lapsed while the sidecar was down pass on at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from core.catalog import Catalog
from core.clock import utcnow
from fulfilment.waitlist_offers import offer_places
from store.database import Database

log = logging.getLogger(__name__)

OFFER_PASS_SECONDS = 30.0


class WaitlistLoop:
    def __init__(
        self,
        database: Database,
        catalog: Catalog,
        every_seconds: float = OFFER_PASS_SECONDS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.catalog = catalog
        self.every_seconds = every_seconds
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="waitlist-offers", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.database.submit_background(
                    offer_places, self.catalog, self.clock()
                ).result()
                if any(done.values()):
                    log.info("waitlist offers: %s", done)
            except Exception:
                log.exception("the waitlist offer pass failed")
            self._stop.wait(self.every_seconds)

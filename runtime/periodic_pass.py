"""Writer work done every so often in the store process (runtime/background.py):

- the waitlist's offer pass, every `OFFER_PASS_SECONDS`. Holds lapse by themselves (a hold
  counts until its `expires_at`; nothing marks it), so this is where a lapsed waitlist offer
  passes its place on, and where an offer paid for is marked booked
  (`fulfilment.waitlist_offers.offer_places`);
- the inbox's archive pass, every `ARCHIVE_PASS_SECONDS`: events finished more than 35 days
  ago move out of the inbox (`store.inbox_archive.move_finished`), a batch per transaction,
  one batch after another while there are full batches to move.

Both are `WriterPass`es: each runs once at start (offers that lapsed while the sidecar
was down pass on at once) and rides along with the writer's commits as background work, so
a webhook's acknowledgement never waits behind it. The invoice lookup pass
(runtime/invoice_lookups.py), which asks Stripe outside the writer, is a `PeriodicPass` of
its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from core.clock import utcnow
from store.database import Database

log = logging.getLogger(__name__)

OFFER_PASS_SECONDS = 30.0
ARCHIVE_PASS_SECONDS = 600.0


class PeriodicPass:
    """A thread that runs `once(now)` every `every_seconds`, and at once again while
    `again(result)` says there is more to do. A pass that fails is logged and tried at the
    next turn."""

    def __init__(
        self,
        name: str,
        every_seconds: float,
        again: Callable[[Any], bool] = lambda result: False,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.name = name
        self.every_seconds = every_seconds
        self.again = again
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def once(self, now: datetime) -> Any:
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            more = False
            try:
                more = self.again(self.once(self.clock()))
            except Exception:
                log.exception("the %s pass failed", self.name)
            if not more:
                self._stop.wait(self.every_seconds)


class WriterPass(PeriodicPass):
    """`work(conn, *args, now)` through the writer, as background work."""

    def __init__(
        self,
        database: Database,
        name: str,
        work: Callable[..., Any],
        args: tuple[Any, ...] = (),
        every_seconds: float = OFFER_PASS_SECONDS,
        again: Callable[[Any], bool] = lambda result: False,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(name, every_seconds, again, clock)
        self.database = database
        self.work, self.args = work, args

    def once(self, now: datetime) -> Any:
        done = self.database.submit_background(self.work, *self.args, now).result()
        if done and (not isinstance(done, dict) or any(done.values())):
            log.info("%s: %s", self.name, done)
        return done

"""The sidecar's watchdog: every WATCH_EVERY_SECONDS it looks at the inbox and its own
readiness, asks `core.watchdog` what holds, and writes one high error-log entry per
episode (`watch:<name>:<start>`), which the sender turns into the usual alert (Slack,
ALERT_EMAILS). What holds now is shown on the Live page (`GET /api/kpis`, `watch`).

A store that does not answer cannot take the entry: it is tried again at each check, so
an outage of the store is reported once the store is back (and `/readyz` says so at once).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from core import clock
from core import watchdog as decide
from core.settings import Settings
from runtime.store_client import StoreClient
from sidecar import health
from store import error_log
from store import watchdog as reads
from store.database import Database

log = logging.getLogger(__name__)

# What every sidecar on one database sees alike: the backlog. Each sidecar's episode begins
# at the minute it noticed, so their keys differ; an open alert of the same watch written
# within this long is taken as the same episode, and the others write none. (`/readyz` is
# each sidecar's own, and a quiet spell is keyed by the last delivery, the same for all.)
SHARED_WATCHES = frozenset({"backlog"})
SHARED_EPISODE = timedelta(hours=1)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None else None


class Watchdog:
    def __init__(self, settings: Settings, database: StoreClient | Database) -> None:
        self.settings = settings
        self.database = database
        self.limits = settings.watch_limits
        self.started = clock.now()
        self.state = decide.WatchState()
        self.last: decide.Observation | None = None

    async def run_forever(self) -> None:
        while True:
            try:
                await self.tick(clock.now())
            except Exception:
                log.exception("the watchdog's check failed")
            await asyncio.sleep(self.settings.watch_every_seconds)

    async def observe(self, now: datetime) -> decide.Observation:
        results = await health.checks(self.database)
        failed = [f"{name}: {check.reason}" for name, check in results.items() if not check.ok]
        try:
            seen = await self.database.aread(
                reads.figures, now.astimezone(UTC).replace(tzinfo=None)
            )
        except Exception as exc:
            log.warning("watchdog: the store did not answer: %s", exc)
            seen = {"last_delivery": None, "backlog": None, "oldest_backlog_seconds": None}
            if not failed:
                failed = ["database: store_unavailable"]
        return decide.Observation(
            now=now,
            started=self.started,
            # Unknown (the store did not answer) is not "never": no quiet-spell alert then.
            last_delivery=_aware(seen["last_delivery"])
            or (now if seen["backlog"] is None else None),
            backlog=seen["backlog"],
            oldest_waiting_seconds=seen["oldest_backlog_seconds"],
            ready=not failed,
            not_ready_reason=", ".join(failed) or None,
        )

    async def tick(self, now: datetime) -> None:
        seen = await self.observe(now)
        self.last = seen
        state, alerts = decide.check(self.state, seen, self.limits, self.settings.tz)
        self.state = state
        stored = []
        for alert in alerts:
            entry = {
                "category": "system",
                "severity": "high",
                "message": alert.message,
                "context": {"watch": alert.watch},
                "dedupe_key": alert.dedupe_key,
            }
            at = now.astimezone(UTC).replace(tzinfo=None)
            try:
                if alert.watch in SHARED_WATCHES:
                    await self.database.awrite(
                        error_log.log_shared_watch, entry, at, at - SHARED_EPISODE
                    )
                else:
                    await self.database.awrite(error_log.log_entry, entry, at)
            except Exception as exc:  # tried again at the next check
                log.error("watchdog alert %s not logged: %s", alert.dedupe_key, exc)
                continue
            stored.append(alert)
        self.state = decide.written(self.state, stored)

    def live(self) -> list[dict[str, Any]]:
        """For the Live page: each watch that holds now, since when and why."""
        if self.last is None:
            return []
        found = decide.active(self.state, self.last, self.limits, self.settings.tz)
        return [{**item, "since": item["since"].astimezone(UTC).isoformat()} for item in found]

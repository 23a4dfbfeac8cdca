"""The sidecar's own daily summary and reminders, so that nothing depends on cron.

Every TICK_SECONDS the sidecar asks `core.schedule_runs` whether a run is due, at local
times in TIMEZONE (SUMMARY_AT, REMINDERS_EVERY_MINUTES), and runs the same code as
`POST /api/summaries/run` and `POST /api/reminders/run` (what `tinkertank summary` and
`tinkertank remind` call; they stay for manual and backup runs). Several sidecars, or a
manual run besides, post a day's summary and each reminder once: the outbox keys
`summary:<date>` and `reminder:<booking>` admit one message each.

A summary still not done half an hour after SUMMARY_AT (the sidecar was down, or the run
failed) is written to the error log, high severity, once per day, so staff see it; the
sidecar then runs it as soon as it can. What ran last is in the staff `GET /api/health`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import date, datetime, timedelta
from typing import Any

from core import clock, schedule_runs, summary
from core.catalog import Catalog
from core.settings import Settings
from runtime.store_client import StoreClient
from sidecar import sms
from sidecar.summaries_api import store_day
from store import error_log, reminders, summaries
from store.database import Database

log = logging.getLogger(__name__)

TICK_SECONDS = 30.0


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class ScheduledRuns:
    def __init__(
        self, settings: Settings, catalog: Catalog, database: StoreClient | Database
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.database = database
        minutes = settings.reminders_every_minutes
        self.reminders_every = timedelta(minutes=minutes) if minutes else None
        self.summary_done: date | None = None  # the last day this process ran
        self.last: dict[str, dict[str, Any] | None] = {"summary": None, "reminders": None}
        self.reminders_ran_at: datetime | None = None

    @property
    def enabled(self) -> bool:
        return self.settings.summary_at is not None or self.reminders_every is not None

    async def run_forever(self) -> None:
        while self.enabled:
            await self.tick(clock.now())
            await asyncio.sleep(TICK_SECONDS)

    async def tick(self, now: datetime) -> None:
        """Run whatever is due at `now`; a failure is logged and tried again next tick."""
        for name, job in (("summary", self.summary), ("reminders", self.reminders)):
            try:
                await job(now)
            except Exception as exc:
                log.exception("the scheduled %s run failed", name)
                self.last[name] = {"ran_at": _iso(now), "error": f"{type(exc).__name__}: {exc}"}

    async def summary(self, now: datetime) -> None:
        at, tz = self.settings.summary_at, self.settings.tz
        if at is None:
            return
        post = self.settings.slack_webhook_url is not None
        last_day = await self.database.aread(summaries.last_done, summary.yesterday(now, tz), post)
        if self.summary_done is not None and (last_day is None or last_day < self.summary_done):
            last_day = self.summary_done
        missed = schedule_runs.summary_missed(now, tz, at, last_day)
        if missed is not None:
            await self.database.awrite(
                functools.partial(  # awrite passes arguments by position only
                    error_log.log_error,
                    category="system",
                    severity="high",
                    message=f"the daily summary for {missed} was not done by {at:%H:%M}"
                    f" + {schedule_runs.MISSED_AFTER.seconds // 60} min ({tz.key}): the sidecar"
                    " was not running, or the run failed; it runs as soon as it can",
                    now=now.replace(tzinfo=None),
                    step="daily_summary",
                    dedupe_key=f"schedule:summary:{missed}",
                )
            )
        day = schedule_runs.summary_due(now, tz, at, last_day)
        if day is None:
            return
        result = await store_day(self.database, self.catalog, day, now, post, force=False)
        self.summary_done = day
        self.last["summary"] = {"date": day.isoformat(), "ran_at": _iso(now),
                                "posted": result["posted"]}  # fmt: skip
        log.info("scheduled summary for %s stored (posted: %s)", day, result["posted"])

    async def reminders(self, now: datetime) -> None:
        if not schedule_runs.reminders_due(now, self.reminders_every, self.reminders_ran_at):
            return
        self.reminders_ran_at = now  # a failed run waits for the next interval too
        queued = await self.database.awrite(
            reminders.queue_reminders, now.replace(tzinfo=None), reminders.DEFAULT_WINDOW
        )
        texts = await sms.queue_reminder_texts(self.database, self.settings, now)
        self.last["reminders"] = {"ran_at": _iso(now), "queued": queued, "sms_queued": texts}

    def report(self) -> dict[str, Any]:
        """For the staff `GET /api/health`: what is configured and what ran last here."""
        at = self.settings.summary_at
        return {
            "timezone": self.settings.timezone,
            "summary_at": at.strftime("%H:%M") if at else "off",
            "reminders_every_minutes": self.settings.reminders_every_minutes,
            "last_summary": self.last["summary"],
            "last_reminders": self.last["reminders"],
        }

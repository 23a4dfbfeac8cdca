"""When the sidecar runs the daily summary and the reminders by itself.

Cron on a UTC server without `CRON_TZ` posts a "07:00" summary at 18:00 in Sydney, and
nothing notices a run that never happened. So the sidecar asks these functions every half
minute instead, with the business time zone's local time: a summary is due once the local
clock has passed `SUMMARY_AT` and yesterday's summary is not done yet. Comparing local wall
times keeps 07:00 at 07:00 across daylight-saving changes (on the morning a local time does
not exist, the first minute after it counts). A sidecar that was down at 07:00 runs the
summary when it starts (catch-up); one that starts at 06:00 waits.

Exactly once per day, with several sidecars and a manual `tinkertank summary` besides, is
the store's business (the outbox key `summary:<date>`); these only say what is due.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A summary not done this long after SUMMARY_AT is reported as missed.
MISSED_AFTER = timedelta(minutes=30)

OFF = "off"
_LOCAL_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def parse_local_time(text: str) -> time | None:
    """`07:00` as a time of day, `off` as None; ValueError for anything else."""
    text = text.strip()
    if text.lower() == OFF:
        return None
    match = _LOCAL_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a local time HH:MM (00:00..23:59) or 'off'")
    return time(int(match.group(1)), int(match.group(2)))


def _yesterday_if_past(now: datetime, tz: ZoneInfo, at: time) -> date | None:
    """Yesterday's local date once today's local clock reads `at` or later, else None."""
    local = now.astimezone(tz)
    if local.time().replace(tzinfo=None) < at:
        return None
    return local.date() - timedelta(days=1)


def summary_due(now: datetime, tz: ZoneInfo, at: time, last_day: date | None) -> date | None:
    """The business day whose summary should run now, or None.

    `now` is aware; `at` the configured local time; `last_day` the latest business day
    whose summary is done (None: none is). The day is always yesterday: an older day left
    out while the sidecar was down is for staff to run by hand."""
    day = _yesterday_if_past(now, tz, at)
    if day is None or (last_day is not None and last_day >= day):
        return None
    return day


def summary_missed(now: datetime, tz: ZoneInfo, at: time, last_day: date | None) -> date | None:
    """The business day whose summary is still not done MISSED_AFTER past `at`, or None."""
    local = now.astimezone(tz)
    deadline = datetime.combine(local.date(), at, tz) + MISSED_AFTER
    if now < deadline:
        return None
    return summary_due(now, tz, at, last_day)


def reminders_due(now: datetime, every: timedelta | None, last_run: datetime | None) -> bool:
    """Whether the reminders should run now: every `every` (None: never), first at once."""
    if every is None:
        return False
    return last_run is None or now - last_run >= every

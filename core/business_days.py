"""Business days: a local date in the business time zone, as the UTC instants the store keeps.

Staff think in Sydney days ("today's orders", "events in March"); the store keeps naive
UTC. A day runs from local midnight to the next local midnight, which is 23, 24 or 25
hours long around daylight-saving changes, so the bounds are computed per date, never as
"start + 24 h".

Pure: the caller passes `now` and `tz`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo


def local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    """The naive-UTC instant at which `day` begins in `tz`."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def utc_bounds(first: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The naive-UTC half-open range [start, stop) covering the local days `first` up to,
    not including, `end`."""
    return local_midnight_utc(first, tz), local_midnight_utc(end, tz)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The naive-UTC half-open range of one local day."""
    return utc_bounds(day, date.fromordinal(day.toordinal() + 1), tz)


def local_today(now: datetime, tz: ZoneInfo) -> date:
    """The business day `now` (aware, or naive UTC) falls on."""
    aware = now if now.tzinfo else now.replace(tzinfo=UTC)
    return aware.astimezone(tz).date()

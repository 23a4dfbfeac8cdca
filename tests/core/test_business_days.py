"""Business days in Sydney, as the UTC instants the store keeps."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from core.business_days import day_bounds, local_midnight_utc, local_today, utc_bounds

SYDNEY = ZoneInfo("Australia/Sydney")


@pytest.mark.parametrize(
    ("day", "start", "hours"),
    [
        (date(2027, 1, 18), datetime(2027, 1, 17, 13), 24),  # summer: UTC+11
        (date(2027, 6, 1), datetime(2027, 5, 31, 14), 24),  # winter: UTC+10
        (date(2027, 4, 4), datetime(2027, 4, 3, 13), 25),  # daylight saving ends
        (date(2027, 10, 3), datetime(2027, 10, 2, 14), 23),  # daylight saving starts
    ],
)
def test_a_business_day_runs_from_local_midnight_to_the_next(day, start, hours):
    first, stop = day_bounds(day, SYDNEY)

    assert first == start
    assert (stop - first).total_seconds() == hours * 3600
    assert first.tzinfo is None and stop.tzinfo is None  # naive UTC, as stored


def test_a_range_of_days_ends_at_the_midnight_of_its_end_day():
    first, stop = utc_bounds(date(2027, 1, 1), date(2027, 2, 1), SYDNEY)

    assert (first, stop) == (datetime(2026, 12, 31, 13), datetime(2027, 1, 31, 13))
    assert local_midnight_utc(date(2027, 2, 1), SYDNEY) == stop


@pytest.mark.parametrize(
    ("now", "today"),
    [
        (datetime(2027, 1, 17, 12, 59), date(2027, 1, 17)),  # naive UTC
        (datetime(2027, 1, 17, 13, 0), date(2027, 1, 18)),  # Sydney's midnight
        (datetime(2027, 1, 18, 0, 0, tzinfo=SYDNEY), date(2027, 1, 18)),  # aware
    ],
)
def test_today_is_the_local_date_of_now(now, today):
    assert local_today(now, SYDNEY) == today

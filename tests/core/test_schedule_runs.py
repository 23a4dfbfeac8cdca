"""When the sidecar's own summary and reminder runs are due (core/schedule_runs.py), on
injected clocks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.schedule_runs import parse_local_time, reminders_due, summary_due, summary_missed

SYDNEY = ZoneInfo("Australia/Sydney")
SEVEN = time(7, 0)


def sydney(*args: int) -> datetime:
    return datetime(*args, tzinfo=SYDNEY)


def test_the_summary_waits_for_the_local_time_then_runs_for_yesterday() -> None:
    assert summary_due(sydney(2026, 11, 26, 6, 59), SYDNEY, SEVEN, None) is None
    assert summary_due(sydney(2026, 11, 26, 7, 0), SYDNEY, SEVEN, None) == date(2026, 11, 25)


def test_a_day_done_is_not_due_again() -> None:
    now = sydney(2026, 11, 26, 7, 0, 30)
    assert summary_due(now, SYDNEY, SEVEN, date(2026, 11, 25)) is None
    assert summary_due(now, SYDNEY, SEVEN, date(2026, 11, 24)) == date(2026, 11, 25)


def test_a_sidecar_down_at_seven_catches_up_when_it_starts() -> None:
    assert summary_due(sydney(2026, 11, 26, 9, 30), SYDNEY, SEVEN, date(2026, 11, 24)) == date(
        2026, 11, 25
    )


def test_a_sidecar_that_starts_at_six_waits() -> None:
    assert summary_due(sydney(2026, 11, 26, 6, 0), SYDNEY, SEVEN, date(2026, 11, 24)) is None


def test_the_local_time_is_read_in_the_business_zone_not_utc() -> None:
    # 07:00 UTC is 18:00 in Sydney: cron's mistake. 20:00 UTC the day before is 07:00 here.
    assert summary_due(datetime(2026, 11, 25, 20, 0, tzinfo=UTC), SYDNEY, SEVEN, None) == date(
        2026, 11, 25
    )
    assert summary_due(datetime(2026, 11, 25, 19, 59, tzinfo=UTC), SYDNEY, SEVEN, None) is None


@pytest.mark.parametrize(
    ("change", "utc_offset_after"),
    [(date(2026, 10, 4), 11), (date(2026, 4, 5), 10)],  # clocks forward, clocks back
)
def test_seven_stays_seven_on_the_day_the_clocks_change(
    change: date, utc_offset_after: int
) -> None:
    seven_local_utc = datetime.combine(change, SEVEN) - timedelta(hours=utc_offset_after)
    seven = seven_local_utc.replace(tzinfo=UTC)
    before = change - timedelta(days=1)
    assert summary_due(seven - timedelta(minutes=1), SYDNEY, SEVEN, None) is None
    assert summary_due(seven, SYDNEY, SEVEN, None) == before


def test_a_local_time_the_clocks_skip_runs_at_the_first_minute_after_it() -> None:
    # Sydney, 4 October 2026: 02:00 becomes 03:00, so 02:30 never happens.
    half_past_two = time(2, 30)
    assert summary_due(sydney(2026, 10, 4, 1, 59), SYDNEY, half_past_two, None) is None
    assert summary_due(sydney(2026, 10, 4, 3, 0), SYDNEY, half_past_two, None) == date(2026, 10, 3)


def test_a_summary_not_done_half_an_hour_after_its_time_is_missed() -> None:
    assert summary_missed(sydney(2026, 11, 26, 7, 29), SYDNEY, SEVEN, None) is None
    assert summary_missed(sydney(2026, 11, 26, 7, 30), SYDNEY, SEVEN, None) == date(2026, 11, 25)
    assert summary_missed(sydney(2026, 11, 26, 7, 30), SYDNEY, SEVEN, date(2026, 11, 25)) is None


def test_reminders_run_at_once_then_every_interval() -> None:
    now = sydney(2026, 11, 26, 10, 0)
    hour = timedelta(hours=1)
    assert reminders_due(now, hour, None)
    assert not reminders_due(now, hour, now - timedelta(minutes=59))
    assert reminders_due(now, hour, now - hour)
    assert not reminders_due(now, None, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("07:00", time(7, 0)), ("7:05", time(7, 5)), ("23:59", time(23, 59)), ("off", None),
     (" OFF ", None)],
)  # fmt: skip
def test_local_times(text: str, expected: time | None) -> None:
    assert parse_local_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "7", "07:60", "seven", "07:00:00", ""])
def test_not_local_times(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_local_time(text)

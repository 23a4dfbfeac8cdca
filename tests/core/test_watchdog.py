"""The watchdog's decisions (core/watchdog.py): what holds, and one alert per episode."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core import watchdog as w

SYDNEY = ZoneInfo("Australia/Sydney")
TEN_AM = datetime(2026, 11, 26, 10, 0, tzinfo=SYDNEY)
LIMITS = w.WatchLimits(no_delivery_minutes=60, trading_hours=(time(8), time(20)),
                       backlog_events=100, lag_seconds=300, readyz_seconds=120)  # fmt: skip


def seen(now: datetime, **changes) -> w.Observation:
    base = dict(now=now, started=TEN_AM - timedelta(days=1), last_delivery=now,
                backlog=0, oldest_waiting_seconds=None, ready=True)  # fmt: skip
    base.update(changes)
    return w.Observation(**base)


def run(observations: list[w.Observation]) -> list[w.Alert]:
    state, everything = w.WatchState(), []
    for observation in observations:
        state, alerts = w.check(state, observation, LIMITS, SYDNEY)
        state = w.written(state, alerts)
        everything += alerts
    return everything


def test_a_quiet_hour_in_trading_hours_alerts_once_for_the_whole_spell():
    last = TEN_AM - timedelta(minutes=30)
    checks = [seen(TEN_AM + timedelta(minutes=m), last_delivery=last) for m in range(0, 120, 5)]
    alerts = run(checks)
    assert [a.watch for a in alerts] == ["no_delivery"]
    assert alerts[0].dedupe_key == "watch:no_delivery:2026-11-26T09:30+11:00"
    assert "no Stripe webhook delivery since Thu 26 Nov 09:30" in alerts[0].message


def test_a_delivery_ends_the_episode_and_the_next_silence_alerts_again():
    first = TEN_AM - timedelta(hours=2)
    later = TEN_AM + timedelta(minutes=10)
    alerts = run([seen(TEN_AM, last_delivery=first),
                  seen(TEN_AM + timedelta(minutes=10), last_delivery=later),
                  seen(TEN_AM + timedelta(minutes=80), last_delivery=later)])  # fmt: skip
    assert [a.dedupe_key.split("T")[1][:5] for a in alerts] == ["08:00", "10:10"]


def test_silence_outside_trading_hours_or_when_off_does_not_alert():
    night = datetime(2026, 11, 26, 23, 0, tzinfo=SYDNEY)
    assert run([seen(night, last_delivery=night - timedelta(hours=5))]) == []
    off = w.WatchLimits(no_delivery_minutes=0)
    quiet = seen(TEN_AM, last_delivery=TEN_AM - timedelta(hours=5))
    assert w.check(w.WatchState(), quiet, off, SYDNEY)[1] == []


def test_a_fresh_install_counts_from_the_sidecars_start():
    started = TEN_AM - timedelta(minutes=30)
    assert run([seen(TEN_AM, last_delivery=None, started=started)]) == []
    (alert,) = run([seen(TEN_AM + timedelta(minutes=31), last_delivery=None, started=started)])
    assert "none since the sidecar started" in alert.message


def test_trading_hours_are_local_time_across_daylight_saving():
    # 07:30 UTC is 18:30 in Sydney in summer (in hours) and 17:30 in winter (in hours);
    # 10:30 UTC is 21:30 in summer (out) and 20:30 in winter (out).
    assert w.in_trading_hours(
        datetime.fromisoformat("2026-12-01T07:30Z"), SYDNEY, LIMITS.trading_hours
    )
    assert not w.in_trading_hours(
        datetime.fromisoformat("2026-12-01T10:30Z"), SYDNEY, LIMITS.trading_hours
    )
    assert not w.in_trading_hours(
        datetime.fromisoformat("2027-06-01T10:30Z"), SYDNEY, LIMITS.trading_hours
    )


def test_a_backlog_alerts_once_per_episode_by_size_or_by_age():
    big = [seen(TEN_AM + timedelta(minutes=m), backlog=500, oldest_waiting_seconds=20)
           for m in range(5)]  # fmt: skip
    drained = [seen(TEN_AM + timedelta(minutes=6))]
    old = [seen(TEN_AM + timedelta(minutes=7 + m), backlog=3, oldest_waiting_seconds=900)
           for m in range(3)]  # fmt: skip
    alerts = run(big + drained + old)
    assert [a.watch for a in alerts] == ["backlog", "backlog"]
    assert [a.dedupe_key.split("T")[1][:5] for a in alerts] == ["10:00", "10:07"]
    burst = [seen(TEN_AM, backlog=5000), seen(TEN_AM + timedelta(seconds=30), backlog=900),
             seen(TEN_AM + timedelta(seconds=60), backlog=0)]  # fmt: skip
    assert run(burst) == []  # caught up within the minute
    assert "500 Stripe events wait" in alerts[0].message
    assert "the oldest for 900 s" in alerts[1].message


def test_readyz_alerts_only_after_failing_for_the_period():
    reason = "worker: worker_stopped"
    failing = [seen(TEN_AM + timedelta(seconds=s), ready=False, not_ready_reason=reason)
               for s in range(0, 300, 30)]  # fmt: skip
    alerts = run(failing)
    assert len(alerts) == 1
    assert alerts[0].watch == "not_ready"
    assert "worker_stopped" in alerts[0].message
    short = [seen(TEN_AM, ready=False), seen(TEN_AM + timedelta(seconds=60), ready=False),
             seen(TEN_AM + timedelta(seconds=90))]  # fmt: skip
    assert run(short) == []


def test_an_alert_not_written_is_offered_again():
    quiet = seen(TEN_AM, last_delivery=TEN_AM - timedelta(hours=3))
    state, alerts = w.check(w.WatchState(), quiet, LIMITS, SYDNEY)
    assert len(alerts) == 1  # the caller could not store it: not passed to `written`
    _, again = w.check(state, quiet, LIMITS, SYDNEY)
    assert [a.dedupe_key for a in again] == [alerts[0].dedupe_key]


@pytest.mark.parametrize("text", ["8-20", "20:00-08:00", "08:00-24:30", "nine to five"])
def test_trading_hours_that_make_no_sense_are_refused(text):
    with pytest.raises(ValueError):
        w.parse_trading_hours(text)


def test_trading_hours_parse():
    assert w.parse_trading_hours("07:30-18:00") == (time(7, 30), time(18))
    assert w.parse_trading_hours("00:00-24:00")[1] == time.max

"""What the sidecar's watchdog alerts on: pure decisions, `now` passed in.

Three conditions, each checked every WATCH_EVERY_SECONDS by `sidecar/watchdog.py`:

- `no_delivery`: no Stripe delivery has arrived for NO_DELIVERY_ALERT_MINUTES, counted
  only while the local clock (TIMEZONE) is within TRADING_HOURS. Measured from the last
  delivery stored in the inbox, or, on a database that never had one, from the start of
  this sidecar (so that a fresh install does not alert at once).
- `backlog`: more than BACKLOG_ALERT events wait to be applied, or the oldest waiting one
  has waited more than LAG_ALERT_SECONDS, for a minute at least (BACKLOG_HOLD).
- `not_ready`: the sidecar's own `/readyz` checks have failed for READYZ_ALERT_SECONDS.

An episode is the time a condition holds without a break. Each episode raises one alert,
keyed by its name and when it began (`watch:<name>:<start>`), not one per check; when the
condition clears the episode ends, and the next time it holds is a new episode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

WATCHES = ("no_delivery", "backlog", "not_ready")
# A backlog must last this long to alert: a burst of deliveries that the worker catches up
# with in seconds is what a backlog is for.
BACKLOG_HOLD = timedelta(minutes=1)
_HOURS = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)-([01]?\d|2[0-4]):([0-5]\d)")


def parse_trading_hours(text: str) -> tuple[time, time]:
    """`08:00-20:00` as (start, end) local times; `00:00-24:00` is the whole day."""
    match = _HOURS.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not local hours HH:MM-HH:MM (e.g. 08:00-20:00)")
    start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
    if end_h == 24 and end_m:
        raise ValueError(f"{text!r}: the end is at most 24:00")
    start = time(start_h, start_m)
    end = time.max if end_h == 24 else time(end_h, end_m)
    if end <= start:
        raise ValueError(f"{text!r}: the end must be after the start (on the same day)")
    return start, end


@dataclass(frozen=True)
class WatchLimits:
    """The thresholds; 0 turns a watch off."""

    no_delivery_minutes: int = 120
    trading_hours: tuple[time, time] = (time(8, 0), time(20, 0))
    backlog_events: int = 1000
    lag_seconds: int = 600
    readyz_seconds: int = 300


@dataclass(frozen=True)
class Observation:
    """What one check saw. Times are aware; `last_delivery` is None when the inbox is
    empty; `backlog` is None when the store did not answer."""

    now: datetime
    started: datetime  # when this sidecar started
    last_delivery: datetime | None
    backlog: int | None
    oldest_waiting_seconds: float | None
    ready: bool
    not_ready_reason: str | None = None


@dataclass(frozen=True)
class Alert:
    watch: str
    dedupe_key: str
    message: str


@dataclass(frozen=True)
class WatchState:
    """Per watch: when its current episode began (absent: it does not hold now), and
    which episodes have had their alert written."""

    since: dict[str, datetime] = field(default_factory=dict)
    alerted: frozenset[str] = frozenset()


def in_trading_hours(now: datetime, tz: ZoneInfo, hours: tuple[time, time]) -> bool:
    local = now.astimezone(tz).time().replace(tzinfo=None)
    start, end = hours
    return start <= local <= end


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%a %d %b %H:%M} ({tz.key})"


def _no_delivery(seen: Observation, limits: WatchLimits, tz: ZoneInfo) -> str | None:
    if not limits.no_delivery_minutes:
        return None
    if not in_trading_hours(seen.now, tz, limits.trading_hours):
        return None
    since = seen.last_delivery or seen.started
    quiet = seen.now - since
    if quiet < timedelta(minutes=limits.no_delivery_minutes):
        return None
    what = (
        f"no Stripe webhook delivery since {_local(since, tz)}"
        if seen.last_delivery
        else "no Stripe webhook delivery ever, and none since the sidecar started"
        f" {_local(since, tz)}"
    )
    return (
        f"{what}: {int(quiet.total_seconds() // 60)} minutes in trading hours"
        f" (alert after {limits.no_delivery_minutes}). Check the webhook endpoint in Stripe"
        " (disabled? failing?) and STRIPE_WEBHOOK_SECRET"
    )


def _backlog(seen: Observation, limits: WatchLimits) -> str | None:
    if seen.backlog is None:
        return None
    too_many = bool(limits.backlog_events) and seen.backlog > limits.backlog_events
    oldest = seen.oldest_waiting_seconds or 0
    too_old = bool(limits.lag_seconds) and oldest > limits.lag_seconds
    if not (too_many or too_old):
        return None
    return (
        f"{seen.backlog} Stripe events wait to be applied (alert above"
        f" {limits.backlog_events or 'off'}), the oldest for {oldest:.0f} s (alert above"
        f" {limits.lag_seconds or 'off'} s): is the fulfilment worker stuck or overloaded?"
    )


def conditions(seen: Observation, limits: WatchLimits, tz: ZoneInfo) -> dict[str, str]:
    """The watches that hold now, each with what to tell staff."""
    found = {
        "no_delivery": _no_delivery(seen, limits, tz),
        "backlog": _backlog(seen, limits),
        "not_ready": None
        if seen.ready or not limits.readyz_seconds
        else f"/readyz has failed ({seen.not_ready_reason or 'not ready'})",
    }
    return {name: text for name, text in found.items() if text is not None}


def _episode_start(name: str, state: WatchState, seen: Observation) -> datetime:
    """When the episode began. A quiet spell begins at the last delivery, so that the
    same silence keeps the same key after a restart and across several sidecars."""
    if name == "no_delivery":
        return seen.last_delivery or seen.started
    return state.since.get(name, seen.now)


def _held_long_enough(name: str, since: datetime, now: datetime, limits: WatchLimits) -> bool:
    if name == "not_ready":
        return now - since >= timedelta(seconds=limits.readyz_seconds)
    if name == "backlog":
        return now - since >= BACKLOG_HOLD
    return True  # a quiet spell carries its own duration


def check(
    state: WatchState, seen: Observation, limits: WatchLimits, tz: ZoneInfo
) -> tuple[WatchState, list[Alert]]:
    """The next state and the alerts to write now: one per episode, once it has held
    long enough. An alert only counts as written when the caller says so
    (`written`), so one that could not be stored is tried again next check."""
    holding = conditions(seen, limits, tz)
    since = {name: _episode_start(name, state, seen) for name in holding}
    alerts = []
    for name, text in holding.items():
        key = f"watch:{name}:{since[name].astimezone(tz).isoformat(timespec='minutes')}"
        if key in state.alerted or not _held_long_enough(name, since[name], seen.now, limits):
            continue
        if name == "not_ready":
            text += f" since {_local(since[name], tz)}, for more than {limits.readyz_seconds} s"
        alerts.append(Alert(name, key, text))
    # Keys of episodes that have ended are forgotten with them.
    live_keys = {
        f"watch:{name}:{start.astimezone(tz).isoformat(timespec='minutes')}"
        for name, start in since.items()
    }
    return WatchState(since, frozenset(state.alerted & live_keys)), alerts


def written(state: WatchState, alerts: list[Alert]) -> WatchState:
    """The state once these alerts are stored."""
    return replace(state, alerted=state.alerted | {a.dedupe_key for a in alerts})


def active(state: WatchState, seen: Observation, limits: WatchLimits, tz: ZoneInfo) -> list[dict]:
    """What the Live page shows: each watch that holds now, since when, and its text."""
    holding = conditions(seen, limits, tz)
    return [
        {"watch": name, "since": _episode_start(name, state, seen), "message": text}
        for name, text in holding.items()
    ]

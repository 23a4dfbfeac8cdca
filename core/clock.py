"""The one place the running processes read the wall clock.

The pure code in `core/` takes `now` as an argument; the processes at the edges (the
sidecar's web and store processes, the CLI, the dashboard) get it from here. In production
this is the system clock, unshifted.

A test suite, a drill or a demo that must behave as on another day sets
`CLOCK_SHIFT_SECONDS` (read into `Settings`, applied with `set_shift` when a process starts):
every process of one sidecar, and the dashboard beside it, add the same number of seconds
to the system clock, so they agree with each other, and time still flows. The suite pins
its sidecars to one day of the catalog's sales season this way, so it passes whatever the
date it runs on (see docs/testing.md, "Tests on any date").
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

_shift = timedelta(0)
# The system clock: the one reading every function below derives from (tests replace it).
system_time = time.time


def set_shift(seconds: float) -> None:
    """Shift this process's clock by `seconds` (0 in production)."""
    global _shift
    _shift = timedelta(seconds=seconds)


def shift_seconds() -> float:
    return _shift.total_seconds()


def now() -> datetime:
    """Now, aware, in UTC."""
    return datetime.fromtimestamp(timestamp(), UTC)


def utcnow() -> datetime:
    """Now, as the store keeps every timestamp: naive UTC."""
    return now().replace(tzinfo=None)


def timestamp() -> float:
    """Now in Unix seconds."""
    return system_time() + _shift.total_seconds()


def unix() -> int:
    """Now in whole Unix seconds, as Stripe writes `created`."""
    return int(timestamp())

"""The processes' clock: the system clock, moved only by an explicit shift."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from core import clock

SYSTEM = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)  # what the system clock says, any date


@pytest.fixture
def system(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """A system clock the test sets (`readings[0]`), and no shift; the suite's comes back
    after."""
    readings = [SYSTEM.timestamp()]
    monkeypatch.setattr(clock, "system_time", lambda: readings[0])
    suite_shift = clock.shift_seconds()
    clock.set_shift(0)
    yield readings
    clock.set_shift(suite_shift)


def test_unshifted_it_reads_the_system_clock(system):
    assert clock.now() == SYSTEM
    assert clock.timestamp() == SYSTEM.timestamp()
    assert clock.utcnow() == SYSTEM.replace(tzinfo=None)
    assert clock.unix() == int(SYSTEM.timestamp())


def test_a_shift_moves_every_reading_by_the_same_amount_and_time_still_flows(system):
    clock.set_shift(-400 * 86400)
    first = clock.now()
    system[0] += 0.5  # the system clock moves on

    assert first == SYSTEM - timedelta(days=400)
    assert clock.now() == first + timedelta(seconds=0.5)
    assert clock.unix() == int(SYSTEM.timestamp() + 0.5) - 400 * 86400
    assert clock.utcnow() == clock.now().replace(tzinfo=None)

"""The processes' clock: the system clock, moved only by an explicit shift."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from core import clock


@pytest.fixture
def unshifted() -> Iterator[None]:
    """These tests set their own shift; the suite's (tests/conftest.py) comes back after."""
    suite_shift = clock.shift_seconds()
    clock.set_shift(0)
    yield
    clock.set_shift(suite_shift)


def test_unshifted_it_reads_the_system_clock(unshifted):
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)
    assert abs(clock.timestamp() - time.time()) < 1
    assert clock.utcnow().tzinfo is None


def test_a_shift_moves_every_reading_by_the_same_amount_and_time_still_flows(unshifted):
    clock.set_shift(-400 * 86400)
    first = clock.now()
    time.sleep(0.01)

    assert abs(first - (datetime.now(UTC) - timedelta(days=400))) < timedelta(seconds=1)
    assert clock.now() > first
    assert abs(clock.unix() - (time.time() - 400 * 86400)) <= 1
    assert abs(clock.utcnow() - clock.now().replace(tzinfo=None)) < timedelta(seconds=1)

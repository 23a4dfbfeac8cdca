from __future__ import annotations

import json
from datetime import datetime

import pytest

from core.stripe_events import parse_event
from store import inbox
from store.database import Database
from tests.conftest import CONSTRAINT_ERRORS, make_event

RECEIVED = datetime(2027, 1, 11, 0, 0)


def _event(**overrides):
    return parse_event(json.dumps(make_event(**overrides)))


def _store(database: Database, event) -> bool:
    """As the webhook stores: batched, fast path first, duplicates caught by the key."""
    future = database.submit_batched(
        inbox.store_events, (event, RECEIVED), fallback=inbox.store_events_skipping_duplicates
    )
    return future.result(10)


def test_a_redelivered_event_is_refused_by_the_primary_key_on_the_fast_path(database: Database):
    event = _event()
    database.write(inbox.store_events, [(event, RECEIVED)])

    with pytest.raises(CONSTRAINT_ERRORS):
        database.write(inbox.store_events, [(event, RECEIVED)])

    assert database.read(inbox.count_events) == 1


def test_skipping_duplicates_reports_which_events_are_new(database: Database):
    first, second = _event(), _event()
    database.write(inbox.store_events, [(first, RECEIVED)])

    results = database.write(
        inbox.store_events_skipping_duplicates, [(first, RECEIVED), (second, RECEIVED)]
    )

    assert results == [False, True]
    assert database.read(inbox.count_events) == 2


def test_a_redelivery_through_the_writer_is_acknowledged_as_not_new(database: Database):
    event = _event()

    assert _store(database, event) is True
    assert _store(database, event) is False
    assert database.read(inbox.count_events) == 1


@pytest.mark.parametrize("store", [inbox.store_events, inbox.store_events_skipping_duplicates])
def test_the_same_event_twice_in_one_group_is_stored_once(database: Database, store):
    event = _event()

    results = database.write(store, [(event, RECEIVED), (event, RECEIVED)])

    assert results == [True, False]
    assert database.read(inbox.count_events) == 1


def test_a_duplicate_in_a_group_does_not_fail_the_new_events_beside_it(database: Database):
    import threading

    old = _event()
    _store(database, old)
    gate = threading.Event()
    blocker = database.submit(lambda conn: gate.wait(5))
    futures = [
        database.submit_batched(
            inbox.store_events, (e, RECEIVED), fallback=inbox.store_events_skipping_duplicates
        )
        for e in (_event(), old, _event())
    ]
    gate.set()
    blocker.result(5)

    assert [f.result(5) for f in futures] == [True, False, True]
    assert database.read(inbox.count_events) == 3


def test_handled_types_wait_for_the_worker_and_unknown_types_are_ignored(database: Database):
    handled, unknown = _event(type="charge.refunded"), _event(type="payout.paid")

    database.write(inbox.store_events, [(handled, RECEIVED), (unknown, RECEIVED)])

    assert database.read(inbox.get_event, handled.event_id)["status"] == "received"
    assert database.read(inbox.get_event, unknown.event_id)["status"] == "ignored"
    assert database.read(inbox.count_by_status) == {
        "received": 1, "processing": 0, "processed": 0, "failed": 0, "ignored": 1, "archived": 0,
    }  # fmt: skip


def test_listing_is_newest_first_and_filtered_in_sql(database: Database):
    events = [_event(type="invoice.paid") for _ in range(3)] + [_event(type="payout.paid")]
    for minute, event in enumerate(events):
        database.write(inbox.store_events, [(event, RECEIVED.replace(minute=minute))])

    page, total = database.read(inbox.list_events, event_type="invoice.paid", limit=2)
    rest, _ = database.read(inbox.list_events, event_type="invoice.paid", limit=2, offset=2)

    assert [r["event_id"] for r in page] == [events[2].event_id, events[1].event_id]
    assert [r["event_id"] for r in rest] == [events[0].event_id]
    assert total == 3
    assert database.read(inbox.count_events, status="ignored") == 1

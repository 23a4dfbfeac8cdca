"""Ending a subscription, one request at a time (store/subscription_endings.py), on both
backends: the claim taken before Stripe is asked, completed or released after, and a
stale claim (its process gone, or stuck) taken over; on PostgreSQL, two writers (as two
sidecars have) claiming at once get one claim."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from core.settings import DatabaseLocation
from store import subscription_endings as endings
from store.database import Database
from store.locks import CLAIMANT

NOW = datetime(2026, 11, 25, 23, 0)  # naive UTC, as the store keeps time
NOW_KEY = "end_subscription:sub_1:now"
LATER_KEY = "end_subscription:sub_1:period_end"


def claim(database: Database, key: str = NOW_KEY, who: str = "ann", at: datetime = NOW):
    return database.write(endings.claim, "sub_1", key, who, at)


def test_one_request_at_a_time_ends_a_subscription(database: Database):
    first = claim(database)
    assert first.outcome == "claimed" and first.claim_id
    # A second request, the same ending or another, while the first asks Stripe: busy,
    # and told whose it is.
    for key in (NOW_KEY, LATER_KEY):
        busy = claim(database, key, "ben", NOW + timedelta(seconds=5))
        assert (busy.outcome, busy.actor, busy.request_key) == ("busy", "ann", NOW_KEY)
        assert busy.claimed_at == NOW
    # Completed: the same ending again is done; another ending may now be asked.
    assert database.write(endings.complete, "sub_1", first.claim_id, NOW)
    assert claim(database, NOW_KEY, "ben").outcome == "done"
    later = claim(database, LATER_KEY, "ben")
    assert later.outcome == "claimed"
    # Released (Stripe refused or was down): nothing is left, the next request may try.
    database.write(endings.release, "sub_1", later.claim_id)
    again = claim(database, LATER_KEY, "cat")
    assert again.outcome == "claimed" and again.claim_id != later.claim_id
    # A claim taken over is not completed by its first holder.
    assert not database.write(endings.complete, "sub_1", later.claim_id, NOW)


def test_a_stale_claim_is_taken_over(database: Database):
    first = claim(database)
    # Stuck: older than STALE_AFTER, its process alive (this one).
    late = NOW + endings.STALE_AFTER + timedelta(seconds=1)
    taken = claim(database, NOW_KEY, "ben", late)
    assert taken.outcome == "claimed" and taken.claim_id != first.claim_id
    assert not database.write(endings.complete, "sub_1", first.claim_id, late)
    assert database.write(endings.complete, "sub_1", taken.claim_id, late)
    # Made by a process that is gone (killed during its Stripe call): taken over at once.
    database.write(
        lambda conn: conn.execute(
            "UPDATE subscription_endings SET status = 'claimed',"
            " claimed_by = 'tinkertank gone:1:abcdef', claimed_at = ?",
            [late],
        )
    )
    assert claim(database, NOW_KEY, "cat", late + timedelta(seconds=1)).outcome == "claimed"
    (row,) = database.read(
        lambda conn: conn.execute("SELECT claimed_by, actor FROM subscription_endings").fetchall()
    )
    assert row == (CLAIMANT, "cat")


def test_two_writers_claiming_at_once_get_one_claim(
    backend: str, database: Database, database_location: DatabaseLocation
):
    if backend != "postgresql":
        pytest.skip("one DuckDB file has one writer: its claims are taken in turn")
    other = Database.open(database_location)  # a second sidecar's writer
    try:
        for round_ in range(10):
            subscription = f"sub_race_{round_}"
            barrier = threading.Barrier(2)
            outcomes: list[str] = []

            def race(
                db: Database,
                who: str,
                subscription: str = subscription,
                barrier: threading.Barrier = barrier,
                outcomes: list = outcomes,
            ) -> None:
                barrier.wait()
                key = f"end_subscription:{subscription}:now"
                outcomes.append(db.write(endings.claim, subscription, key, who, NOW).outcome)

            threads = [threading.Thread(target=race, args=(db, who))
                       for db, who in ((database, "ann"), (other, "ben"))]  # fmt: skip
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert sorted(outcomes) == ["busy", "claimed"], outcomes
    finally:
        other.close()

"""The inbox's archive (store/inbox_archive.py): finished events received more than 35 days
ago leave `webhook_inbox`, so that its key holds weeks of ids rather than every event ever
received, and nothing about them is lost or stored twice."""

from __future__ import annotations

import functools
import json
import time
from datetime import datetime, timedelta

from core.stripe_events import parse_event
from runtime.periodic_pass import WriterPass
from store import inbox, inbox_archive, summaries
from store.database import Database
from tests.conftest import make_event

NOW = datetime(2027, 3, 1, 0, 0)
OLD = NOW - timedelta(days=40)  # received, and created, before the archive's horizon
RECENT = NOW - timedelta(days=20)


def _event(at: datetime, **overrides):
    created = int((at - datetime(1970, 1, 1)).total_seconds())
    return parse_event(json.dumps(make_event(created=created, **overrides)))


def _stored(database: Database, at: datetime, outcome: str | None = "processed", **overrides):
    event = _event(at, **overrides)
    database.write(inbox.store_events, [(event, at)])
    if outcome is not None:
        database.write(inbox.record_outcome, event.event_id, outcome, None, at)
    return event


def _where(database: Database, event_id: str) -> tuple[int, int]:
    """(rows in the inbox, rows in the archive) of the event."""
    return database.read(lambda conn: tuple(
        conn.execute(f"SELECT count(*) FROM {table} WHERE event_id = ?", [event_id]).fetchone()[0]
        for table in ("webhook_inbox", "webhook_inbox_archive")
    ))  # fmt: skip


def test_finished_events_older_than_35_days_move_and_the_rest_stay(duckdb_database: Database):
    db = duckdb_database
    processed, ignored = _stored(db, OLD), _stored(db, OLD, "ignored", type="payout.paid")
    failed = _stored(db, OLD, None)
    db.write(inbox.give_up, failed.event_id, "no such order")
    waiting = _stored(db, OLD, None)
    recent = _stored(db, RECENT)

    assert db.write(inbox_archive.move_finished, NOW) == 2
    assert db.write(inbox_archive.move_finished, NOW) == 0

    assert _where(db, processed.event_id) == _where(db, ignored.event_id) == (0, 1)
    for kept in (failed, waiting, recent):
        assert _where(db, kept.event_id) == (1, 0)
    counts = db.read(inbox.count_by_status)
    assert counts["archived"] == 2 and counts["processed"] == 1 and counts["failed"] == 1
    # Staff still open an archived event by its id, payload and all.
    found = db.read(inbox.get_event, processed.event_id)
    assert found["status"] == "processed" and found["archived_at"] == NOW
    assert json.loads(found["payload"])["id"] == processed.event_id
    # The Webhooks page lists the inbox: the last 35 days and whatever is not finished.
    listed, total = db.read(inbox.list_events)
    assert {e["event_id"] for e in listed} == {failed.event_id, waiting.event_id, recent.event_id}
    assert total == 3
    # A summary of that old day still counts its deliveries.
    day = db.read(summaries.webhook_health, OLD - timedelta(hours=1), OLD + timedelta(hours=1))
    assert day["received"] == 4 and day["failed"] == 1 and day["processed"] >= 2


def test_a_late_redelivery_of_an_archived_event_stores_nothing(duckdb_database: Database):
    db = duckdb_database
    event = _stored(db, OLD)
    db.write(inbox_archive.move_finished, NOW)

    assert db.write(inbox.store_events, [(event, NOW)]) == [False]
    assert db.write(inbox.store_events_skipping_duplicates, [(event, NOW)]) == [False]
    future = db.submit_batched(
        inbox.store_events, (event, NOW), fallback=inbox.store_events_skipping_duplicates
    )
    assert future.result(10) is False
    assert _where(db, event.event_id) == (0, 1)
    # A new event created as long ago (a replay of history) is stored as usual.
    other = _event(OLD)
    assert db.write(inbox.store_events, [(other, NOW), (event, NOW)]) == [True, False]
    assert _where(db, other.event_id) == (1, 0)


def test_reprocessing_an_archived_ignored_event_brings_it_back(duckdb_database: Database):
    db = duckdb_database
    ignored = _stored(db, OLD, "ignored", type="payout.paid")
    processed = _stored(db, OLD)
    db.write(inbox_archive.move_finished, NOW)

    assert db.write(inbox.reprocess, ignored.event_id) is True
    assert _where(db, ignored.event_id) == (1, 0)
    assert db.read(inbox.get_event, ignored.event_id)["status"] == "received"
    # A processed event's effects stand, archived or not.
    assert db.write(inbox.reprocess, processed.event_id) is False
    assert _where(db, processed.event_id) == (0, 1)


def test_the_pass_moves_batch_after_batch_until_none_is_left(duckdb_database: Database):
    db = duckdb_database
    events = [_stored(db, OLD + timedelta(minutes=n)) for n in range(7)]
    sweep = WriterPass(
        db, "inbox-archive", functools.partial(inbox_archive.move_finished, limit=2),
        every_seconds=3600, again=lambda moved: moved >= 2, clock=lambda: NOW,
    )  # fmt: skip
    sweep.start()
    try:
        deadline = time.monotonic() + 10
        while db.read(inbox.count_by_status)["archived"] < 7 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sweep.stop()
    assert all(_where(db, e.event_id) == (0, 1) for e in events)


def test_nothing_moves_on_postgresql_and_every_read_still_answers(database: Database):
    event = _stored(database, OLD)
    moved = database.write(inbox_archive.move_finished, NOW)
    if database.location.backend == "postgresql":
        assert moved == 0 and _where(database, event.event_id) == (1, 0)
    else:
        assert moved == 1 and _where(database, event.event_id) == (0, 1)
    assert database.read(inbox.get_event, event.event_id)["event_id"] == event.event_id
    assert database.read(inbox.count_by_status)["archived"] == moved


def test_the_upgrade_archives_what_finished_before_the_horizon_at_once(tmp_path, monkeypatch):
    """A DuckDB file from before the archive (schema 17): the migration makes the inbox
    again with the events still needed, so that its key never has to be loaded whole to
    delete the others in batches (beyond the memory limit on a big database)."""
    import duckdb
    import pytest

    from store import schema

    conn = duckdb.connect(str(tmp_path / "old.duckdb"))
    with monkeypatch.context() as old_code:
        old_code.setattr(schema, "MIGRATIONS", [m for m in schema.MIGRATIONS if m[0] <= 17])
        schema.migrate(conn, now=OLD)
    rows = [("evt_old_done", "processed", OLD), ("evt_old_ignored", "ignored", OLD),
            ("evt_old_failed", "failed", OLD), ("evt_recent", "processed", RECENT)]  # fmt: skip
    for event_id, status, at in rows:
        conn.execute(
            "INSERT INTO webhook_inbox (event_id, type, object_id, livemode, created_at,"
            " payload, received_at, status, attempts) VALUES (?, 'charge.refunded', 'ch_1',"
            " false, ?, '{}', ?, ?, 1)",
            [event_id, at, at, status],
        )

    assert schema.migrate(conn, now=NOW)[0] == 18
    kept = {r[0] for r in conn.execute("SELECT event_id FROM webhook_inbox").fetchall()}
    moved = {r[0] for r in conn.execute("SELECT event_id FROM webhook_inbox_archive").fetchall()}
    assert kept == {"evt_old_failed", "evt_recent"}
    assert moved == {"evt_old_done", "evt_old_ignored"}
    with pytest.raises(duckdb.ConstraintException):  # the key is the inbox's still
        conn.execute(
            "INSERT INTO webhook_inbox (event_id, type, livemode, created_at, payload,"
            " received_at, status) VALUES ('evt_recent', 't', false, ?, '{}', ?, 'received')",
            [NOW, NOW],
        )
    conn.close()

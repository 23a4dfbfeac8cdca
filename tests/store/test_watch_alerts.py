"""A watchdog alert on what every sidecar sees alike (store/error_log.py, log_shared_watch):
one entry however many sidecars notice it, at whatever minute each noticed."""

from __future__ import annotations

from datetime import datetime, timedelta

from store import error_log
from store.database import Database

NOON = datetime(2026, 11, 26, 1, 0)  # naive UTC, as the store keeps times
WINDOW = timedelta(hours=1)


def _backlog(minute: int) -> dict:
    return {
        "category": "system",
        "severity": "high",
        "message": "webhook backlog: 600 waiting",
        "context": {"watch": "backlog"},
        "dedupe_key": f"watch:backlog:2026-11-26T12:{minute:02d}+11:00",
    }


def _backlog_entries(conn) -> list[tuple[str, object]]:
    return conn.execute(
        "SELECT dedupe_key, resolved_at FROM error_log"
        " WHERE starts_with(dedupe_key, 'watch:backlog:') ORDER BY created_at"
    ).fetchall()


def test_two_sidecars_noticing_one_backlog_a_minute_apart_alert_once(database: Database):
    first = database.write(error_log.log_shared_watch, _backlog(3), NOON, NOON - WINDOW)
    later = NOON + timedelta(minutes=1)
    second = database.write(error_log.log_shared_watch, _backlog(4), later, later - WINDOW)

    assert (first, second) == (True, False)
    assert [key for key, _ in database.read(_backlog_entries)] == [_backlog(3)["dedupe_key"]]


def test_a_backlog_after_the_last_was_resolved_or_long_ago_alerts_again(database: Database):
    assert database.write(error_log.log_shared_watch, _backlog(3), NOON, NOON - WINDOW)
    (error_id,) = database.read(lambda c: c.execute("SELECT error_id FROM error_log").fetchone())
    database.write(error_log.resolve, error_id, "Robin", NOON + timedelta(minutes=5))
    again = NOON + timedelta(minutes=10)
    assert database.write(error_log.log_shared_watch, _backlog(13), again, again - WINDOW)

    much_later = NOON + timedelta(hours=3)  # the open one is from another episode
    assert database.write(error_log.log_shared_watch, _backlog(0), much_later, much_later - WINDOW)
    assert len(database.read(_backlog_entries)) == 3

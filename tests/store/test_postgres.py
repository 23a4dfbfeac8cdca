"""store/postgres.py: DuckDB's SQL and parameters as PostgreSQL takes them, checked against a
real PostgreSQL database."""

from __future__ import annotations

from datetime import date, datetime

import psycopg
import pytest

from core.settings import DatabaseLocation
from store import postgres
from store.database import Database


@pytest.fixture
def pg(postgres_url: str):
    conn = postgres.connect(postgres_url)
    conn.execute(
        "CREATE TABLE t (a VARCHAR, n INTEGER, d DATE, ts TIMESTAMP, note VARCHAR DEFAULT 'x')"
    )
    yield conn
    conn.close()


def test_question_marks_in_literals_identifiers_and_comments_are_left_alone(pg):
    row = pg.execute(
        "SELECT '?' AS \"what?\", ?, '50%' -- is it ?\n, ? /* or ? */", ["a", 2]
    ).fetchone()

    assert row == ("?", "a", "50%", 2)


def test_lists_of_strings_empty_lists_and_lists_of_nulls_unnest_as_in_duckdb(pg):
    pg.execute(
        "INSERT INTO t (a, n, d, ts) SELECT unnest(?), unnest(?), unnest(?), unnest(?)",
        [["x", None], [None, None], [date(2027, 1, 4), None], [datetime(2027, 1, 4, 9), None]],
    )

    assert pg.execute("SELECT a, n, d, ts FROM t ORDER BY a").fetchall() == [
        ("x", None, date(2027, 1, 4), datetime(2027, 1, 4, 9)),
        (None, None, None, None),
    ]
    assert pg.execute("SELECT count(*) FROM t WHERE a IN (SELECT unnest(?))", [[]]).fetchone() == (
        0,
    )
    assert pg.execute(
        "SELECT count(*) FROM t WHERE a IN (SELECT unnest(?))", [("x",)]
    ).fetchone() == (1,)


def test_a_parameter_tested_for_null_needs_no_type(pg):
    assert pg.execute("SELECT ? IS NULL, ? IS NOT NULL", [None, "x"]).fetchone() == (True, True)


def test_numeric_answers_are_whole_ints_or_floats_as_in_duckdb(pg):
    pg.execute("INSERT INTO t (n) VALUES (?), (?)", [2, 3])

    total, mean = pg.execute("SELECT sum(n::BIGINT), avg(n) FROM t").fetchone()

    assert (total, type(total)) == (5, int)
    assert (mean, type(mean)) == (2.5, float)


def test_a_commit_that_postgresql_turns_into_a_rollback_raises(pg):
    pg.execute("BEGIN TRANSACTION")
    pg.execute("INSERT INTO t (a) VALUES (?)", ["kept?"])
    with pytest.raises(psycopg.errors.DivisionByZero):  # a job that swallows its error …
        pg.execute("SELECT 1 / 0")

    with pytest.raises(psycopg.errors.InFailedSqlTransaction):
        pg.execute("COMMIT")
    assert pg.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_reads_see_one_committed_state_for_the_whole_read(postgres_url: str):
    db = Database.open(DatabaseLocation("postgresql", postgres_url))

    def two_looks(conn):
        before = conn.execute("SELECT count(*) FROM sidecar_heartbeat").fetchone()[0]
        db.write(
            lambda w: w.execute(
                "INSERT INTO sidecar_heartbeat VALUES (1, ?)", [datetime(2026, 11, 26)]
            )
        )
        after = conn.execute("SELECT count(*) FROM sidecar_heartbeat").fetchone()[0]
        return before, after

    try:
        assert db.read(two_looks) == (0, 0)
        assert db.read(
            lambda c: c.execute("SELECT count(*) FROM sidecar_heartbeat").fetchone()
        ) == (1,)
    finally:
        db.close()


def test_the_writer_connects_again_after_its_connection_is_lost(postgres_url: str):
    db = Database.open(DatabaseLocation("postgresql", postgres_url))

    def beat(conn, beat_id: int) -> int:
        conn.execute(
            "INSERT INTO sidecar_heartbeat VALUES (?, ?)", [beat_id, datetime(2026, 11, 26)]
        )
        return beat_id

    try:
        assert db.write(beat, 1) == 1
        with psycopg.connect(postgres_url, autocommit=True) as admin:  # as a server restart does
            (killed,) = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert killed >= 1

        assert db.write(beat, 2) == 2
        assert db.read(
            lambda c: c.execute("SELECT id FROM sidecar_heartbeat ORDER BY id").fetchall()
        ) == [
            (1,),
            (2,),
        ]
    finally:
        db.close()


def test_a_checkouts_count_of_places_taken_finds_holds_by_an_index(postgres_url: str):
    db = Database.open(DatabaseLocation("postgresql", postgres_url))
    try:
        indexes = db.read(
            lambda c: c.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'holds'"
                " AND indexname = 'holds_by_resource'"
            ).fetchall()
        )
    finally:
        db.close()
    assert len(indexes) == 1 and "(resource_key, status)" in indexes[0][0]

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.settings import DatabaseLocation
from store import schema, writer
from store.database import Database, DatabaseUnavailable, long_running
from tests.conftest import CONSTRAINT_ERRORS


def _insert_beat(conn, beat_id: int) -> int:
    conn.execute(
        "INSERT INTO sidecar_heartbeat (id, beat_at) VALUES (?, now()::TIMESTAMP)", [beat_id]
    )
    return beat_id


def _beat_ids(conn) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM sidecar_heartbeat ORDER BY id").fetchall()]


def test_a_write_is_visible_to_readers_once_its_future_resolves(database: Database):
    assert database.write(_insert_beat, 1) == 1

    assert database.read(_beat_ids) == [1]


def test_a_failing_write_in_a_group_does_not_fail_the_others(database: Database):
    database.write(_insert_beat, 7)
    gate = threading.Event()
    # Hold the writer so the next jobs queue up and are committed as one group.
    blocker = database.submit(lambda conn: gate.wait(5))
    futures = [database.submit(_insert_beat, n) for n in (1, 7, 2)]  # 7 violates the key
    gate.set()
    blocker.result(5)

    assert futures[0].result(5) == 1
    assert futures[2].result(5) == 2
    with pytest.raises(CONSTRAINT_ERRORS):
        futures[1].result(5)
    assert database.read(_beat_ids) == [1, 2, 7]


def test_batched_jobs_share_one_call_and_get_their_own_results(database: Database):
    calls = []

    def store_many(conn, items):
        calls.append(list(items))
        return [item * 10 for item in items]

    gate = threading.Event()
    blocker = database.submit(lambda conn: gate.wait(5))
    futures = [database.submit_batched(store_many, n) for n in range(5)]
    gate.set()
    blocker.result(5)

    assert [f.result(5) for f in futures] == [0, 10, 20, 30, 40]
    assert calls == [[0, 1, 2, 3, 4]]


def test_writes_survive_close_and_reopen(database_path: Path):
    db = Database.open(DatabaseLocation("duckdb", str(database_path)))
    db.write(_insert_beat, 3)
    db.close()

    reopened = Database.open(DatabaseLocation("duckdb", str(database_path)))
    try:
        assert reopened.read(_beat_ids) == [3]
    finally:
        reopened.close()


def test_migrations_are_applied_once(database: Database):
    from datetime import datetime

    applied_again = database.write(lambda conn: schema.migrate(conn, now=datetime(2027, 1, 1)))

    assert applied_again == []
    versions = database.read(
        lambda c: c.execute("SELECT version FROM schema_migrations").fetchall()
    )
    assert versions == [(v,) for v, _, _ in schema.MIGRATIONS]


def test_every_table_of_the_domain_exists(database: Database):
    tables = {
        r[0]
        for r in database.read(
            lambda c: c.execute("SELECT table_name FROM information_schema.tables").fetchall()
        )
    }

    assert {
        "orders", "order_items", "students", "bookings", "events", "recurring_templates",
        "enrolments", "enrolment_periods", "holds", "webhook_inbox", "fulfilment_steps",
        "outbox", "error_log",
    } <= tables  # fmt: skip


def test_a_closed_database_refuses_new_writes(database: Database):
    database.close()

    with pytest.raises(DatabaseUnavailable):
        database.submit(_insert_beat, 1)


def test_a_file_held_by_another_process_is_reported_not_crashed(
    duckdb_database: Database, database_path
):
    code = (
        "import sys\n"
        "from core.settings import DatabaseLocation\n"
        "from store.database import Database, DatabaseUnavailable\n"
        "try:\n"
        f"    Database.open(DatabaseLocation('duckdb', {str(database_path)!r}))\n"
        "except DatabaseUnavailable as exc:\n"
        "    print(exc); sys.exit(3)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip

    assert result.returncode == 3
    assert f"cannot open database {database_path}" in result.stdout


def test_a_postgresql_server_that_cannot_be_reached_is_reported_not_crashed(tmp_path: Path):
    url = f"postgresql://tinkertank:s3cret@/tinkertank?host={tmp_path}&port=1&connect_timeout=5"

    with pytest.raises(DatabaseUnavailable) as refused:
        Database.open(DatabaseLocation("postgresql", url))

    assert "cannot open database postgresql://tinkertank:***@/tinkertank" in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_two_processes_opening_one_postgresql_database_migrate_it_once(postgres_url: str):
    code = (
        "from core.settings import DatabaseLocation\n"
        "from store.database import Database\n"
        f"Database.open(DatabaseLocation('postgresql', {postgres_url!r})).close()\n"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2])
        for _ in range(3)
    ]

    assert [p.wait(60) for p in processes] == [0, 0, 0]
    db = Database.open(DatabaseLocation("postgresql", postgres_url))
    try:
        versions = db.read(lambda c: c.execute("SELECT version FROM schema_migrations").fetchall())
    finally:
        db.close()
    assert sorted(versions) == [(v,) for v, _, _ in schema.MIGRATIONS]


def test_a_batch_handed_over_at_once_is_one_call_with_an_answer_per_token(database: Database):
    calls, answers = [], []

    def store_many(conn, items):
        calls.append(list(items))
        return [item * 10 for item in items]

    gate = threading.Event()
    blocker = database.submit(lambda conn: gate.wait(5))
    database.submit_batch_to_sink(answers.extend, store_many, [("a", 1), ("b", 2)])
    database.submit_batch_to_sink(answers.extend, store_many, [("c", 3)])
    gate.set()
    blocker.result(5)
    database.write(_insert_beat, 1)  # queued behind them: once it is done, so are they

    assert calls == [[1, 2, 3]]  # both hand-overs, one call, one commit
    assert sorted(answers) == [("a", True, 10), ("b", True, 20), ("c", True, 30)]


def test_a_closed_database_refuses_a_batch(database: Database):
    database.close()

    with pytest.raises(DatabaseUnavailable):
        database.submit_batch_to_sink(list.append, lambda conn, items: items, [("a", 1)])


def _insert_payloads(conn, first: int) -> None:
    """4,000 rows of 500 bytes: fewer than a row group, so they go to the write-ahead log
    (a bigger insert is written straight to the file)."""
    conn.execute("CREATE TABLE IF NOT EXISTS payloads (id BIGINT, body VARCHAR)")
    conn.execute(
        "INSERT INTO payloads SELECT i, repeat('x', 500) || i FROM range(?, ? + 4000) t(i)",
        [first, first],
    )


def test_the_writer_checkpoints_once_writes_pause(duckdb_database: Database, database_path: Path):
    """DuckDB's write-ahead log (PostgreSQL checkpoints by itself)."""
    database = duckdb_database
    wal = Path(f"{database_path}.wal")

    for first in range(0, 40000, 4000):  # 2 MB of log each, 20 MB: below DuckDB's 64 MB
        database.write(_insert_payloads, first)

    deadline = time.monotonic() + 30  # a wait for it to happen, not a measure of how fast
    while database._writer.checkpoints == 0 and time.monotonic() < deadline:
        time.sleep(0.05)

    assert database._writer.checkpoints >= 1
    assert not wal.exists() or wal.stat().st_size < writer.CHECKPOINT_WHEN_QUIET
    assert database.read(lambda conn: conn.execute("SELECT count(*) FROM payloads")
                         .fetchone()[0]) == 40000  # fmt: skip


@long_running
def _read_everything(conn) -> int:
    return conn.execute("SELECT count(*) FROM big WHERE length(body) = 96").fetchone()[0]


def _cached_bytes(conn) -> int:
    return conn.execute(
        "SELECT sum(memory_usage_bytes) FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"
    ).fetchone()[0]


def test_a_long_read_gives_back_the_blocks_it_cached(database_path: Path):
    """An export reads every table into DuckDB's cache, which DuckDB keeps up to its limit:
    the writer checkpoints before it (what the log holds is in memory too), evicts what
    nobody uses before the export answers, and the limit is as configured again afterwards."""
    database = Database.open(DatabaseLocation("duckdb", str(database_path)), memory_limit="32MB")
    try:
        database.write(
            lambda conn: conn.execute(
                "CREATE TABLE big AS SELECT i, md5(i::VARCHAR) || md5((i + 1)::VARCHAR)"
                " || md5((i + 2)::VARCHAR) AS body FROM range(300000) t(i)"
            )
        )
        database.write(lambda conn: conn.execute("CHECKPOINT"))
        database.read(lambda conn: conn.execute("SELECT max(body) FROM big").fetchone())
        cached = database.read(_cached_bytes)
        assert cached > 16 << 20  # a plain read keeps what it read

        checkpoints = database._writer.checkpoints
        assert database.read(_read_everything) == 300000
        assert database._writer.checkpoints == checkpoints + 1  # the log folded in first
        assert database._writer.releases == 1
        assert database.read(_cached_bytes) <= (32 << 20) * writer.RELEASE_TO_FRACTIONS[0] < cached
        limit = database.read(lambda conn: conn.execute(
            "SELECT current_setting('memory_limit')").fetchone()[0])  # fmt: skip
        assert limit.replace(" ", "") in ("30.5MiB", "32.0MB", "32MB")
        assert database.read(_read_everything) == 300000  # read again from the file
    finally:
        database.close()

"""The analysts' copy of the database and the DuckDB instance the sandbox opens on it.

The sidecar refuses every statement but one SELECT before it runs it; these tests go
round that check, straight at the sandbox's DuckDB instance, to show that the instance
itself cannot write, read files, load extensions or change its settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from runtime import analyst_sandbox
from store import analyst_snapshot
from store.database import Database

SECRET_TEXT = "CANARY-file-0123456789"


def _add_event(conn: duckdb.DuckDBPyConnection, event_id: str) -> None:
    conn.execute(
        "INSERT INTO webhook_inbox (event_id, type, livemode, created_at, payload, received_at,"
        " status) VALUES (?, 'customer.updated', false, ?, ?, ?, 'ignored')",
        [
            event_id,
            datetime(2026, 11, 25),
            f'{{"secret": "{SECRET_TEXT}"}}',
            datetime(2026, 11, 25),
        ],
    )


@pytest.fixture
def backend() -> str:
    """DuckDB only: the analysts' copy is a DuckDB file (on PostgreSQL, analysts are to get a
    read-only role instead, issue 14)."""
    return "duckdb"


@pytest.fixture
def fresh_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The store process keeps one state; each test starts with none, and ends with no
    copy being made (as the store process does before it closes the database)."""
    monkeypatch.setattr(analyst_snapshot, "_state", analyst_snapshot._State())
    monkeypatch.setattr(analyst_snapshot, "_redacted_state", analyst_snapshot._State())
    yield
    analyst_snapshot.stop()


@pytest.fixture
def copy(database: Database, tmp_path: Path, fresh_state) -> Iterator[str]:
    database.write(_add_event, "evt_1")
    snapshot = database.read(analyst_snapshot.analyst_snapshot, str(tmp_path / "analyst"), 0, 5)
    yield snapshot.path


def test_the_copy_holds_every_table_but_not_the_raw_payloads(database: Database, copy: str):
    conn = duckdb.connect(copy, read_only=True)
    copied = {name for (name,) in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    live = database.read(
        lambda c: {n for (n,) in c.execute("SELECT table_name FROM duckdb_tables()"
                                           " WHERE database_name = 'tinkertank'").fetchall()}
    )  # fmt: skip
    inbox = "SELECT column_name FROM duckdb_columns() WHERE table_name = 'webhook_inbox'"
    columns = [c for (c,) in conn.execute(inbox).fetchall()]

    assert copied == live and {"orders", "webhook_inbox", "students"} <= copied
    assert "payload" not in columns and "event_id" in columns
    assert conn.execute("SELECT event_id FROM webhook_inbox").fetchall() == [("evt_1",)]
    assert SECRET_TEXT.encode() not in Path(copy).read_bytes()


def test_a_stale_copy_is_served_while_a_fresh_one_is_made(
    database: Database, tmp_path: Path, fresh_state
):
    root = str(tmp_path / "analyst")
    first = database.read(analyst_snapshot.analyst_snapshot, root, 0, 5)
    database.write(_add_event, "evt_2")

    served = database.read(analyst_snapshot.analyst_snapshot, root, 0, 0)  # no wait at all
    fresh = database.read(analyst_snapshot.analyst_snapshot, root, 0, 5)

    assert served == first  # the previous copy, at once
    assert fresh.as_of > first.as_of and fresh.path != first.path
    ids = duckdb.connect(fresh.path, read_only=True).sql("SELECT event_id FROM webhook_inbox")
    assert ids.fetchall() == [("evt_2",)]


def test_a_copy_left_by_an_earlier_run_is_served_while_a_new_one_is_made(
    database: Database, tmp_path: Path, fresh_state, monkeypatch: pytest.MonkeyPatch
):
    root = str(tmp_path / "analyst")
    earlier = database.read(analyst_snapshot.analyst_snapshot, root, 0, 5)
    monkeypatch.setattr(analyst_snapshot, "_state", analyst_snapshot._State())  # a restart

    served = database.read(analyst_snapshot.analyst_snapshot, root, 3600, 0)

    assert served == earlier


LOCKED_OUT = [
    "COPY (SELECT 1) TO '{dir}/written.csv'",
    "EXPORT DATABASE '{dir}/written-export'",
    "ATTACH '{dir}/written.duckdb' AS other",
    "ATTACH '{dir}/secret.txt' AS other",
    "CREATE TABLE orders2 AS SELECT 1",
    "INSTALL httpfs",
    "LOAD httpfs",
    "LOAD '{dir}/evil.duckdb_extension'",
    "SET enable_external_access = true",
    "RESET enable_external_access",
    "SET lock_configuration = false",
    "SET memory_limit = '100GB'",
    "SET threads = 64",
    "SET temp_directory = '{dir}/written-tmp'",
    "SET allowed_directories = ['/']",
    "SET max_expression_depth = 1000000",
    "PRAGMA enable_profiling",
    "SET profiling_output = '{dir}/written-profile.json'",
    "PRAGMA profiling_output = '{dir}/written-profile.json'",
    "CALL enable_logging(storage = 'file', storage_path = '{dir}/written-log')",
    "SET logging_storage = 'file'",
    "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "SELECT * FROM read_text('{dir}/secret.txt')",
]


@pytest.mark.parametrize("template", LOCKED_OUT)
def test_the_sandbox_instance_refuses_whatever_the_statement(copy: str, tmp_path: Path, template):
    (tmp_path / "secret.txt").write_text(SECRET_TEXT)
    conn = analyst_sandbox._open(copy, "64MB")

    with pytest.raises(duckdb.Error) as refused:
        conn.execute(template.format(dir=tmp_path)).fetchall()

    assert SECRET_TEXT not in str(refused.value)
    assert not list(tmp_path.glob("written*"))
    assert conn.execute(
        "SELECT current_setting('enable_external_access'), current_setting('lock_configuration')"
    ).fetchone() == (False, True)


def test_the_sandbox_keeps_only_path_lang_and_home_and_bounds_malloc():
    environ = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "HOME": "/root", "ADMIN_TOKEN": "x",
               "STRIPE_SECRET_KEY": "sk", "STRIPE_WEBHOOK_SECRET": "whsec", "SMTP_PASSWORD": "p",
               "PYTHONPATH": "/elsewhere", "LD_PRELOAD": "/evil.so"}  # fmt: skip

    assert analyst_sandbox.sandbox_environment(environ) == {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "HOME": "/root",
        "MALLOC_ARENA_MAX": "2",
    }


def test_a_query_runs_in_a_sandbox_and_answers_json(copy: str):
    limits = analyst_sandbox.Limits(time_seconds=30, memory="64MB", memory_bytes=64_000_000)

    answer = asyncio.run(
        analyst_sandbox.run_query(
            copy, "SELECT event_id, created_at FROM webhook_inbox", 10, limits
        )
    )

    assert answer["columns"] == ["event_id", "created_at"]
    assert answer["rows"] == [["evt_1", "2026-11-25T00:00:00Z"]]
    assert answer["truncated"] is False and answer["elapsed_ms"] >= 0

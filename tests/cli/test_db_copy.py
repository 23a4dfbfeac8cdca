"""`tinkertank db copy`: a DuckDB business copied into PostgreSQL, and the staff API of a
real sidecar on each answering the same; the refusals (a target with rows, a source at
another schema version, a file a sidecar holds) and the final check of counts and sums."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import psycopg
import pytest
import requests

from core.clock import utcnow
from runtime.sidecar_process import free_port, inherited_env, start_sidecar
from store import database_copy, postgres, schema
from tests.conftest import ADMIN_TOKEN, REPO, SUITE_NOW, Sidecar, sidecar_env
from tests.postgres_server import PostgresServer
from tests.sidecar.test_alerts import wait_for

STAFF_PASSWORD = "a long enough password"


def tinkertank(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args], input=stdin,
        env={**inherited_env(), **env}, cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A DuckDB business with three days of orders, bookings, emails and summaries
    (`tinkertank demo-history`), no sidecar running on it."""
    tmp_path = tmp_path_factory.mktemp("duck")
    env = sidecar_env(tmp_path, DATABASE_URL=f"duckdb:///{tmp_path / 'tinkertank.duckdb'}")
    played = tinkertank(env, "demo-history", "--days", "3", "--per-day", "3")
    assert played.returncode == 0, played.stderr
    # A sidecar sends the emails and notices the history queued, then stops: a sidecar
    # started on the source or the copy later has nothing left to do, and changes nothing.
    sidecar = Sidecar(start_sidecar(free_port(), env, log_path=tmp_path / "settle.log"))
    try:
        assert wait_for(lambda: _pending(sidecar) == 0, timeout=60)
        made = tinkertank(
            {**env, "SIDECAR_URL": sidecar.url}, "staff", "add", "priya", "--role", "staff",
            stdin=STAFF_PASSWORD + "\n",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
    finally:
        sidecar.server.stop()
    return tmp_path / "tinkertank.duckdb", env


def _pending(sidecar: Sidecar) -> int:
    answer = requests.post(
        sidecar.url + "/api/sql",
        json={"sql": "SELECT count(*) FROM outbox WHERE status = 'pending'"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["rows"][0][0]


@pytest.fixture
def empty_target(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


def copy(env: dict[str, str], source: Path, target: str) -> subprocess.CompletedProcess:
    return tinkertank(env, "db", "copy", "--from", f"duckdb:///{source}", "--to", target)


def _sidecar(tmp_path: Path, url: str, name: str) -> Sidecar:
    (tmp_path / name).mkdir()
    env = sidecar_env(tmp_path / name, DATABASE_URL=url, DATA_DIR=str(tmp_path / name))
    return Sidecar(start_sidecar(free_port(), env, log_path=tmp_path / f"{name}.log"))


def _get(sidecar: Sidecar, path: str, **params: str) -> dict:
    response = sidecar.staff_get(path, **params)
    assert response.status_code == 200, response.text
    return response.json()


def _export(sidecar: Sidecar) -> dict:
    response = requests.post(
        sidecar.url + "/api/export", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60
    )
    assert response.status_code == 200, response.text
    return response.json()


def _frame(path: str, table: str) -> pd.DataFrame:
    frame = pd.read_parquet(Path(path) / table)
    return frame.sort_values(list(frame.columns)[:2]).reset_index(drop=True)


def test_the_copy_answers_the_staff_api_and_exports_as_its_source(
    history, empty_target: str, tmp_path: Path
):
    source, env = history
    with duckdb.connect(str(source), read_only=True) as duck:
        (orders,) = duck.execute("SELECT count(*) FROM orders").fetchone()

    copied = copy(env, source, empty_target)

    assert copied.returncode == 0, copied.stderr
    assert f"orders: {orders} rows" in copied.stdout
    assert "row counts and sums checked" in copied.stdout
    duck_side = _sidecar(tmp_path, f"duckdb:///{source}", "duck")
    pg_side = _sidecar(tmp_path, empty_target, "pg")
    try:
        listed = _get(duck_side, "/api/orders", limit="500")
        assert listed["total"] == orders > 0
        assert _get(pg_side, "/api/orders", limit="500") == listed
        for order in listed["orders"][:5]:
            path = f"/api/orders/{order['order_id']}"
            assert _get(pg_side, path) == _get(duck_side, path)
        month = {"start": str(SUITE_NOW.date() - timedelta(days=30)),
                 "end": str(SUITE_NOW.date() + timedelta(days=60))}  # fmt: skip
        events = _get(duck_side, "/api/events", **month)
        assert events["events"] and _get(pg_side, "/api/events", **month) == events
        first = next(e["event_id"] for e in events["events"] if e["event_id"])
        roster = f"/api/events/{first}/roster"
        assert _get(pg_side, roster) == _get(duck_side, roster)
        summaries = _get(duck_side, "/api/summaries")
        assert summaries["summaries"] and _get(pg_side, "/api/summaries") == summaries
        assert _get(pg_side, "/api/kpis") == _get(duck_side, "/api/kpis")
        inbox = _get(duck_side, "/api/inbox", limit="500")
        assert inbox["total"] > 0 and _get(pg_side, "/api/inbox", limit="500") == inbox
        errors = _get(duck_side, "/api/errors", limit="500")
        assert _get(pg_side, "/api/errors", limit="500") == errors
        # the staff account made on DuckDB signs in on PostgreSQL, with the same password
        login = {"name": "priya", "password": STAFF_PASSWORD}
        signed_in = requests.post(pg_side.url + "/api/login", json=login, timeout=30)
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.json()["role"] == "staff"
        # An analyst with pandas reads the same rows from either backend's export.
        duck_export, pg_export = _export(duck_side), _export(pg_side)
        assert pg_export["tables"] == duck_export["tables"]
        for table in duck_export["tables"]:
            pd.testing.assert_frame_equal(
                _frame(pg_export["path"], table), _frame(duck_export["path"], table)
            )
    finally:
        duck_side.server.stop()
        pg_side.server.stop()


def test_a_target_with_rows_is_refused_and_left_as_it_was(history, empty_target: str):
    source, env = history
    assert copy(env, source, empty_target).returncode == 0

    again = copy(env, source, empty_target)

    assert again.returncode == 4
    assert "nothing was copied: the target database is not empty: " in again.stderr
    assert "orders (" in again.stderr
    with duckdb.connect(str(source), read_only=True) as duck:
        (orders,) = duck.execute("SELECT count(*) FROM orders").fetchone()
    with psycopg.connect(empty_target) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (orders,)


def test_a_source_at_another_schema_version_is_refused(tmp_path: Path, empty_target: str):
    old = tmp_path / "old.duckdb"
    current = database_copy.current_version()
    with duckdb.connect(str(old)) as duck:
        schema.migrate(duck, now=utcnow())
        duck.execute("DELETE FROM schema_migrations WHERE version = ?", [current])

    refused = copy({}, old, empty_target)

    assert refused.returncode == 4
    assert (
        f"the source is at schema version {current - 1}, this code's is {current}" in refused.stderr
    )
    with psycopg.connect(empty_target) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (0,)  # refused before the target was touched


def test_a_file_a_running_sidecar_holds_is_refused_saying_what_to_do(
    tmp_path: Path, empty_target: str
):
    held = tmp_path / "held.duckdb"
    with duckdb.connect(str(held)) as holder:
        schema.migrate(holder, now=utcnow())
        refused = copy({}, held, empty_target)

    assert refused.returncode == 4
    assert "is open in a running sidecar" in refused.stderr
    assert "stop the sidecar first" in refused.stderr


def test_counts_or_sums_that_differ_roll_the_whole_copy_back(
    tmp_path: Path, empty_target: str, monkeypatch: pytest.MonkeyPatch
):
    source = tmp_path / "small.duckdb"
    with duckdb.connect(str(source)) as duck:
        schema.migrate(duck, now=utcnow())
        duck.execute(
            "INSERT INTO orders (order_id, source, mode, payment_status, fulfillment_status,"
            " currency, amount_total, amount_paid, created_at, updated_at) VALUES"
            " ('ord_1', 'checkout', 'payment', 'paid', 'fulfilled', 'aud', 8900, 8900,"
            " now()::TIMESTAMP, now()::TIMESTAMP)"
        )
    real_copy_table = database_copy._copy_table

    def short_changed(source_conn, target, table, columns):
        count = real_copy_table(source_conn, target, table, columns)
        if table == "orders":  # a fault between the source and the target
            target.execute("UPDATE orders SET amount_paid = amount_paid - 1")
        return count

    monkeypatch.setattr(database_copy, "_copy_table", short_changed)

    with pytest.raises(database_copy.CopyMismatch) as raised:
        database_copy.copy_database(str(source), empty_target, utcnow(), say=lambda _: None)

    assert raised.value.differences == [
        "orders: sum(amount_paid) 8900 in the source, 8899 in the target"
    ]
    with psycopg.connect(empty_target) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (0,)
    monkeypatch.undo()
    done = database_copy.copy_database(str(source), empty_target, utcnow(), say=lambda _: None)
    assert done.rows["orders"] == 1
    target = postgres.connect(empty_target)
    try:
        assert target.execute("SELECT amount_paid FROM orders").fetchone() == (8900,)
    finally:
        target.close()

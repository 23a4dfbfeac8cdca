"""Analysts against a real sidecar: read-only SQL (refusals, limits, a runaway query) and
Parquet exports read back with pandas while the sidecar keeps running."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from tests.conftest import ADMIN_TOKEN, Sidecar, make_event, sidecar_env
from tests.sidecar.test_alerts import wait_for
from tests.sidecar.test_summary import pay, settled, sql, tinkertank

# DuckDB's SQL and sandbox; PostgreSQL's are tests/sidecar/test_postgres_analysts.py.
DUCKDB_ONLY = pytest.mark.postgres_xfail("DuckDB's SQL or sandbox")

# A cross product of 10^12 rows: far longer than the time limit on any machine.
RUNAWAY = "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b"


def run_sql(sidecar: Sidecar, query: str, **extra: Any) -> requests.Response:
    return requests.post(
        sidecar.url + "/api/sql",
        json={"sql": query, **extra},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=60,
    )


@pytest.fixture(scope="module")
def seeded(sidecar: Sidecar) -> Sidecar:
    """The module's sidecar with a few paid orders, their students' notes included."""
    for n, name in enumerate(("Mia", "Leo", "Ava")):
        camp = {"product_id": "summer-robotics", "date": f"2027-01-0{4 + n}", "session": "day",
                "student": {"name": name, "age": 8}}  # fmt: skip
        pay(sidecar, [camp], 8900)
    assert wait_for(lambda: settled(sidecar), timeout=30)
    return sidecar


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("INSERT INTO orders (order_id) VALUES ('x')", "not INSERT"),
        ("UPDATE orders SET amount_paid = 0", "not UPDATE"),
        ("DELETE FROM orders", "not DELETE"),
        ("CREATE TABLE x (a INTEGER)", "not CREATE"),
        ("DROP TABLE orders", "not DROP"),
        pytest.param(
            "SELECT 1; DROP TABLE orders", "exactly one statement, not 2", marks=DUCKDB_ONLY
        ),
        pytest.param("SELECT 1; SELECT 2", "exactly one statement, not 2", marks=DUCKDB_ONLY),
        ("ATTACH '/tmp/other.duckdb' AS other", "not ATTACH"),
        ("COPY orders TO '/tmp/orders.csv'", "not COPY"),
        ("INSTALL httpfs", "not INSTALL"),
        ("LOAD httpfs", "not LOAD"),
        ("PRAGMA database_list", "not PRAGMA"),
        ("SET threads = 1", "not SET"),
        ("CALL checkpoint()", "not CALL"),
        pytest.param(
            "SELECT * FROM read_csv('/etc/passwd')",
            "only the database can be read here",
            marks=DUCKDB_ONLY,
        ),
        pytest.param(
            "SELECT * FROM read_parquet('s3://bucket/x.parquet')",
            "only the database can be",
            marks=DUCKDB_ONLY,
        ),
        pytest.param(
            "WITH f AS (SELECT * FROM glob('/etc/*')) SELECT * FROM f",
            "only the database can",
            marks=DUCKDB_ONLY,
        ),
        ("", "the query is empty"),
    ],
)
def test_anything_but_one_select_over_the_database_is_refused(sidecar: Sidecar, query, why):
    response = run_sql(sidecar, query)

    assert response.status_code == 422
    assert response.json()["error"] == "refused"
    assert why in response.json()["message"]


def test_a_select_answers_columns_and_rows_and_says_when_it_was_cut(seeded: Sidecar):
    whole = run_sql(seeded, "WITH o AS (SELECT * FROM orders) SELECT count(*) AS n FROM o")
    cut = run_sql(seeded, "SELECT order_id, paid_at FROM orders ORDER BY paid_at", limit=2)

    assert whole.status_code == 200
    assert whole.json()["columns"] == ["n"]
    assert whole.json()["rows"][0][0] >= 3
    assert whole.json()["truncated"] is False
    body = cut.json()
    assert body["columns"] == ["order_id", "paid_at"]
    assert len(body["rows"]) == 2 and body["truncated"] is True
    assert body["rows"][0][1].endswith("Z")  # stored UTC, said so


def test_a_query_that_fails_says_why(sidecar: Sidecar):
    response = run_sql(sidecar, "SELECT no_such_column FROM orders")

    assert response.status_code == 422
    assert response.json()["error"] == "query_failed"
    assert "no_such_column" in response.json()["message"]


@pytest.mark.slow
@DUCKDB_ONLY
def test_a_runaway_query_is_stopped_while_webhooks_are_still_stored(sidecar: Sidecar):
    answers: list[requests.Response] = []
    runaway = threading.Thread(target=lambda: answers.append(run_sql(sidecar, RUNAWAY)))
    runaway.start()
    event = make_event(type="customer.updated", data={"object": {"id": "cus_1"}})
    time.sleep(1)  # the query is well under way (it runs for 5 s)

    delivered = sidecar.deliver(event)
    runaway.join(60)

    assert delivered.status_code == 200
    assert sidecar.inbox_row(event["id"]) is not None
    (stopped,) = answers
    assert stopped.status_code == 408
    assert stopped.json()["error"] == "timeout"
    assert "was stopped" in stopped.json()["message"]
    after = run_sql(sidecar, "SELECT 42 AS answer")
    assert after.status_code == 200 and after.json()["rows"] == [[42]]


@DUCKDB_ONLY  # the exports beside the DuckDB file
def test_the_export_is_a_snapshot_pandas_reads_without_students_notes(
    seeded: Sidecar, tmp_path: Path
):
    result = tinkertank(sidecar_env(tmp_path, SIDECAR_URL=seeded.url), "export")

    assert result.returncode == 0, result.stderr
    assert "exported to " in result.stdout
    exports = Path(seeded.server.env["DATABASE_URL"].removeprefix("duckdb:///")).parent / "exports"
    latest = exports / "latest"
    orders = pd.read_parquet(latest / "orders")
    ((count,),) = sql(seeded, "SELECT count(*) FROM orders")
    assert len(orders) == count >= 3
    students = pd.read_parquet(latest / "students")
    assert "notes" not in students.columns
    assert {"student_id", "order_id", "name"} <= set(students.columns)
    ((items,),) = sql(seeded, "SELECT count(*) FROM order_items")
    assert len(pd.read_parquet(latest / "order_items")) == items
    assert not list(exports.glob(".partial-*"))
    # the sidecar kept serving: a delivery right after is stored
    event = make_event(type="customer.updated", data={"object": {"id": "cus_2"}})
    assert seeded.deliver(event).status_code == 200
    assert seeded.inbox_row(event["id"]) is not None


def test_each_export_gets_its_own_directory_and_latest_follows(seeded: Sidecar):
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    first = requests.post(seeded.url + "/api/export", headers=headers, timeout=60).json()
    second = requests.post(seeded.url + "/api/export", headers=headers, timeout=60).json()

    assert first["path"] != second["path"]
    latest = Path(second["path"]).parent / "latest"
    assert latest.resolve() == Path(second["path"])
    for name, rows in second["tables"].items():
        assert len(pd.read_parquet(Path(second["path"]) / name)) == rows
    assert "webhook_inbox" not in second["tables"]


def test_analyst_endpoints_need_the_admin_token(sidecar: Sidecar):
    for path in ("/api/sql", "/api/export"):
        assert requests.post(sidecar.url + path, json={}, timeout=10).status_code == 401

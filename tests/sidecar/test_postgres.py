"""The sidecar on PostgreSQL end to end (DATABASE_URL=postgresql://…), in every `make test`
run: a real sidecar on the suite's throwaway PostgreSQL server, checkout through the fake
Stripe, signed deliveries, and the rows read back from PostgreSQL itself.

(`TEST_BACKEND=postgresql`, `make test-postgresql`, runs every sidecar test this way.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest
import requests

from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import Sidecar, sidecar_env
from tests.fakes.stripe import FakeStripe
from tests.sidecar.test_fulfilment import (
    STEP_NAMES,
    camp,
    checkout,
    fulfilled,
    shop_env,
    status,
    status_when,
    steps,
    wait_for,
)


def _start(fake: FakeStripe, tmp_path: Path, url: str, n: int = 0) -> Sidecar:
    env = sidecar_env(tmp_path, **shop_env(fake), DATABASE_URL=url, DATA_DIR=str(tmp_path))
    return Sidecar(start_sidecar(free_port(), env, log_path=tmp_path / f"sidecar-{n}.log"))


@pytest.fixture
def pg_shop(fake: FakeStripe, tmp_path: Path, postgres_url: str) -> Iterator[Sidecar]:
    # With a password (the test server trusts local connections, so any will do), which
    # the sidecar's log must not show.
    sidecar = _start(fake, tmp_path, postgres_url.replace("postgres@", "postgres:s3cret@", 1))
    yield sidecar
    sidecar.server.stop()


def _rows(url: str, sql: str, params: list | None = None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def test_a_paid_checkout_delivered_three_times_at_once_is_fulfilled_once_in_postgresql(
    pg_shop: Sidecar, fake: FakeStripe, postgres_url: str, tmp_path: Path
):
    order_id, session_id = checkout(
        pg_shop, fake, [camp("2027-01-04", "day", "Ada"), camp("2027-01-05", "day", "Ada")]
    )
    event = fake.complete_session(session_id)
    answers: list[int] = []
    copies = [
        threading.Thread(target=lambda: answers.append(pg_shop.deliver(event).status_code))
        for _ in range(3)
    ]
    for thread in copies:
        thread.start()
    for thread in copies:
        thread.join(30)

    assert answers == [200, 200, 200]
    done = status_when(pg_shop, order_id, fulfilled)
    assert steps(done) == {name: ("done", 1) for name in STEP_NAMES}
    assert not list(tmp_path.glob("*.duckdb"))  # it is all in PostgreSQL:
    assert _rows(
        postgres_url, "SELECT status FROM webhook_inbox WHERE event_id = %s", [event["id"]]
    ) == [("processed",)]
    assert _rows(
        postgres_url,
        "SELECT count(*), min(status) FROM bookings WHERE order_id = %s",
        [order_id],
    ) == [(2, "confirmed")]
    assert _rows(
        postgres_url,
        "SELECT dedupe_key FROM outbox WHERE order_id = %s ORDER BY dedupe_key",
        [order_id],
    ) == [(f"confirmation:{order_id}",), (f"staff:{order_id}",)]
    # No SMTP server: the confirmation is written as a file under DATA_DIR, there being no
    # database file to write it beside.
    emails = wait_for(lambda: list((tmp_path / "outbox").glob("*.eml")))
    assert len(emails) == 1 and "Ada" in emails[0].read_text()
    log = (tmp_path / "sidecar-0.log").read_text()
    assert "(database postgresql://postgres:***@/test_" in log
    assert "s3cret" not in log


def test_a_restarted_sidecar_finds_its_orders_in_postgresql_and_migrates_nothing_again(
    fake: FakeStripe, tmp_path: Path, postgres_url: str
):
    first = _start(fake, tmp_path, postgres_url)
    try:
        order_id, _ = checkout(first, fake, [camp("2027-01-06", "day", "Grace")])
    finally:
        first.server.stop()
    applied = _rows(postgres_url, "SELECT version, applied_at FROM schema_migrations")

    second = _start(fake, tmp_path, postgres_url, n=1)
    try:
        assert status(second, order_id)["payment_status"] == "pending"
        ready = requests.get(second.url + "/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
    finally:
        second.server.stop()
    assert _rows(postgres_url, "SELECT version, applied_at FROM schema_migrations") == applied


def test_the_export_on_postgresql_is_the_parquet_snapshot_without_notes(
    pg_shop: Sidecar, fake: FakeStripe
):
    order_id, _ = checkout(pg_shop, fake, [camp("2027-01-06", "day", "Grace")])
    answer = pg_shop.session.post(
        pg_shop.url + "/api/export",
        headers={"Authorization": f"Bearer {pg_shop.server.env['ADMIN_TOKEN']}"},
        timeout=60,
    )

    assert answer.status_code == 200, answer.text
    exported = Path(answer.json()["path"])
    orders = pd.read_parquet(exported / "orders")
    assert list(orders["order_id"]) == [order_id]
    assert orders["created_at"].dtype.kind == "M"  # a timestamp, as DuckDB's export has it
    students = pd.read_parquet(exported / "students")
    assert list(students["name"]) == ["Grace"] and "notes" not in students.columns
    assert answer.json()["tables"]["students"] == 1

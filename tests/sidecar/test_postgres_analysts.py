"""The analysts' SQL on PostgreSQL (store/analyst_role.py) against a real sidecar on the
suite's throwaway server, whose own user is a superuser: what is refused is refused by the
read-only role, not by the sidecar's user lacking the right."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import ADMIN_TOKEN, Sidecar, sidecar_env
from tests.fakes.stripe import FakeStripe
from tests.postgres_server import PostgresServer
from tests.sidecar.test_fulfilment import checkout, shop_env
from tests.sidecar.test_staff_accounts import add, signed_in

MACHINE = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NOTE = "severe nut allergy"


@pytest.fixture(scope="module")
def pg_shop(
    fake: FakeStripe, tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer
) -> Iterator[tuple[Sidecar, str]]:
    tmp_path = tmp_path_factory.mktemp("pg-analysts")
    url = postgres_server.create_database()
    env = sidecar_env(
        tmp_path, **shop_env(fake), DATABASE_URL=url, DATA_DIR=str(tmp_path),
        ANALYST_SQL_TIME_LIMIT_SECONDS="2",
    )  # fmt: skip
    server = start_sidecar(free_port(), env, log_path=tmp_path / "sidecar.log")
    sidecar = Sidecar(server)
    item = {"product_id": "summer-robotics", "date": "2027-01-06", "session": "day",
            "student": {"name": "Noa", "age": 9, "notes": NOTE}}  # fmt: skip
    order_id, _ = checkout(sidecar, fake, [item])
    yield sidecar, order_id
    server.stop()
    postgres_server.drop_database(url)


def run_sql(sidecar: Sidecar, query: str, headers: dict[str, str] = MACHINE, **extra: Any):
    return requests.post(
        sidecar.url + "/api/sql", json={"sql": query, **extra}, headers=headers, timeout=60
    )


def test_a_select_reads_the_live_database_with_rows_columns_and_a_cut(pg_shop):
    sidecar, order_id = pg_shop
    whole = run_sql(sidecar, "WITH o AS (SELECT * FROM orders) SELECT count(*) AS n FROM o")
    one = run_sql(sidecar, f"SELECT order_id, created_at FROM orders WHERE order_id = '{order_id}'")
    cut = run_sql(sidecar, "SELECT * FROM generate_series(1, 5) AS n", limit=2)

    assert whole.status_code == 200, whole.text
    assert whole.json()["columns"] == ["n"] and whole.json()["rows"][0][0] >= 1
    assert whole.json()["data_as_of"].endswith("Z")
    assert one.json()["rows"][0][0] == order_id
    assert one.json()["rows"][0][1].endswith("Z")  # stored UTC, said so
    assert cut.json()["rows"] == [[1], [2]] and cut.json()["truncated"] is True


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("INSERT INTO orders (order_id) VALUES ('x')", "not INSERT"),
        ("UPDATE orders SET amount_paid = 0", "not UPDATE"),
        ("DELETE FROM orders", "not DELETE"),
        ("DROP TABLE orders", "not DROP"),
        ("COPY (SELECT 1) TO PROGRAM 'touch /tmp/tinkertank-owned'", "not COPY"),
        ("SET ROLE postgres", "not SET"),
        ("SELECT 1; DROP TABLE orders", "exactly one statement"),
        ("WITH gone AS (DELETE FROM orders RETURNING 1) SELECT count(*) FROM gone", "only reading"),
        ("SELECT pg_read_file('/etc/passwd')", "permission denied for function pg_read_file"),
        ("SELECT * FROM pg_ls_dir('.')", "permission denied for function pg_ls_dir"),
        ("SELECT current_setting('data_directory')", "pg_read_all_settings"),
        ("SELECT notes FROM public.students", "permission denied for table students"),
        ("SELECT payload FROM public.webhook_inbox", "permission denied for table webhook_inbox"),
        ("SELECT set_config('role', 'postgres', true)", "permission denied to set role"),
        ("SELECT lo_import('/etc/passwd')", "only reading"),
        ("", "the query is empty"),
    ],
)
def test_anything_but_reading_the_views_is_refused_saying_why(pg_shop, query, why):
    sidecar, _ = pg_shop
    response = run_sql(sidecar, query)

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "refused"
    assert why in response.json()["message"]
    assert run_sql(sidecar, "SELECT count(*) FROM orders").json()["rows"][0][0] >= 1


def test_the_role_is_no_superuser_and_the_payloads_are_not_in_its_views(pg_shop):
    sidecar, _ = pg_shop
    who = run_sql(
        sidecar,
        "SELECT current_user, rolsuper, rolcreaterole,"
        " (SELECT count(*) FROM pg_auth_members WHERE member = r.oid)"
        " FROM pg_roles r WHERE rolname = current_user",
    )
    payload = run_sql(sidecar, "SELECT payload FROM webhook_inbox")

    assert who.status_code == 200, who.text
    ((user, superuser, createrole, memberships),) = who.json()["rows"]
    assert user.endswith("_sql_staff") and not superuser and not createrole and memberships == 0
    assert payload.status_code == 422 and payload.json()["error"] == "query_failed"
    assert 'column "payload" does not exist' in payload.json()["message"]


def test_a_long_query_is_stopped_by_the_time_limit_with_408(pg_shop):
    sidecar, _ = pg_shop
    stopped = run_sql(sidecar, "SELECT pg_sleep(60)")
    # the timeout may not be lifted from inside the query either
    lifted = run_sql(sidecar, "SELECT set_config('statement_timeout', '0', true), pg_sleep(60)")

    assert stopped.status_code == 408, stopped.text
    assert stopped.json()["error"] == "timeout"
    assert "was stopped after 2 s" in stopped.json()["message"]
    assert lifted.status_code == 408
    assert run_sql(sidecar, "SELECT 42 AS answer").json()["rows"] == [[42]]


def test_the_analyst_role_reads_no_childrens_notes_but_staff_do(pg_shop):
    sidecar, order_id = pg_shop
    query = f"SELECT notes, name FROM students WHERE order_id = '{order_id}'"
    analyst = signed_in(sidecar, add(sidecar, "analyst"))
    staff = signed_in(sidecar, add(sidecar, "staff"))

    assert run_sql(sidecar, query, analyst).json()["rows"] == [[None, "Noa"]]
    assert run_sql(sidecar, query, staff).json()["rows"] == [[NOTE, "Noa"]]
    assert run_sql(sidecar, query).json()["rows"] == [[NOTE, "Noa"]]
    sneaky = run_sql(sidecar, "SELECT notes FROM sql_staff.students", analyst)
    assert sneaky.status_code == 422
    assert "permission denied for schema sql_staff" in sneaky.json()["message"]


def test_without_roles_staff_query_read_only_and_analysts_are_told_why(
    fake: FakeStripe, tmp_path, postgres_server: PostgresServer
):
    """A managed PostgreSQL whose user may not create roles: staff queries run read-only as
    that user; the analyst role's are refused with 503 until the roles are made."""
    url = postgres_server.create_database()
    name = urlsplit(url).path.strip("/")
    owner = f"owner_{name}"
    with psycopg.connect(postgres_server.admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {owner} LOGIN NOCREATEROLE")
        admin.execute(f"ALTER DATABASE {name} OWNER TO {owner}")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ALTER SCHEMA public OWNER TO {owner}")
    owned = url.replace("postgres@", f"{owner}@", 1)
    env = sidecar_env(tmp_path, **shop_env(fake), DATABASE_URL=owned, DATA_DIR=str(tmp_path))
    server = start_sidecar(free_port(), env, log_path=tmp_path / "sidecar.log")
    sidecar = Sidecar(server)
    try:
        read = run_sql(sidecar, "SELECT current_user, count(*) FROM orders GROUP BY 1")
        write = run_sql(sidecar, "WITH x AS (DELETE FROM orders RETURNING 1) SELECT 1 FROM x")
        analyst = run_sql(sidecar, "SELECT 1", signed_in(sidecar, add(sidecar, "analyst")))
        log = (tmp_path / "sidecar.log").read_text()
    finally:
        server.stop()
        postgres_server.drop_database(url)

    assert read.status_code == 200, read.text
    assert read.json()["rows"] in ([], [[owner, 0]])
    assert write.status_code == 422 and "read-only transaction" in write.json()["message"]
    assert analyst.status_code == 503
    assert "give the sidecar's database user CREATEROLE" in analyst.json()["message"]
    assert "the analysts' roles could not be made" in log

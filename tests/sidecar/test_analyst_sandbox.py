"""The analysts' SQL sandbox against a real sidecar: no escape to files, secrets, settings,
logging, profiling or extensions; memory and time bombs answered 4xx while webhooks are
still acknowledged; the copy's freshness."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import ADMIN_TOKEN, OLD_SECRET, SECRET, Sidecar, make_event, sidecar_env
from tests.sidecar.test_analysts import RUNAWAY, run_sql

# What only DuckDB's sandbox has (its process, its copy); the escapes, the nested SQL and
# the freshness of answers hold on PostgreSQL's read-only role as well, and run on both.
DUCKDB_SANDBOX = pytest.mark.postgres_xfail(
    "DuckDB's sandbox; PostgreSQL's read-only role is tests/sidecar/test_postgres_analysts.py"
)

STRIPE_KEY = "sk_test_CANARY_stripe_key_0123456789"
SMTP_PASSWORD = "CANARY-smtp-password-0123456789"
FILE_TEXT = "CANARY-file-text-0123456789"
PAYLOAD_TEXT = "CANARY-payload-text-0123456789"  # only in a webhook's raw body
MEMORY_BOMB = "SELECT len(range(300000000))"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A sidecar with every secret set, a secret file beside its database and in the
    analysts' directory, and a webhook whose raw body holds a canary."""
    tmp_path = tmp_path_factory.mktemp("guarded")
    (tmp_path / "secret.txt").write_text(f"{FILE_TEXT}\n")
    (tmp_path / "analyst").mkdir()
    (tmp_path / "analyst" / "secret.csv").write_text(f"a\n{FILE_TEXT}\n")
    env = sidecar_env(tmp_path, STRIPE_SECRET_KEY=STRIPE_KEY, SMTP_PASSWORD=SMTP_PASSWORD)
    server = start_sidecar(free_port(), env, log_path=tmp_path / "sidecar.log")
    sidecar = Sidecar(server)
    canary = {"object": {"id": "cus_canary", "note": PAYLOAD_TEXT}}
    event = make_event(type="customer.updated", data=canary)
    assert sidecar.deliver(event).status_code == 200
    yield {"sidecar": sidecar, "dir": tmp_path, "pid": server.process.pid}
    server.stop()


CANARIES = (ADMIN_TOKEN, SECRET, OLD_SECRET, STRIPE_KEY, SMTP_PASSWORD, FILE_TEXT, PAYLOAD_TEXT)

# {dir}: beside the database; {db}: the live database file; {pid}: the web process.
ESCAPES = [
    # files, by every reader DuckDB has
    "SELECT * FROM read_text('{dir}/secret.txt')",
    "SELECT * FROM read_blob('{dir}/secret.txt')",
    "SELECT * FROM read_csv('{dir}/secret.txt')",
    "SELECT * FROM read_csv_auto('{dir}/secret.txt', header = false)",
    "SELECT * FROM read_json('{dir}/secret.txt')",
    "SELECT * FROM read_json_objects('{dir}/secret.txt')",
    "SELECT * FROM read_ndjson_objects('{dir}/secret.txt')",
    "SELECT * FROM read_parquet('{dir}/secret.txt')",
    "SELECT * FROM parquet_metadata('{dir}/secret.txt')",
    "SELECT * FROM sniff_csv('{dir}/secret.txt')",
    "SELECT * FROM glob('{dir}/*')",
    "SELECT * FROM '{dir}/secret.txt'",
    "SELECT * FROM '{dir}/analyst/secret.csv'",
    "SELECT * FROM read_csv('secret.csv')",  # the sandbox's own working directory
    "SELECT * FROM read_text('{db}')",
    "SELECT * FROM read_blob('{db}')",
    "SELECT * FROM read_text('/etc/passwd')",
    # files through functions that take another function's or a table's name as a string
    "SELECT * FROM query('SELECT * FROM read_text(''{dir}/secret.txt'')')",
    "SELECT * FROM query_table('{dir}/secret.txt')",
    "SELECT * FROM query_table(['{dir}/analyst/secret.csv'])",
    "SELECT * FROM json_execute_serialized_sql(json_serialize_sql("
    "'SELECT * FROM read_text(''{dir}/secret.txt'')'))",
    # the environment
    "SELECT * FROM read_text('/proc/self/environ')",
    "SELECT * FROM read_blob('/proc/{pid}/environ')",
    "SELECT * FROM read_text('/proc/{pid}/cmdline')",
    "SELECT getenv('ADMIN_TOKEN')",
    "SELECT * FROM query('SELECT getenv(''STRIPE_SECRET_KEY'')')",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM which_secret('s3://bucket/x', 's3')",
    # the network and extensions
    "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')",
    "SELECT * FROM read_parquet('s3://bucket/x.parquet')",
    "SELECT * FROM sqlite_scan('{db}', 'orders')",
    "SELECT * FROM postgres_scan('host=127.0.0.1', 'public', 'orders')",
    "SELECT * FROM iceberg_scan('{dir}')",
    # settings, logging and profiling (writes to a file)
    "SELECT * FROM enable_logging(storage = 'file', storage_path = '{dir}/written-log')",
    "SELECT * FROM enable_profiling()",
    "SELECT set_config('enable_external_access', 'true')",
    # the live database, where the raw payloads are
    "SELECT * FROM webhook_inbox WHERE payload LIKE '%CANARY%'",
    "SELECT * FROM tinkertank.webhook_inbox",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_an_escape_attempt_is_answered_without_a_file_or_a_secret(guarded, template: str):
    database = guarded["dir"] / "tinkertank.duckdb"
    query = template.format(dir=guarded["dir"], db=database, pid=guarded["pid"])

    response = run_sql(guarded["sidecar"], query)

    assert 400 <= response.status_code < 500, response.text
    for canary in CANARIES:
        assert canary not in response.text
    assert not list(guarded["dir"].glob("written-*"))


@DUCKDB_SANDBOX
def test_what_the_sandbox_is_told_to_read_is_only_the_copy(guarded):
    response = run_sql(
        guarded["sidecar"],
        "SELECT current_setting('enable_external_access') AS external,"
        " current_setting('lock_configuration') AS locked,"
        " current_setting('memory_limit') AS memory, current_setting('threads') AS threads,"
        " (SELECT list(path) FROM duckdb_databases() WHERE path IS NOT NULL) AS files",
    )

    assert response.status_code == 200, response.text
    ((external, locked, memory, threads, files),) = response.json()["rows"]
    assert (external, locked, threads) == (False, True, 2)
    assert memory.startswith("244.1 MiB")  # 256 MB
    assert [Path(f).parent.name for f in files] == ["analyst"]
    settings = run_sql(guarded["sidecar"], "SELECT name, value FROM duckdb_settings()")
    assert settings.status_code == 200 and len(settings.json()["rows"]) > 100
    for canary in CANARIES:
        assert canary not in settings.text


@pytest.mark.slow
@DUCKDB_SANDBOX
def test_every_process_that_runs_analyst_sql_has_no_secret(guarded):
    """While a query runs, its process's environment holds no secret and its limits hold."""
    found: list[dict[str, Any]] = []
    answers: list[requests.Response] = []
    runaway = threading.Thread(target=lambda: answers.append(run_sql(guarded["sidecar"], RUNAWAY)))
    runaway.start()
    while runaway.is_alive() and not found:
        found = [s for s in _sandboxes(guarded["pid"]) if s["environ"]]
    runaway.join(60)

    assert found, "no sandbox seen while the query ran"
    (sandbox,) = found
    assert set(sandbox["environ"]) <= {"PATH", "LANG", "HOME", "MALLOC_ARENA_MAX"}
    for canary in CANARIES:
        assert canary.encode() not in sandbox["raw"]
    assert sandbox["limits"]["Max address space"] == 256_000_000 + 1024 * 1024 * 1024
    assert sandbox["limits"]["Max cpu time"] == 12
    assert answers[0].status_code == 408


def _sandboxes(web_pid: int) -> list[dict[str, Any]]:
    sandboxes = []
    children = Path(f"/proc/{web_pid}/task/{web_pid}/children").read_text().split()
    for pid in children:
        try:
            if b"analyst_sandbox" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            raw = Path(f"/proc/{pid}/environ").read_bytes()
            limits = Path(f"/proc/{pid}/limits").read_text().splitlines()
        except OSError:  # it ended in between
            continue
        if "Max cpu time" not in "".join(limits) or _limit(limits, "Max cpu time") is None:
            continue  # not limited yet: it limits itself before it opens DuckDB
        environ = dict(v.split(b"=", 1) for v in raw.split(b"\0") if b"=" in v)
        sandboxes.append({
            "raw": raw,
            "environ": {k.decode(): v for k, v in environ.items()},
            "limits": {n: _limit(limits, n) for n in ("Max address space", "Max cpu time")},
        })  # fmt: skip
    return sandboxes


def _limit(lines: list[str], name: str) -> int | None:
    for line in lines:
        if line.startswith(name):
            soft = line[len(name) :].split()[0]
            return None if soft == "unlimited" else int(soft)
    return None


@pytest.mark.parametrize(
    "query",
    [
        "SELECT " + "(" * 10_000 + "1" + ")" * 10_000,
        "SELECT " + "[" * 10_000 + "1" + "]" * 10_000,
        "SELECT " + " + ".join(["1"] * 20_000),
        "SELECT 1 FROM orders " + "JOIN orders USING (order_id) " * 2_000,
    ],
    ids=["parentheses", "lists", "sum", "joins"],
)
def test_deeply_nested_sql_is_refused_not_a_server_error(guarded, query: str):
    response = run_sql(guarded["sidecar"], query)

    assert response.status_code in (400, 408, 422), response.text
    assert response.json()["error"] in ("refused", "query_failed", "timeout")


@pytest.mark.slow
@DUCKDB_SANDBOX
def test_memory_and_time_bombs_are_stopped_while_a_webhook_burst_is_acknowledged(guarded):
    sidecar: Sidecar = guarded["sidecar"]
    answers: dict[str, requests.Response] = {}
    bombs = [
        threading.Thread(target=lambda n=name, q=query: answers.__setitem__(n, run_sql(sidecar, q)))
        for name, query in (("memory", MEMORY_BOMB), ("time", RUNAWAY))
    ]
    for bomb in bombs:
        bomb.start()
    events, delivered = [], []
    session = requests.Session()
    while any(bomb.is_alive() for bomb in bombs) or len(events) < 200:
        event = make_event(type="customer.updated", data={"object": {"id": "cus_burst"}})
        events.append(event)
        delivered.append(sidecar.deliver(event, session=session).status_code)
    for bomb in bombs:
        bomb.join(60)
    after = [sidecar.deliver(make_event()).status_code for _ in range(20)]

    assert set(delivered) == {200} and set(after) == {200}
    assert sidecar.inbox_row(events[-1]["id"]) is not None
    assert answers["memory"].status_code == 422, answers["memory"].text
    assert answers["memory"].json()["error"] == "out_of_memory"
    assert "used more than 256MB" in answers["memory"].json()["message"]
    assert answers["time"].status_code == 408, answers["time"].text
    assert "stopped after 5 s" in answers["time"].json()["message"]
    assert requests.get(sidecar.url + "/readyz", timeout=10).status_code == 200
    again = run_sql(sidecar, "SELECT count(*) FROM webhook_inbox WHERE object_id = 'cus_burst'")
    assert again.status_code == 200 and again.json()["rows"] == [[len(events)]]


def test_answers_say_how_fresh_the_data_is(guarded):
    sidecar: Sidecar = guarded["sidecar"]
    event = make_event(type="customer.updated", data={"object": {"id": "cus_fresh"}})
    assert sidecar.deliver(event).status_code == 200

    response = run_sql(sidecar, "SELECT count(*) FROM webhook_inbox WHERE object_id = 'cus_fresh'")

    assert response.status_code == 200
    assert response.json()["rows"] == [[1]]  # ANALYST_SQL_MAX_AGE_SECONDS=0 in the suite
    stamp = response.json()["data_as_of"]
    assert stamp.endswith("Z") and stamp[:10] == "2026-11-25"  # SUITE_NOW in UTC


@DUCKDB_SANDBOX
def test_a_copy_is_reused_until_it_is_older_than_the_maximum_age(start_sidecar_process):
    sidecar = start_sidecar_process(ANALYST_SQL_MAX_AGE_SECONDS="3600")
    count = "SELECT count(*) FROM webhook_inbox WHERE object_id = 'cus_later'"
    first = run_sql(sidecar, count)
    later = make_event(type="customer.updated", data={"object": {"id": "cus_later"}})
    assert sidecar.deliver(later).status_code == 200

    second = run_sql(sidecar, count)

    assert first.json()["rows"] == second.json()["rows"] == [[0]]
    assert second.json()["data_as_of"] == first.json()["data_as_of"]

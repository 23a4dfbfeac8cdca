"""`tinkertank db copy` and the PostgreSQL export at scale (`python -m bench db_copy`).

`bench/million.py`'s `build` writes a DuckDB file of `BENCH_COPY_ORDERS` (100,000) orders
with everything around them (items, students, bookings, events, steps, outbox, inbox with
payloads, refunds, error log, tickets); a throwaway PostgreSQL server
(`tests/postgres_server.py`, or `TEST_DATABASE_URL`'s) gets an empty database; then the
copy is timed (one transaction, counts and sums checked), and a sidecar on the copy is
asked for a Parquet export (`POST /api/export`), timed against the DuckDB sidecar's own.
Printed: rows, seconds, rows a second. No target: a figure to record.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.million import build
from runtime.sidecar_process import free_port, start_sidecar
from store import database_copy
from tests.conftest import ADMIN_TOKEN, sidecar_env
from tests.postgres_server import PostgresServer

ORDERS = int(os.environ.get("BENCH_COPY_ORDERS", "100000"))


def _export_seconds(url: str, root: Path, name: str) -> float:
    (root / name).mkdir()
    env = sidecar_env(root / name, DATABASE_URL=url, DATA_DIR=str(root / name))
    server = start_sidecar(free_port(), env, log_path=root / f"{name}.log")
    try:
        started = time.monotonic()
        answer = requests.post(
            server.url + "/api/export",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=3600,
        )
        answer.raise_for_status()
        return time.monotonic() - started
    finally:
        server.stop()


def main() -> int:
    server = (
        PostgresServer(os.environ["TEST_DATABASE_URL"])
        if os.environ.get("TEST_DATABASE_URL")
        else PostgresServer.start()
    )
    try:
        with tempfile.TemporaryDirectory(prefix="bench-copy-") as tmp:
            root = Path(tmp)
            source = root / "source.duckdb"
            build(source, ORDERS, datetime.now(UTC).replace(tzinfo=None))
            target = server.create_database()
            copied = database_copy.copy_database(
                str(source), target, datetime.now(UTC).replace(tzinfo=None), say=lambda _: None
            )
            rows = sum(copied.rows.values())
            print(
                f"db copy: {ORDERS} orders, {rows} rows of {len(copied.rows)} tables in"
                f" {copied.elapsed_seconds:.1f} s ({rows / copied.elapsed_seconds:,.0f} rows/s),"
                " counts and sums checked"
            )
            duck = _export_seconds(f"duckdb:///{source}", root, "duck")
            pg = _export_seconds(target, root, "pg")
            print(f"export: DuckDB {duck:.1f} s, PostgreSQL {pg:.1f} s ({pg / duck:.1f}x)")
    finally:
        server.stop()
    return 0

"""The daily summary, the trends and the Parquet export over two years of a busy business.

`python -m bench analyst` (BENCH_ANALYST_ORDERS, default 1,000,000) builds the database of
`python -m bench million` (bench/million.py: orders over two years with their items,
students, bookings, events, steps, messages, inbox events, refunds, errors and tickets),
then a real sidecar serves it and the staff API is timed:

- `POST /api/summaries/run` for a day six months back (target: 1 s);
- `GET /api/trends?days=30`;
- `POST /api/export` (target: 5 s);
- `POST /api/sql` with a grouped count over all orders.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from bench import million
from bench.servers import ADMIN_TOKEN, start_sidecar_for_bench
from core.summary import local_today
from runtime.sidecar_process import free_port

ORDERS = int(os.environ.get("BENCH_ANALYST_ORDERS", "1000000"))
SECRET = "whsec_bench_analyst_0123456789"


def _timed(call, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-analyst-") as work:
        path = Path(work) / "analyst.duckdb"
        started = time.perf_counter()
        now = datetime.now(UTC).replace(tzinfo=None)
        million.build(path, ORDERS, now)  # the same business as the staff API bench
        size = path.stat().st_size / 1e6
        print(f"analyst: {ORDERS:,} orders generated in"
              f" {time.perf_counter() - started:.1f} s ({size:.0f} MB)")  # fmt: skip
        server = start_sidecar_for_bench(free_port(), SECRET, path)
        try:
            return _measure(server.url, now)
        finally:
            server.stop()


def _measure(url: str, now: datetime) -> int:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    from zoneinfo import ZoneInfo

    day = local_today(now, ZoneInfo("Australia/Sydney")) - timedelta(days=180)

    def post(path: str, body: dict | None = None) -> dict:
        response = session.post(url + path, json=body, timeout=120)
        response.raise_for_status()
        return response.json()

    summary_s, answer = _timed(lambda: post("/api/summaries/run", {"date": str(day)}), 5)
    figures = answer["summary"]["figures"]
    trends_s, _ = _timed(lambda: session.get(url + "/api/trends?days=30", timeout=120).json(), 3)
    export_s, exported = _timed(lambda: post("/api/export"), 3)
    sql_s, _ = _timed(
        lambda: post("/api/sql", {"sql": "SELECT payment_status, count(*), sum(amount_paid)"
                                         " FROM orders GROUP BY ALL"}), 3)  # fmt: skip
    rows = sum(exported["tables"].values())
    print(f"analyst: summary of {day} ({figures['orders']['paid']:,} orders paid, revenue"
          f" {figures['revenue']['total'] / 100:,.2f}): {summary_s * 1000:.0f} ms"
          f" (target 1000 ms)")  # fmt: skip
    print(f"analyst: trends over 30 days: {trends_s * 1000:.0f} ms")
    print(f"analyst: export of {rows:,} rows in {len(exported['tables'])} tables:"
          f" {export_s * 1000:.0f} ms (target 5000 ms)")  # fmt: skip
    print(f"analyst: a grouped count of every order (POST /api/sql): {sql_s * 1000:.0f} ms")
    return 0 if summary_s <= 1.0 and export_s <= 5.0 else 1

"""How long each dashboard page takes to render, under Streamlit's AppTest, against a real
sidecar (the issue's target: at most 2 s a page with a million orders).

    python -m bench.dashboard_pages                       # a fresh sidecar, simulated orders
    python -m bench.dashboard_pages --database big.duckdb # a sidecar on an existing database
    python -m bench.dashboard_pages --url http://127.0.0.1:8000   # one already running

A page's time is one full script run after login: every API call it makes plus Streamlit's
own work (AppTest runs the script in-process; a browser adds its drawing on top). Each page
is rendered `--runs` times; the first run of each is its cold start (imports, caches).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from bench.servers import ADMIN_TOKEN, free_port, start_sidecar_for_bench
from cli import simulate
from core.catalog_file import load_catalog
from core.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "dashboard" / "app.py"
SECRET = "whsec_bench_dashboard_0123456789"
PAGES = ("live", "orders", "calendar", "webhooks", "errors", "summaries", "support", "sql")


def render_times(url: str, token: str, runs: int) -> dict[str, list[float]]:
    settings = load_settings(
        {"ADMIN_TOKEN": token, "SIDECAR_URL": url, "DASHBOARD_PASSWORD": "bench"}, client=True
    )
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state["settings"] = settings
    at.session_state["staff"] = "bench"
    at.run()
    times: dict[str, list[float]] = {}
    for page in PAGES:
        at.switch_page(f"pages/{page}.py")
        for _ in range(runs):
            started = time.perf_counter()
            at.run()
            times.setdefault(page, []).append(time.perf_counter() - started)
        for trouble in [*at.exception, *at.error]:
            print(f"{page}: {trouble.value}", file=sys.stderr)
    # An order's detail: the Orders page with the newest order opened.
    at.switch_page("pages/orders.py").run()
    newest = at.dataframe[0].value["Order"].iloc[0] if at.dataframe else None
    if newest:
        at.text_input(key="orders-open").input(newest)
        for _ in range(runs):
            started = time.perf_counter()
            at.run()
            times.setdefault("orders + detail", []).append(time.perf_counter() - started)
    return times


def report(times: dict[str, list[float]], what: str) -> None:
    print(f"\nDashboard pages under AppTest ({what}); seconds per full render")
    print(f"{'page':<18}{'cold':>8}{'median':>8}{'max':>8}")
    for page, seconds in times.items():
        warm = seconds[1:] or seconds
        print(f"{page:<18}{seconds[0]:>8.2f}{statistics.median(warm):>8.2f}{max(warm):>8.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard_pages")
    parser.add_argument("--url", help="a running sidecar (ADMIN_TOKEN from the environment)")
    parser.add_argument("--database", type=Path, help="start a sidecar on this DuckDB file")
    parser.add_argument("--orders", type=int, default=300, help="simulated orders (fresh run)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    if args.url:
        report(render_times(args.url, os.environ["ADMIN_TOKEN"], args.runs), args.url)
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        database = args.database or Path(scratch) / "dashboard.duckdb"
        server = start_sidecar_for_bench(free_port(), SECRET, database)
        try:
            what = str(args.database)
            if args.database is None:
                catalog = load_catalog(REPO / "data" / "catalog.toml")
                simulate.run(server.url, catalog, SECRET, args.orders, rate=200, quiet=True)
                time.sleep(2)  # let fulfilment finish
                what = f"{args.orders} simulated orders"
            report(render_times(server.url, ADMIN_TOKEN, args.runs), what)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fulfilment: orders per second from delivery to bookings and events, and the lag.

The orders are placed as `POST /api/checkout` places them (validated carts, holds taken)
straight into the bench database before the sidecar starts, two camp days each. Then the
sidecar receives each order's paid `checkout.session.completed`: it records the payment,
turns the holds into taken places and books both days, the whole pipeline. The catalog is
the demo catalog with capacities raised so that no order conflicts.

1. Throughput: a burst of `ORDERS` deliveries, then the time until all are fulfilled.
2. Lag: deliveries at a steady `RATE` per second for `LAG_SECONDS`; per order, the time from
   the 200 to the schedule_events step being committed (read from the database afterwards).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import requests

from bench.servers import ADMIN_TOKEN, start_sidecar_for_bench
from cli.simulate import signed_delivery
from core.cart_rules import validate_checkout
from core.catalog_file import load_catalog
from core.settings import DatabaseLocation
from core.simulation import checkout_session, event_envelope
from runtime.sidecar_process import free_port
from store import orders
from store.database import Database

ORDERS = int(os.environ.get("BENCH_ORDERS", "20000"))
RATE = int(os.environ.get("BENCH_RATE", "100"))
LAG_SECONDS = int(os.environ.get("BENCH_LAG_SECONDS", "20"))
REPO = Path(__file__).resolve().parent.parent


def bench_catalog(directory: Path) -> Path:
    text = (REPO / "data" / "catalog.toml").read_text()
    path = directory / "catalog.toml"
    path.write_text(re.sub(r"(?m)^capacity = \d+", "capacity = 1000000", text))
    return path


def place_orders(
    database: Path | DatabaseLocation, catalog_path: Path, count: int
) -> list[tuple[str, int]]:
    """`count` pending two-camp-day orders, as checkout stores them: (order id, total), in
    a DuckDB file or at a location (bench/postgres_ingest.py)."""
    catalog = load_catalog(catalog_path)
    # Two consecutive days of one camp, so that one child's age suits both.
    pairs = [
        (camp.id, camp.dates[i], camp.dates[i + 1], camp.min_age)
        for camp in catalog.camps
        for i in range(len(camp.dates) - 1)
    ]
    if isinstance(database, Path):
        database = DatabaseLocation("duckdb", str(database))
    store = Database.open(database)
    placed, pending = [], []
    try:
        now = datetime.now(UTC)
        for n in range(count):
            camp, day1, day2, age = pairs[n % len(pairs)]
            student = {"name": f"Student {n}", "age": age}
            body = {
                "customer": {"email": f"p{n}@example.com", "name": "Pat Parent"},
                "items": [
                    {"product_id": camp, "date": str(day1), "session": "day", "student": student},
                    {"product_id": camp, "date": str(day2), "session": "all_day",
                     "student": student},
                ],
            }  # fmt: skip
            cart = validate_checkout(body, catalog, today=date(2026, 12, 1))
            order_id = orders.new_id("ord")
            new = orders.new_order(order_id, cart, catalog, now)
            pending.append(store.submit(orders.place_order, new))
            placed.append((order_id, cart.amount_total))
        for future in pending:
            assert future.result() == [], "the bench catalog ran out of places"
    finally:
        store.close()
    return placed


def deliveries(placed: list[tuple[str, int]], secret: str, tag: str) -> list:
    now = int(time.time())
    out = []
    for n, (order_id, total) in enumerate(placed):
        session = checkout_session(
            f"cs_test_{tag}{n:07d}",
            order_id,
            now,
            total,
            f"p{n}@example.com",
            "Pat Parent",
            f"pi_{tag}{n:07d}{secrets.token_hex(3)}",
        )
        event = event_envelope(f"evt_{tag}{n:08d}", "checkout.session.completed", session, now)
        out.append(signed_delivery(event, secret, now))
    return out


def post_all(url: str, batch: list, rate: float | None = None) -> None:
    session_local = threading.local()
    start = time.monotonic()

    def post(indexed):
        index, (body, header) = indexed
        if rate:
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        session = getattr(session_local, "s", None) or requests.Session()
        session_local.s = session
        response = session.post(
            url + "/webhooks/stripe",
            data=body.encode(),
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            timeout=30,
        )
        response.raise_for_status()

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(post, enumerate(batch)))


def fulfilled(url: str) -> int:
    counts = requests.get(
        url + "/api/orders/counts", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
    ).json()
    done = counts["fulfillment_status"]
    return sum(done.get(s, 0) for s in ("fulfilled", "needs_attention", "cancelled"))


def wait_fulfilled(url: str, target: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fulfilled(url) >= target:
            return time.monotonic()
        time.sleep(0.2)
    raise TimeoutError(f"only {fulfilled(url)} of {target} orders fulfilled in {timeout:.0f} s")


def lags(database: Path) -> list[float]:
    conn = duckdb.connect(str(database), read_only=True)
    try:
        rows = conn.execute(
            "SELECT epoch(s.finished_at) - epoch(i.received_at) FROM webhook_inbox i"
            " JOIN orders o ON o.checkout_session_id = i.object_id"
            " JOIN fulfilment_steps s ON s.order_id = o.order_id AND s.step = 'schedule_events'"
            " WHERE i.event_id LIKE 'evt_l%' AND s.status = 'done'"
        ).fetchall()
    finally:
        conn.close()
    return sorted(r[0] for r in rows)


def main() -> int:
    secret = "whsec_bench_" + secrets.token_hex(8)
    work = Path(tempfile.mkdtemp(prefix="tinkertank-fulfil-"))
    catalog = bench_catalog(work)
    env = {"CATALOG_PATH": str(catalog)}
    print(f"\nfulfilment: {ORDERS:,} two-item camp orders as a burst …", flush=True)
    burst = deliveries(place_orders(work / "burst.duckdb", catalog, ORDERS), secret, "b")
    sidecar = start_sidecar_for_bench(free_port(), secret, work / "burst.duckdb", env)
    try:
        started = time.monotonic()
        post_all(sidecar.url, burst)
        acked = time.monotonic()
        finished = wait_fulfilled(sidecar.url, ORDERS, timeout=max(120, ORDERS / 5))
        print(f"  acknowledged in {acked - started:.1f} s; all fulfilled after "
              f"{finished - started:.1f} s: {ORDERS / (finished - started):,.0f} orders/s "
              "(target >= 300)")  # fmt: skip
    finally:
        sidecar.stop()

    count = RATE * LAG_SECONDS
    print(f"lag: {RATE} orders/s for {LAG_SECONDS} s …", flush=True)
    database = work / "lag.duckdb"
    steady = deliveries(place_orders(database, catalog, count), secret, "l")
    sidecar = start_sidecar_for_bench(free_port(), secret, database, env)
    try:
        post_all(sidecar.url, steady, rate=RATE)
        wait_fulfilled(sidecar.url, count, timeout=max(120, count / 5))
    finally:
        sidecar.stop()
    measured = lags(database)
    p50 = statistics.median(measured)
    p95 = measured[int(len(measured) * 0.95) - 1]
    print(f"  {len(measured):,} orders: lag p50 {p50:.2f} s, p95 {p95:.2f} s  (target p95 <= 2 s)")
    print(json.dumps({"orders_per_s": ORDERS / (finished - started), "lag_p50": p50,
                      "lag_p95": p95}))  # fmt: skip
    return 0

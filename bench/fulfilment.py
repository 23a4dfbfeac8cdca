"""Fulfilment: orders per second from delivery to bookings and events, and the lag.

Orders come as the storefront's own PaymentIntents carrying a two-item camp cart in their
metadata (`payment_intent.succeeded`): each one creates an order, records the payment,
takes the places and books both days, the whole pipeline with no Stripe API call. The
catalog is the demo catalog with capacities raised so that no order conflicts.

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
from datetime import date
from pathlib import Path

import duckdb
import requests

from bench.servers import ADMIN_TOKEN, start_sidecar_for_bench
from core.cart import encode_metadata_cart
from core.catalog import load_catalog
from core.simulation import event_envelope, payment_intent, signed_delivery
from webhook.processes import free_port

ORDERS = int(os.environ.get("BENCH_ORDERS", "2000"))
RATE = int(os.environ.get("BENCH_RATE", "100"))
LAG_SECONDS = int(os.environ.get("BENCH_LAG_SECONDS", "20"))
REPO = Path(__file__).resolve().parent.parent


def bench_catalog(directory: Path) -> Path:
    text = (REPO / "data" / "catalog.toml").read_text()
    path = directory / "catalog.toml"
    path.write_text(re.sub(r"(?m)^capacity = \d+", "capacity = 1000000", text))
    return path


def camp_days(catalog_path: Path) -> list[tuple[str, date]]:
    catalog = load_catalog(catalog_path)
    return [(camp.id, day) for camp in catalog.camps for day in camp.dates]


def deliveries(count: int, secret: str, days: list[tuple[str, date]], tag: str) -> list:
    now = int(time.time())
    out = []
    for n in range(count):
        (camp, day1), (_, day2) = days[n % len(days)], days[(n + 1) % len(days)]
        camp2 = days[(n + 1) % len(days)][0]
        student = {"name": f"Student {n}", "age": 9}
        items = [
            {"product_id": camp, "date": day1.isoformat(), "session": "day", "student": student},
            {"product_id": camp2, "date": day2.isoformat(), "session": "all_day",
             "student": student},
        ]  # fmt: skip
        metadata = encode_metadata_cart(items, {"email": f"p{n}@example.com", "name": "P"})
        pi = payment_intent(
            f"pi_{tag}{n:07d}{secrets.token_hex(3)}", now, 20800, metadata, "p@x.au"
        )
        event = event_envelope(f"evt_{tag}{n:08d}", "payment_intent.succeeded", pi, now)
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
    done = counts["fulfillment"]
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
            " JOIN orders o ON o.payment_intent_id = i.object_id"
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
    days = camp_days(catalog)
    env = {"CATALOG_PATH": str(catalog)}
    print(f"\nfulfilment: {ORDERS:,} two-item camp orders as a burst …", flush=True)
    burst = deliveries(ORDERS, secret, days, "b")
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
    steady = deliveries(count, secret, days, "l")
    database = work / "lag.duckdb"
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

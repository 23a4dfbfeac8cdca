"""The daily summary, the trends and the Parquet export over a year of a busy business.

`python -m bench analyst` (BENCH_ANALYST_ORDERS, default 1,000,000) fills a database with
that many orders spread evenly over the last 365 days, made set-based in SQL (a few
seconds, not hours of webhooks): their items (one in two orders has two), students,
bookings into 20,000 events, five fulfilment steps each, two inbox events each, 3% refunds,
Ignite renewal invoices, error-log entries and tickets. Then a real sidecar serves it and
the staff API is timed:

- `POST /api/summaries/run` for a day in the middle of the year (target: 1 s);
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

import duckdb
import requests

from bench.servers import ADMIN_TOKEN, start_sidecar_for_bench
from core.settings import DatabaseLocation
from core.store.database import CATALOG, Database
from core.summary import local_today
from webhook.processes import free_port

ORDERS = int(os.environ.get("BENCH_ANALYST_ORDERS", "1000000"))
EVENTS = 20_000
DAYS = 365
SECRET = "whsec_bench_analyst_0123456789"


def fill(path: Path, orders: int, end: datetime) -> None:
    """`orders` orders and everything around them, in time order, ending at `end`."""
    Database.open(DatabaseLocation("duckdb", str(path))).close()  # the schema
    start = end - timedelta(days=DAYS)
    step = DAYS * 86400 / orders  # seconds between orders
    conn = duckdb.connect()
    conn.execute(f"ATTACH '{path}' AS {CATALOG}")
    conn.execute(f"USE {CATALOG}")
    params = {"n": orders, "start": start, "step": step, "events": EVENTS}

    def run(sql: str) -> None:
        conn.execute(sql.format(**{k: _literal(v) for k, v in params.items()}))

    run("""
        INSERT INTO orders (order_id, source, mode, payment_status, fulfillment_status,
            customer_email, customer_name, currency, amount_total, amount_paid,
            amount_refunded, payment_intent_id, created_at, updated_at, paid_at)
        SELECT 'ord_' || i, 'metadata',
            CASE WHEN i % 7 = 3 THEN 'subscription' ELSE 'payment' END,
            CASE WHEN i % 33 = 0 THEN 'refunded' ELSE 'paid' END,
            CASE WHEN i % 33 = 0 THEN 'cancelled' ELSE 'fulfilled' END,
            'parent' || i || '@example.com', 'Parent ' || i, 'aud',
            CASE WHEN i % 2 = 0 THEN 17800 ELSE 8900 END,
            CASE WHEN i % 2 = 0 THEN 17800 ELSE 8900 END,
            CASE WHEN i % 33 = 0 THEN (CASE WHEN i % 2 = 0 THEN 17800 ELSE 8900 END) ELSE 0 END,
            'pi_' || i, created, created, created + INTERVAL 1 MINUTE
        FROM (SELECT range AS i, {start} + to_microseconds(CAST(range * {step} * 1e6 AS BIGINT))
              AS created FROM range({n}))
    """)
    run("""
        INSERT INTO students (student_id, order_id, name, age, notes)
        SELECT 'stu_' || range, 'ord_' || range, 'Child ' || range, 5 + range % 8,
               CASE WHEN range % 10 = 0 THEN 'nut allergy' END FROM range({n})
    """)
    run("""
        INSERT INTO order_items (order_item_id, order_id, position, product_id, kind, item_date,
            session, student_id, unit_amount)
        SELECT 'ord_' || i || ':' || p, 'ord_' || i, p,
            CASE WHEN i % 7 = 3 THEN 'ignite-coding-monday' WHEN i % 7 = 5 THEN 'slime-lab-party'
                 ELSE 'summer-robotics' END,
            CASE WHEN i % 7 = 3 THEN 'ignite' WHEN i % 7 = 5 THEN 'party' ELSE 'camp' END,
            DATE '2027-01-04' + CAST(i % 5 AS INTEGER), 'day', 'stu_' || i, 8900
        FROM range({n}) r(i), range(2) q(p) WHERE p = 0 OR i % 2 = 0
    """)
    run("""
        INSERT INTO events (event_id, slot_key, kind, product_id, title, venue_id, room_id,
            starts_at, ends_at, capacity, status, uid, created_at, updated_at)
        SELECT 'evt_' || e, 'slot:' || e, CASE WHEN e % 7 = 5 THEN 'party' ELSE 'camp' END,
            'summer-robotics', 'Event ' || e, 'marrickville', 'workshop', s,
            s + INTERVAL 6 HOUR, 24, 'scheduled', 'uid-' || e, s, s
        FROM (SELECT range AS e, {start} + to_microseconds(CAST(range * 86400.0 * 400 / {events}
              * 1e6 AS BIGINT)) AS s FROM range({events}))
    """)
    run("""
        INSERT INTO bookings (booking_id, order_id, order_item_id, student_id, event_id, status,
            created_at, updated_at)
        SELECT 'bkg_' || i.order_item_id, i.order_id, i.order_item_id, i.student_id,
            'evt_' || (hash(i.order_item_id) % {events}),
            CASE WHEN o.payment_status = 'refunded' THEN 'cancelled' ELSE 'confirmed' END,
            o.paid_at + INTERVAL 2 SECOND, o.paid_at + INTERVAL 2 SECOND
        FROM order_items i JOIN orders o USING (order_id)
    """)
    run("""
        INSERT INTO fulfilment_steps (order_id, step, status, attempts, updated_at, finished_at)
        SELECT o.order_id, s.step, 'done', 1, o.paid_at, o.paid_at + INTERVAL 3 SECOND
        FROM orders o, (VALUES ('record_payment'), ('create_bookings'), ('schedule_events'),
            ('send_confirmation'), ('notify_staff')) s(step)
    """)
    run("""
        INSERT INTO webhook_inbox (event_id, type, object_id, livemode, api_version, created_at,
            payload, received_at, status, attempts, processed_at)
        SELECT 'evt_' || o.order_id || '_' || k, CASE k WHEN 0 THEN 'payment_intent.succeeded'
            ELSE 'charge.succeeded' END, o.payment_intent_id, false, '2025-09-30.clover',
            o.paid_at, '{{"id": "evt"}}', o.paid_at,
            CASE k WHEN 0 THEN 'processed' ELSE 'ignored' END, 1,
            o.paid_at + INTERVAL 300 MILLISECOND
        FROM orders o, range(2) r(k)
    """)
    run("""
        INSERT INTO refunds (refund_key, order_id, amount, currency, refunded_at)
        SELECT order_id || ':' || amount_refunded, order_id, amount_refunded, currency,
               paid_at + INTERVAL 2 DAY FROM orders WHERE amount_refunded > 0
    """)
    run("""
        INSERT INTO enrolments (enrolment_id, order_id, order_item_id, student_id, product_id,
            subscription_id, status, updated_at)
        SELECT 'enr_' || order_item_id, order_id, order_item_id, student_id, product_id,
            'sub_' || order_id, 'active', {start} FROM order_items WHERE kind = 'ignite'
    """)
    run("""
        INSERT INTO enrolment_periods (invoice_id, enrolment_id, period_start, period_end,
            amount_paid, paid_at)
        SELECT 'in_' || e.enrolment_id || '_' || m || ':' || e.enrolment_id, e.enrolment_id,
            o.paid_at + to_days(CAST(30 * m AS INTEGER)),
            o.paid_at + to_days(CAST(30 * (m + 1) AS INTEGER)), 14900,
            o.paid_at + to_days(CAST(30 * m AS INTEGER))
        FROM enrolments e JOIN orders o USING (order_id), range(3) r(m)
    """)
    run("""
        INSERT INTO error_log (error_id, category, severity, message, order_id, created_at)
        SELECT 'err_' || order_id, 'email', CASE WHEN hash(order_id) % 4 = 0 THEN 'high'
            ELSE 'medium' END, 'bench', order_id, paid_at FROM orders
        WHERE hash(order_id) % 50 = 0
    """)
    run("""
        INSERT INTO support_tickets (ticket_id, order_id, email, category, message, status,
            created_at, updated_at)
        SELECT 'TT-' || order_id, order_id, customer_email, 'other', 'help',
            CASE WHEN hash(order_id) % 3 = 0 THEN 'open' ELSE 'resolved' END, paid_at, paid_at
        FROM orders WHERE hash(order_id) % 200 = 0
    """)
    conn.execute("CHECKPOINT")
    conn.close()


def _literal(value: object) -> str:
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S}'"
    return str(value)


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
        fill(path, ORDERS, now)
        size = path.stat().st_size / 1e6
        print(f"analyst: {ORDERS:,} orders over {DAYS} days generated in"
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

    day = local_today(now, ZoneInfo("Australia/Sydney")) - timedelta(days=DAYS // 2)

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

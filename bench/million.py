"""The staff API at scale: a database of a million orders, and how fast every read answers.

1. `build` writes a DuckDB file with `BENCH_MILLION_ORDERS` (1,000,000) orders of two years
   and their items, students, holds, bookings, calendar events, enrolments, steps, outbox
   messages, inbox events (with payloads), refunds, error-log entries and tickets. It is
   set-based SQL (`INSERT … SELECT` from `range()`), a minute or so, not a Python loop.
   The data is consistent the way the pipeline leaves it: paid orders are fulfilled with
   five steps done, two sent messages and their Stripe events; refunded orders have
   cancelled bookings and a refund; a few recent orders need attention with a failed step.
2. The real sidecar (`start_sidecar`) is started on the file and each read the dashboard
   makes is timed with `requests`: first and deep pages, a search by email, filters, an
   order's detail, a month of events, a roster, the KPIs, the 30-day trends, the Live and
   Webhooks pages' counts, the Summaries page's webhook lag and 16 weeks of fill, the
   Check-in page's day … Printed:
   p50/p95 per read and the sidecar's RSS (web and store processes).
3. Then the same sidecar gets its first webhooks: bursts from `wrk` at 64 connections while
   one client cycles through the same reads, then an export (`bench/million_load.py`).
   Every figure is printed with its target and PASS or FAIL: each read's p95 idle
   (<= 100 ms) and under the bursts (<= 300 ms), each burst's webhook p99 (<= 250 ms),
   non-2xx answers (none), the RSS after reads, bursts and the export (<= 400 MB).

`BENCH_MILLION_REQUESTS` (40) sets the timed requests per read. `BENCH_MILLION_DATABASE`
names a file to keep (or to measure again without building; the bursts then write to a copy
of it); `DUCKDB_MEMORY_LIMIT` is passed on to the sidecar. `BENCH_MILLION_LOAD=0` skips the
bursts; `BENCH_MILLION_BURSTS` (3), `BENCH_MILLION_BURST_SECONDS` (8) and
`BENCH_MILLION_BURST_DELIVERIES` size them.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import requests

from bench import million_activity, million_load
from bench.million_names import (
    CAMPS,
    CHILD_NAMES,
    DOMAINS,
    FIRST_NAMES,
    IGNITE,
    LAST_NAMES,
    NOTES,
    PARTIES,
    pick,
    titles_of,
)
from bench.servers import ADMIN_TOKEN, rss_mb, start_sidecar_for_bench
from core.business_days import local_today
from runtime.sidecar_process import free_port
from store import schema
from store.database import CATALOG, ROW_GROUP_SIZE

ORDERS = int(os.environ.get("BENCH_MILLION_ORDERS", "1000000"))
REQUESTS = int(os.environ.get("BENCH_MILLION_REQUESTS", "40"))  # timed per read
LOAD = os.environ.get("BENCH_MILLION_LOAD", "1") != "0"  # the bursts (bench/million_load.py)
IDLE_P95_MS = 100
HISTORY_DAYS = 730  # orders span the last two years
AHEAD_DAYS = 120  # items are for up to ~90 days after the order; classes run a month on
LOCAL_OFFSET_HOURS = 10  # Sydney standard time; near enough for made-up event times
FILL = 0.7  # how full the made-up events are, on average
SHARES = {"camp": 0.78, "party": 0.08, "ignite": 0.14}  # of items
CAPACITY = {"camp": 24, "party": 1, "ignite": 14}
IGNITE_WEEKS = 4  # classes booked per Ignite item
SYDNEY = ZoneInfo("Australia/Sydney")  # the demo catalog's time zone


def events_per_day(orders: int) -> dict[str, int]:
    """How many events of each kind a day has, so that the bookings fill them to ~FILL."""
    items = orders * 1.5
    days = HISTORY_DAYS + 60
    per_item = {"camp": 1, "party": 1, "ignite": IGNITE_WEEKS}
    return {
        kind: max(1, math.ceil(items * share * per_item[kind] / days / (CAPACITY[kind] * FILL)))
        for kind, share in SHARES.items()
    }


def build(path: Path, orders: int, now: datetime) -> dict[str, float]:
    """Write the database; returns the seconds each table took."""
    config = {"memory_limit": "3GB", "temp_directory": str(path.parent / "duckdb-temp")}
    conn = duckdb.connect(":memory:", config=config)
    conn.execute("SET enable_progress_bar = false")
    conn.execute(f"ATTACH '{path}' AS {CATALOG} (ROW_GROUP_SIZE {ROW_GROUP_SIZE})")
    conn.execute(f"USE {CATALOG}")
    schema.migrate(conn, now)
    timings: dict[str, float] = {}
    per_day = events_per_day(orders)
    start = now - timedelta(days=HISTORY_DAYS)
    first_day = start.date() - timedelta(days=1)
    event_days = HISTORY_DAYS + AHEAD_DAYS + 7 * IGNITE_WEEKS
    step_us = HISTORY_DAYS * 86_400_000_000 // orders
    constants = {
        "n": orders,
        "start": start.isoformat(sep=" "),
        "now": now.isoformat(sep=" "),
        "first_day": first_day.isoformat(),
        "step_us": step_us,
        "customers": max(orders // 3, 1),
        "offset": LOCAL_OFFSET_HOURS,
        "camps": per_day["camp"],
        "parties": per_day["party"],
        "ignites": per_day["ignite"],
    }

    def run(name: str, sql: str) -> None:
        began = time.monotonic()
        conn.execute(sql.format(**constants))
        timings[name] = time.monotonic() - began

    # The orders' own facts, once, for every table below to derive from (TEMP: in memory).
    run("plan", f"""
        CREATE TEMP TABLE g AS
        SELECT i, 'ord_' || substr(md5('o' || i), 1, 22) AS order_id,
               TIMESTAMP '{{start}}' + to_microseconds(i * {{step_us}}
                   + (hash(i, 'at') % {{step_us}})::BIGINT) AS created_at,
               hash(i, 'cust') % {{customers}} AS customer,
               CASE WHEN hash(i, 'n') % 10 < 6 THEN 1 WHEN hash(i, 'n') % 10 < 9 THEN 2
                    ELSE 3 END AS n_items,
               hash(i, 'sib') % 3 = 0 AS siblings,
               hash(i, 'pay') % 1000 AS r_pay,
               hash(i, 'att') % 1000 < 4 AS trouble,
               hash(i, 'err') % 1000 AS r_err
        FROM range({{n}}) t(i);
        ALTER TABLE g ADD COLUMN payment_status VARCHAR;
        UPDATE g SET payment_status = CASE
            WHEN created_at > TIMESTAMP '{{now}}' - INTERVAL 30 MINUTE THEN 'pending'
            WHEN r_pay < 30 THEN 'expired' WHEN r_pay < 40 THEN 'failed'
            WHEN r_pay < 960 THEN 'paid' WHEN r_pay < 980 THEN 'refunded'
            WHEN r_pay < 995 THEN 'partially_refunded' ELSE 'disputed' END;
        CREATE TEMP TABLE gi AS
        SELECT g.i, g.order_id, p AS position, g.order_id || ':' || p AS order_item_id,
               CASE WHEN hash(g.i, p, 'k') % 100 < {int(SHARES['camp'] * 100)} THEN 'camp'
                    WHEN hash(g.i, p, 'k') % 100
                         < {int((SHARES['camp'] + SHARES['party']) * 100)} THEN 'party'
                    ELSE 'ignite' END AS kind,
               CAST(g.created_at + to_days((hash(g.i, 'd') % 60)::INTEGER + 7 * p) AS DATE)
                   AS item_date,
               CASE WHEN g.siblings THEN p % 2 ELSE 0 END AS student_no,
               hash(g.i, p, 'slot') AS slot_hash
        FROM g, range(3) t(p) WHERE p < g.n_items;
    """)  # fmt: skip
    run("orders", f"""
        INSERT INTO orders (order_id, source, mode, payment_status, fulfillment_status,
            customer_email, customer_name, currency, amount_total, amount_paid,
            amount_refunded, checkout_session_id, payment_intent_id, subscription_id,
            stripe_customer_id, attention_reason, created_at, updated_at, paid_at, expires_at,
            calendar_sequence, kinds)
        SELECT g.order_id, CASE WHEN g.i % 20 = 0 THEN 'metadata' ELSE 'checkout' END,
            CASE WHEN a.ignite THEN 'subscription' ELSE 'payment' END, g.payment_status,
            CASE WHEN g.payment_status IN ('pending', 'expired', 'failed') THEN 'waiting'
                 WHEN g.payment_status = 'refunded' THEN 'cancelled'
                 WHEN g.trouble AND g.created_at > TIMESTAMP '{{now}}' - INTERVAL 30 DAY
                     THEN 'needs_attention'
                 ELSE 'fulfilled' END,
            lower(f.first) || '.' || lower(f.last) || g.customer || '@' || f.domain,
            f.first || ' ' || f.last, 'aud', a.total,
            CASE WHEN g.payment_status IN ('pending', 'expired', 'failed') THEN 0
                 ELSE a.total END,
            CASE g.payment_status WHEN 'refunded' THEN a.total
                 WHEN 'partially_refunded' THEN a.total // 2 ELSE 0 END,
            'cs_live_' || md5('cs' || g.i), 'pi_' || substr(md5('pi' || g.i), 1, 24),
            CASE WHEN a.ignite THEN 'sub_' || substr(md5('sub' || g.i), 1, 24) END,
            'cus_' || substr(md5('cus' || g.customer), 1, 14), NULL,
            g.created_at, g.created_at + INTERVAL 1 MINUTE,
            CASE WHEN g.payment_status NOT IN ('pending', 'expired', 'failed')
                 THEN g.created_at + INTERVAL 1 MINUTE END,
            g.created_at + INTERVAL 30 MINUTE, 0, a.kinds
        FROM g
        JOIN (SELECT order_id, sum(CASE kind WHEN 'camp' THEN 8900 WHEN 'party' THEN 49500
                     ELSE 14900 END) AS total, bool_or(kind = 'ignite') AS ignite,
                     string_agg(DISTINCT kind, ',' ORDER BY kind) AS kinds
              FROM gi GROUP BY order_id) a ON a.order_id = g.order_id
        CROSS JOIN LATERAL (SELECT {pick(FIRST_NAMES, "g.customer, 'f'")} AS first,
                                   {pick(LAST_NAMES, "g.customer, 'l'")} AS last,
                                   {pick(DOMAINS, "g.customer, 'dm'")} AS domain) f
        ORDER BY g.i
    """)  # fmt: skip
    run("students", f"""
        INSERT INTO students (student_id, order_id, name, age, date_of_birth, notes)
        SELECT 'stu_' || substr(md5(g.order_id || s), 1, 22), g.order_id,
               {pick(CHILD_NAMES, "g.i, s, 'c'")}, 5 + (hash(g.i, s, 'age') % 8)::INTEGER,
               NULL, CASE WHEN hash(g.i, s, 'note') % 10 = 0
                          THEN {pick(NOTES, "g.i, s, 'nt'")} END
        FROM g, range(2) t(s) WHERE s = 0 OR g.siblings ORDER BY g.i, s
    """)  # fmt: skip
    run("order_items", f"""
        INSERT INTO order_items (order_item_id, order_id, position, product_id, kind,
            item_date, session, start_time, student_id, unit_amount, created_at)
        SELECT gi.order_item_id, gi.order_id, gi.position,
            CASE kind WHEN 'camp' THEN {pick(CAMPS, "slot_hash, 'p'")}
                      WHEN 'party' THEN {pick(PARTIES, "slot_hash, 'p'")}
                      ELSE {pick(IGNITE, "slot_hash, 'p'")} END,
            kind, CASE WHEN kind <> 'ignite' THEN item_date END,
            CASE WHEN kind = 'camp' THEN CASE WHEN slot_hash % 2 = 0 THEN 'day'
                 ELSE 'all_day' END END,
            CASE WHEN kind = 'party' THEN '10:00' END,
            'stu_' || substr(md5(gi.order_id || student_no), 1, 22),
            CASE kind WHEN 'camp' THEN 8900 WHEN 'party' THEN 49500 ELSE 14900 END,
            g.created_at
        FROM gi JOIN g ON g.i = gi.i ORDER BY gi.i, gi.position
    """)  # fmt: skip
    paid = "g.payment_status NOT IN ('pending', 'expired', 'failed')"
    event_of = (
        "'cal_' || gi.kind || '_' || (gi.item_date - DATE '{first_day}' + 7 * w) || '_' ||"
        " (gi.slot_hash % CASE gi.kind WHEN 'camp' THEN {camps} WHEN 'party' THEN {parties}"
        " ELSE {ignites} END)"
    )
    run("holds", f"""
        INSERT INTO holds (hold_id, order_id, order_item_id, resource_key, seats, status,
            expires_at, created_at)
        SELECT 'hold_' || substr(md5(gi.order_item_id), 1, 22), gi.order_id, gi.order_item_id,
            gi.kind || ':' || gi.slot_hash % 97 || ':' || gi.item_date, 1,
            CASE WHEN g.payment_status = 'pending' THEN 'active'
                 WHEN {paid} AND g.payment_status <> 'refunded' THEN 'converted'
                 ELSE 'released' END,
            g.created_at + INTERVAL 30 MINUTE, g.created_at
        FROM gi JOIN g ON g.i = gi.i ORDER BY gi.i, gi.position
    """)  # fmt: skip
    run("enrolments", """
        INSERT INTO enrolments (enrolment_id, order_id, order_item_id, student_id, product_id,
            subscription_id, status, current_period_start, current_period_end, started_at,
            ended_at, updated_at)
        SELECT 'enr_' || i.order_item_id, i.order_id, i.order_item_id, i.student_id,
            i.product_id, o.subscription_id,
            CASE WHEN o.payment_status = 'refunded' THEN 'ended' ELSE 'active' END,
            o.paid_at, o.paid_at + INTERVAL 28 DAY, o.paid_at,
            CASE WHEN o.payment_status = 'refunded' THEN o.paid_at + INTERVAL 3 DAY END,
            o.updated_at
        FROM order_items i JOIN orders o ON o.order_id = i.order_id
        WHERE i.kind = 'ignite' AND o.paid_at IS NOT NULL
    """)  # fmt: skip
    run("bookings", f"""
        INSERT INTO bookings (booking_id, order_id, order_item_id, student_id, event_id,
            enrolment_id, status, created_at, updated_at)
        SELECT 'bkg_' || substr(md5(gi.order_item_id || w), 1, 22), gi.order_id,
            gi.order_item_id, 'stu_' || substr(md5(gi.order_id || gi.student_no), 1, 22),
            {event_of},
            CASE WHEN gi.kind = 'ignite' THEN 'enr_' || gi.order_item_id END,
            CASE WHEN g.payment_status = 'refunded' THEN 'cancelled' ELSE 'confirmed' END,
            g.created_at + INTERVAL 2 MINUTE, g.created_at + INTERVAL 2 MINUTE
        FROM gi JOIN g ON g.i = gi.i, range({IGNITE_WEEKS}) t(w)
        WHERE {paid} AND (w = 0 OR gi.kind = 'ignite')
            AND NOT (g.trouble AND g.created_at > TIMESTAMP '{{now}}' - INTERVAL 30 DAY)
        ORDER BY gi.i, gi.position, w
    """)  # fmt: skip
    recent_trouble = "g.trouble AND g.created_at > TIMESTAMP '{now}' - INTERVAL 30 DAY"
    # An event is made when its first place is booked: its created_at, and its place in
    # the table, are its first booking's.
    run("events", f"""
        CREATE TEMP TABLE first_booked AS
        SELECT event_id, min(created_at) AS first FROM bookings GROUP BY event_id;
        INSERT INTO events (event_id, slot_key, kind, product_id, title, venue_id, room_id,
            starts_at, ends_at, capacity, status, template_id, uid, sequence, created_at,
            updated_at)
        SELECT e.event_id, 'bench:' || k.kind || ':' || d || ':' || s,
            k.kind, k.product, {titles_of('k.product')},
            CASE WHEN s % 2 = 0 THEN 'marrickville' ELSE 'chatswood' END, 'room-' || (s % 7),
            DATE '{{first_day}}' + to_days(d::INTEGER) + to_hours(k.hour - {{offset}}),
            DATE '{{first_day}}' + to_days(d::INTEGER) + to_hours(k.hour - {{offset}})
                + to_minutes(k.minutes),
            {CAPACITY['camp']} * (k.kind = 'camp')::INTEGER
                + {CAPACITY['party']} * (k.kind = 'party')::INTEGER
                + {CAPACITY['ignite']} * (k.kind = 'ignite')::INTEGER,
            CASE WHEN hash(d, s, k.kind) % 500 = 0 THEN 'cancelled' ELSE 'scheduled' END,
            CASE WHEN k.kind = 'ignite' THEN 'tpl_' || k.product END,
            k.kind || '.' || d || '.' || s || '@bench.tinkertank.com.au', 0,
            f.first, f.first
        FROM range({event_days}) t(d)
        CROSS JOIN LATERAL (
            SELECT 'camp' AS kind, s, {pick(CAMPS, "s, 'cp'")} AS product, 9 AS hour,
                   CASE WHEN s % 2 = 0 THEN 360 ELSE 480 END AS minutes
            FROM range({{camps}}) r(s)
            UNION ALL SELECT 'party', s, {pick(PARTIES, "s, 'pp'")}, 10 + 3 * (s % 2), 120
            FROM range({{parties}}) r(s)
            UNION ALL SELECT 'ignite', s, {pick(IGNITE, "s, 'ip'")}, 16, 75
            FROM range({{ignites}}) r(s)) k
        CROSS JOIN LATERAL (SELECT 'cal_' || k.kind || '_' || d || '_' || s AS event_id) e
        JOIN first_booked f ON f.event_id = e.event_id
        ORDER BY 15, d, k.kind, s
    """)  # fmt: skip
    million_activity.build_activity(run, now, paid, recent_trouble)

    began = time.monotonic()
    conn.execute("CHECKPOINT")
    timings["checkpoint"] = time.monotonic() - began
    conn.close()
    return timings


# --- the measured reads ---------------------------------------------------------------------


def _get(session: requests.Session, url: str, params: dict) -> tuple[float, requests.Response]:
    began = time.perf_counter()
    response = session.get(
        url, params=params, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60
    )
    elapsed = (time.perf_counter() - began) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{url} {params}: {response.status_code} {response.text[:300]}")
    return elapsed, response


def reads(session: requests.Session, url: str, today: date) -> list[tuple[str, str, dict]]:
    """What the dashboard asks for, with ids and values taken from the data itself."""
    _, first = _get(session, url + "/api/orders", {"limit": 50})
    orders = first.json()["orders"]
    some = orders[len(orders) // 2]
    total = first.json()["total"]
    _, older = _get(session, url + "/api/orders", {"limit": 1, "offset": total // 2})
    year_old = older.json()["orders"][0]
    month = today.replace(day=1)
    fill_from = today - timedelta(days=today.weekday(), weeks=8)  # dashboard/pages/summaries.py
    next_month = (month + timedelta(days=32)).replace(day=1)
    _, events = _get(
        session, url + "/api/events", {"start": str(today), "end": str(today + timedelta(7))}
    )
    # Slots nobody booked have no event (event_id null) and so no roster.
    busiest = max((e for e in events.json()["events"] if e["event_id"]), key=lambda e: e["booked"])
    return [
        ("kpis today", "/api/kpis", {}),
        ("orders, first page", "/api/orders", {"limit": 50}),
        ("orders, page 100", "/api/orders", {"limit": 50, "offset": 4950}),
        ("orders, last page", "/api/orders", {"limit": 50, "offset": max(total - 50, 0)}),
        ("orders, search by email", "/api/orders", {"q": some["customer_email"]}),
        ("orders, search by name", "/api/orders", {"q": some["customer_name"].split()[1]}),
        ("orders, by order id", "/api/orders", {"q": some["order_id"]}),
        ("orders, needs attention", "/api/orders", {"fulfillment_status": "needs_attention"}),
        ("orders, refunded parties", "/api/orders",
         {"payment_status": "refunded", "kind": "party"}),
        ("orders, one week", "/api/orders",
         {"since": str(today - timedelta(7)), "until": str(today)}),
        ("order detail", f"/api/orders/{some['order_id']}", {}),
        ("order detail, a year old", f"/api/orders/{year_old['order_id']}", {}),
        ("events, this week", "/api/events",
         {"start": str(today), "end": str(today + timedelta(7))}),
        ("events, this month", "/api/events", {"start": str(month), "end": str(next_month)}),
        ("events, camps this month", "/api/events",
         {"start": str(month), "end": str(next_month), "kind": "camp"}),
        ("roster", f"/api/events/{busiest['event_id']}/roster", {}),
        ("errors, open, newest", "/api/errors", {"resolved": "false", "order": "newest"}),
        ("errors, critical", "/api/errors", {"severity": "critical"}),
        ("outbox, failed", "/api/outbox", {"status": "failed"}),
        ("outbox, first page", "/api/outbox", {}),
        ("inbox, first page", "/api/inbox", {}),
        ("inbox, failed", "/api/inbox", {"status": "failed"}),
        ("trends, 30 days", "/api/trends", {"days": 30}),
        # The Live page's counts, the Webhooks page's, the Summaries page's webhook lag and
        # fill of 16 weeks, the Check-in page's day.
        ("orders, counts", "/api/orders/counts", {}),
        ("inbox, counts", "/api/inbox/counts", {}),
        ("inbox, views", "/api/inbox/views", {}),
        ("webhook lag, 30 days", "/api/trends/webhooks", {"days": 30}),
        ("events, fill of 16 weeks", "/api/events", {"start": str(fill_from),
         "end": str(fill_from + timedelta(weeks=16))}),
        ("check-in, today", "/api/attendance", {}),
    ]  # fmt: skip


def measure(url: str, today: date, requests_per_read: int) -> list[tuple[str, float, float]]:
    session = requests.Session()
    results = []
    for name, path, params in reads(session, url, today):
        for _ in range(3):  # warm: the first read of a column loads it from disk
            _get(session, url + path, params)
        timings = sorted(_get(session, url + path, params)[0] for _ in range(requests_per_read))
        p95 = timings[max(math.ceil(len(timings) * 0.95) - 1, 0)]
        results.append((name, statistics.median(timings), p95))
        print(f"  {name:28} p50 {results[-1][1]:6.1f} ms   p95 {p95:6.1f} ms", flush=True)
    return results


def main() -> int:
    # BENCH_MILLION_DATABASE keeps the built file (or reuses one built before) to measure
    # again without building again.
    kept = os.environ.get("BENCH_MILLION_DATABASE")
    work = Path(tempfile.mkdtemp(prefix="tinkertank-million-"))
    database = Path(kept) if kept else work / "million.duckdb"
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    if not database.exists():
        print(f"\nstaff API: building {ORDERS:,} orders in {database} …", flush=True)
        began = time.monotonic()
        timings = build(database, ORDERS, now)
        print(f"  built in {time.monotonic() - began:.0f} s "
              f"({database.stat().st_size / 1e9:.1f} GB); seconds per step: "
              + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))  # fmt: skip
    else:
        print(f"\nstaff API: measuring {database} as it is", flush=True)
    print("  " + ", ".join(f"{name} {n:,}" for name, n in table_counts(database).items()))
    env = {k: os.environ[k] for k in ("DUCKDB_MEMORY_LIMIT",) if k in os.environ}
    if kept and LOAD:  # the bursts write to it: measure a copy, keep the file as built
        print(f"  copying {database} for the bursts …", flush=True)
        shutil.copyfile(database, work / "million.duckdb")
        database = work / "million.duckdb"
    secret = "whsec_bench_" + secrets.token_hex(8)
    sidecar = start_sidecar_for_bench(free_port(), secret, database, env)
    checks: list[tuple[str, float, float, str]] = []  # (figure, value, target, unit)
    try:
        today = local_today(now, SYDNEY)
        print(f"  {REQUESTS} requests per read, one at a time, after 3 to warm up:", flush=True)
        session = requests.Session()
        results = measure(sidecar.url, today, REQUESTS)
        checks += [(f"idle p95: {name}", p95, IDLE_P95_MS, "ms") for name, _, p95 in results]
        rss = rss_mb(sidecar.process.pid)
        web = rss_mb(sidecar.process.pid, children=False)
        print(f"  sidecar RSS after the idle reads {rss:.0f} MB (web {web:.0f} +"
              f" store {rss - web:.0f})")  # fmt: skip
        if LOAD:
            load = million_load.run(sidecar, secret, reads(session, sidecar.url, today))
            for name, value in load.read_p95.items():
                print(f"  under load {name:28} p95 {value:6.1f} ms"
                      f" ({load.read_counts[name]} reads)")  # fmt: skip
                checks.append((f"p95 under a burst: {name}", value,
                               million_load.READ_UNDER_LOAD_P95_MS, "ms"))  # fmt: skip
            for n, burst in enumerate(load.bursts):
                checks.append((f"webhook p99, burst {n + 1}", burst.p99_ms,
                               million_load.WEBHOOK_P99_MS, "ms"))  # fmt: skip
            non_2xx = sum(b.non_2xx + b.errors for b in load.bursts)
            checks.append(("webhook non-2xx and socket errors", non_2xx, 0, ""))
            print(f"  export after the bursts: {load.export_seconds:.1f} s")
            web = rss_mb(sidecar.process.pid, children=False)
            print(f"  sidecar RSS after reads, bursts and an export {load.rss_mb:.0f} MB"
                  f" (web {web:.0f} + store {load.rss_mb - web:.0f})")  # fmt: skip
            checks.append(("RSS after reads, bursts and an export", load.rss_mb,
                           million_load.RSS_MB, "MB"))  # fmt: skip
        else:
            checks.append(("RSS after the reads", rss, million_load.RSS_MB, "MB"))
        print("\n  figure" + " " * 52 + "value    target")
        for figure, value, target, unit in checks:
            verdict = million_load.verdict(value <= target)
            print(f"  {figure:56} {value:8.1f} {unit:2} <= {target:<5} {verdict}")
        failed = [figure for figure, value, target, _ in checks if value > target]
        print(json.dumps({"figures": {f: round(v, 1) for f, v, _, _ in checks},
                          "failed": failed}))  # fmt: skip
    finally:
        sidecar.stop(timeout=120)
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


def table_counts(database: Path) -> dict[str, int]:
    conn = duckdb.connect(str(database), read_only=True)
    try:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("orders", "order_items", "bookings", "events", "fulfilment_steps",
                          "outbox", "webhook_inbox", "webhook_inbox_archive", "error_log")
        }  # fmt: skip
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())

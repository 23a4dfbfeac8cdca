"""PostgreSQL: webhook ingest of one sidecar and of two on one database, against the bare
signature-checking endpoint, and two-item camp orders fulfilled a second (`python -m bench
postgres`).

A throwaway PostgreSQL server is started as the tests start theirs (`tests/postgres_server.py`:
initdb + pg_ctl, unix socket, fsync and synchronous_commit off: it measures the sidecar,
not a disk), or TEST_DATABASE_URL's server is used. Then, as `bench/ingest.py` does:

1. Ingest: `wrk` at 64 connections, in rounds that take turns (the servers not being
   measured are paused with SIGSTOP): the bare endpoint; one sidecar on PostgreSQL; two
   sidecars on one PostgreSQL database, 32 connections each (what a balancer in front of
   them would give). Deliveries per second, p50/p99 each round; the ratio one sidecar /
   bare and two / one; every 200 checked against the inbox.
2. Fulfilment: `BENCH_PG_ORDERS` (5,000) pending two-camp-day orders placed in the
   database, their paid deliveries sent as a burst (to one sidecar; then, on a fresh
   database, split over two), and the time until every order is fulfilled.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import fulfilment
from bench.ingest import (
    ROUND_SECONDS,
    WrkResult,
    run_wrk,
    stored_events,
    work_dirs,
    write_deliveries,
)
from bench.servers import (
    ServerProcess,
    free_port,
    pause,
    resume,
    start_bare,
    start_sidecar_for_bench,
)
from core.settings import DatabaseLocation
from tests.postgres_server import PostgresServer

ROUNDS = 2
ORDERS = int(os.environ.get("BENCH_PG_ORDERS", "5000"))


def start_postgres_sidecar(
    secret: str, url: str, work: Path, name: str, env: dict[str, str] | None = None
) -> ServerProcess:
    files = work / name  # the .eml files of its emails (no SMTP_HOST)
    files.mkdir(exist_ok=True)
    return start_sidecar_for_bench(
        free_port(), secret, work / f"{name}.db",
        {"DATABASE_URL": url, "DATA_DIR": str(files), **(env or {})},
    )  # fmt: skip


def wrk_together(servers: list[ServerProcess], prefixes: list[Path]) -> WrkResult:
    """wrk against each server at once, 64 connections in all: their sum, the worst p99."""
    share = 64 // len(servers)
    with ThreadPoolExecutor(len(servers)) as pool:
        results = list(
            pool.map(
                lambda pair: run_wrk(pair[0].url, pair[1], ROUND_SECONDS, connections=share),
                zip(servers, prefixes, strict=True),
            )
        )
    return WrkResult(
        requests=sum(r.requests for r in results),
        seconds=max(r.seconds for r in results),
        non_2xx=sum(r.non_2xx for r in results),
        errors=sum(r.errors for r in results),
        p50_ms=max(r.p50_ms for r in results),
        p99_ms=max(r.p99_ms for r in results),
    )


def ingest(secret: str, postgres: PostgresServer, work: Path, deliveries: Path) -> dict:
    pools = {"bare": 26_000 * ROUND_SECONDS, "one": 12_000 * ROUND_SECONDS,
             "two-a": 8_000 * ROUND_SECONDS, "two-b": 8_000 * ROUND_SECONDS}  # fmt: skip
    print(f"writing {sum(pools.values()) * ROUNDS:,} signed deliveries …", flush=True)
    for round_ in range(ROUNDS):
        for name, count in pools.items():
            write_deliveries(deliveries / f"{name}{round_}", count, secret, f"{name}{round_}")
    one_url, two_url = postgres.create_database(), postgres.create_database()
    bare = start_bare(free_port(), secret)
    one = start_postgres_sidecar(secret, one_url, work, "one")
    two = [start_postgres_sidecar(secret, two_url, work, f"two-{n}") for n in "ab"]
    servers = [bare, one, *two]
    runs: dict[str, list[WrkResult]] = {"bare": [], "one sidecar": [], "two sidecars": []}
    try:
        for server in servers:
            pause(server)
        for round_ in range(ROUNDS):
            for name, group in (("bare", [bare]), ("one sidecar", [one]), ("two sidecars", two)):
                for server in group:
                    resume(server)
                if name == "bare":
                    result = run_wrk(bare.url, deliveries / f"bare{round_}", ROUND_SECONDS)
                elif name == "one sidecar":
                    result = run_wrk(one.url, deliveries / f"one{round_}", ROUND_SECONDS)
                else:
                    prefixes = [deliveries / f"two-{n}{round_}" for n in "ab"]
                    result = wrk_together(two, prefixes)
                runs[name].append(result)
                for server in group:
                    pause(server)
        for name, results in runs.items():
            for round_, r in enumerate(results):
                print(f"{name:13} round {round_ + 1}  {r.rate:8,.0f} deliveries/s   p50"
                      f" {r.p50_ms:6.1f} ms   p99 {r.p99_ms:6.1f} ms   non-2xx {r.non_2xx}"
                      f"   socket errors {r.errors}")  # fmt: skip
        for server in servers:
            resume(server)
        checks = []
        for name, group in (("one sidecar", [one]), ("two sidecars", two)):
            acked = sum(r.requests - r.non_2xx for r in runs[name])
            stored = stored_events(group[0])
            verdict = "ok" if acked <= stored <= acked + 64 * ROUNDS else "MISMATCH"
            checks.append(f"{name}: {stored:,} stored, {acked:,} 200s counted ({verdict})")
        rate = {name: statistics.median(r.rate for r in results) for name, results in runs.items()}
        p99 = {name: max(r.p99_ms for r in results) for name, results in runs.items()}
        print("; ".join(checks))
        print(f"one sidecar / bare: {rate['one sidecar'] / rate['bare']:.2f} (target >= 0.5);"
              f" p99 {p99['one sidecar']:.1f} ms (target <= 100);"
              f" two sidecars / one: {rate['two sidecars'] / rate['one sidecar']:.2f}"
              " (target >= 1)")  # fmt: skip
        return {"rate": rate, "p99_ms": p99}
    finally:
        for server in servers:
            resume(server)
            server.stop()
        postgres.drop_database(one_url)
        postgres.drop_database(two_url)


def fulfil(secret: str, postgres: PostgresServer, work: Path, sidecars: int) -> float:
    """Orders a second fulfilled end to end, a burst of ORDERS over `sidecars` sidecars."""
    url = postgres.create_database()
    catalog = fulfilment.bench_catalog(work)
    placed = fulfilment.place_orders(DatabaseLocation("postgresql", url), catalog, ORDERS)
    burst = fulfilment.deliveries(placed, secret, f"p{sidecars}")
    env = {"CATALOG_PATH": str(catalog)}
    servers = [
        start_postgres_sidecar(secret, url, work, f"fulfil-{sidecars}-{n}", env)
        for n in range(sidecars)
    ]
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(sidecars) as pool:
            list(pool.map(lambda n: fulfilment.post_all(servers[n].url, burst[n::sidecars]),
                          range(sidecars)))  # fmt: skip
        acked = time.monotonic()
        finished = fulfilment.wait_fulfilled(servers[0].url, ORDERS, timeout=max(120, ORDERS / 5))
        rate = ORDERS / (finished - started)
        print(f"  {sidecars} sidecar(s): acknowledged in {acked - started:.1f} s; all"
              f" fulfilled after {finished - started:.1f} s: {rate:,.0f} orders/s"
              " (target >= 300)")  # fmt: skip
        return rate
    finally:
        for server in servers:
            server.stop()
        postgres.drop_database(url)


def main() -> int:
    if shutil.which("wrk") is None:
        print("make bench needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    secret = "whsec_bench_" + secrets.token_hex(8)
    work, deliveries = work_dirs("tinkertank-pg-bench-")
    if os.environ.get("TEST_DATABASE_URL"):
        postgres = PostgresServer(os.environ["TEST_DATABASE_URL"])
    else:
        postgres = PostgresServer.start()
    print("\nPostgreSQL: ingest, one sidecar and two, against the bare endpoint …", flush=True)
    try:
        figures = ingest(secret, postgres, work, deliveries)
        print(f"PostgreSQL fulfilment: {ORDERS:,} two-item camp orders as a burst …", flush=True)
        figures["orders_per_s"] = {n: fulfil(secret, postgres, work, n) for n in (1, 2)}
        print("\n" + json.dumps(figures))
    finally:
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(deliveries, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

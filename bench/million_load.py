"""The million-order database under load: staff reads while wrk sends a webhook burst.

After the idle reads of `bench/million.py`, the same sidecar (its first writes since it
started) gets `BURSTS` bursts of `BURST_SECONDS`, 2 s apart, from `wrk` at 64 connections:
distinct, freshly signed `checkout.session.completed` deliveries (bench/ingest.py). During each
burst one client cycles through every dashboard read, the 30-day trends included, one at a
time. Then an export, then the sidecar's RSS. Printed, each with its target and PASS/FAIL:
each read's p95 under the bursts, the webhooks' p99 in each burst (the first one
included) and their non-2xx count, and the RSS after reads, bursts and the export.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from bench import ingest
from bench.servers import ADMIN_TOKEN, ServerProcess, rss_mb

BURSTS = int(os.environ.get("BENCH_MILLION_BURSTS", "3"))
BURST_SECONDS = int(os.environ.get("BENCH_MILLION_BURST_SECONDS", "8"))
GAP_SECONDS = 2  # between bursts, the reads going on
# distinct deliveries per burst; past the end wrk sends them again (stored once)
PER_BURST = int(os.environ.get("BENCH_MILLION_BURST_DELIVERIES", str(12_000 * BURST_SECONDS)))

READ_UNDER_LOAD_P95_MS = 300
WEBHOOK_P99_MS = 250
RSS_MB = 400


@dataclass
class LoadResult:
    bursts: list[ingest.WrkResult]
    read_p95: dict[str, float]  # per read, over every burst
    read_counts: dict[str, int]
    export_seconds: float
    rss_mb: float


def p95(timings: list[float]) -> float:
    ordered = sorted(timings)
    return ordered[max(math.ceil(len(ordered) * 0.95) - 1, 0)]


def _read_loop(
    url: str, reads: list[tuple[str, str, dict]], stop: threading.Event, out: dict
) -> None:
    """Cycle through the reads, one at a time, until `stop`; time each one."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    while not stop.is_set():
        for name, path, params in reads:
            if stop.is_set():
                return
            began = time.perf_counter()
            response = session.get(url + path, params=params, headers=headers, timeout=60)
            elapsed = (time.perf_counter() - began) * 1000
            if response.status_code != 200:
                out.setdefault("errors", []).append(f"{name}: {response.status_code}")
                continue
            out.setdefault(name, []).append(elapsed)


def run(sidecar: ServerProcess, secret: str, reads: list[tuple[str, str, dict]]) -> LoadResult:
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix="tinkertank-million-", dir=shm if shm.is_dir() else None))
    try:
        print(f"  under load: writing {BURSTS} x {PER_BURST:,} signed deliveries …", flush=True)
        for n in range(BURSTS):
            ingest.write_deliveries(folder / f"burst{n}", PER_BURST, secret, f"m{n}")
        bursts: list[ingest.WrkResult] = []
        timings: dict[str, list[float]] = {}
        for n in range(BURSTS):
            stop = threading.Event()
            reader = threading.Thread(target=_read_loop, args=(sidecar.url, reads, stop, timings))
            reader.start()
            try:
                result = ingest.run_wrk(sidecar.url, folder / f"burst{n}", BURST_SECONDS)
                time.sleep(GAP_SECONDS if n + 1 < BURSTS else 0)
            finally:
                stop.set()
                reader.join()
            bursts.append(result)
            print(f"  burst {n + 1}: {result.rate:,.0f} deliveries/s, p50 {result.p50_ms:.1f} ms,"
                  f" p99 {result.p99_ms:.1f} ms, non-2xx {result.non_2xx},"
                  f" socket errors {result.errors}", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for error in timings.pop("errors", []):
        print(f"  read failed under load: {error}")
    began = time.perf_counter()
    response = requests.post(
        sidecar.url + "/api/export", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=300,
    )  # fmt: skip
    response.raise_for_status()
    export_seconds = time.perf_counter() - began
    return LoadResult(
        bursts=bursts,
        read_p95={name: p95(values) for name, values in timings.items()},
        read_counts={name: len(values) for name, values in timings.items()},
        export_seconds=export_seconds,
        rss_mb=rss_mb(sidecar.process.pid),
    )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"

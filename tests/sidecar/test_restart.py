"""Restarts and stalls of a real sidecar: kill -9 of the web process alone (its store process
must not outlive it and hold the database), a database file locked by another process, and a
store process stopped with SIGSTOP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import Burst, Sidecar, make_event, sidecar_env

pytestmark = pytest.mark.slow


def _store_pid(sidecar: Sidecar) -> int:
    pid = sidecar.server.process.pid
    (child,) = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return child


def _gone(pid: int, within: float = 10) -> bool:
    """Whether the process has exited (a zombie nobody has reaped yet counts as exited: it
    holds no files and no locks)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.postgres_xfail("DuckDB's store process; PostgreSQL has none (runtime/local_store.py)")
def test_after_kill_9_of_the_web_process_a_restarted_sidecar_serves_every_acknowledged_event(
    start_sidecar_process, record_property
):
    sidecar = start_sidecar_process()
    store_pid = _store_pid(sidecar)
    stop = threading.Event()
    sending = Burst(sidecar, (make_event() for _ in iter(stop.is_set, True)), clients=6)
    while len(sending.acknowledged) < 300:
        time.sleep(0.01)
    # kill -9 of the web process alone, as when the OOM killer picks it: its store process
    # is left behind, in the middle of a burst, with the database file locked.
    os.kill(sidecar.server.process.pid, signal.SIGKILL)
    sidecar.server.process.wait(10)
    stop.set()
    sending.join()
    acknowledged = sending.acknowledged

    started = time.monotonic()
    restarted = start_sidecar_process()  # same database file; waits until it answers
    record_property("restart_seconds", round(time.monotonic() - started, 2))

    assert _gone(store_pid), "the orphaned store process is still running"
    assert requests.get(restarted.url + "/readyz", timeout=10).status_code == 200
    assert all(restarted.inbox_row(event_id) is not None for event_id in acknowledged)
    assert restarted.deliver(make_event()).status_code == 200


def _hold_lock(path: Path) -> subprocess.Popen:
    """Another process with the database file open (and so locked)."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; db = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "time.sleep(600)", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    holder.stdout.close()
    return holder


@pytest.mark.postgres_xfail("DuckDB's file lock; PostgreSQL has none to wait for")
def test_a_starting_sidecar_waits_for_a_locked_database_and_says_so(tmp_path):
    env = sidecar_env(tmp_path, DATABASE_LOCK_WAIT_SECONDS="60")
    holder = _hold_lock(tmp_path / "tinkertank.duckdb")
    log_path = tmp_path / "sidecar.log"
    server = start_sidecar(free_port(), env, log_path=log_path, wait=False)
    try:
        deadline = time.monotonic() + 30
        while "is locked by another process" not in server.log():
            assert server.process.poll() is None, server.log()
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        holder.kill()
        holder.wait()

        server.wait_ready("/readyz")

        assert "waiting up to 60 s" in server.log()
        assert "lock acquired" in server.log()
    finally:
        holder.kill()
        holder.wait()
        server.kill()


@pytest.mark.postgres_xfail("DuckDB's file lock; PostgreSQL has none to wait for")
def test_a_sidecar_gives_up_on_a_database_locked_past_the_wait_with_exit_3(tmp_path):
    env = sidecar_env(tmp_path, DATABASE_LOCK_WAIT_SECONDS="0.5")
    holder = _hold_lock(tmp_path / "tinkertank.duckdb")
    server = start_sidecar(free_port(), env, log_path=tmp_path / "sidecar.log", wait=False)
    try:
        assert server.process.wait(60) == 3
        assert "Conflicting lock" in server.log()
    finally:
        holder.kill()
        holder.wait()
        server.kill()


@pytest.mark.postgres_xfail("DuckDB's store process; PostgreSQL has none (runtime/local_store.py)")
def test_a_stopped_store_gets_503_with_retry_after_then_serves_again_when_resumed(
    start_sidecar_process,
):
    sidecar = start_sidecar_process(STORE_TIMEOUT_SECONDS="1")
    store_pid = _store_pid(sidecar)
    status_url = sidecar.url + "/api/orders/ord_does_not_exist/status"
    assert requests.get(status_url, timeout=10).status_code == 404

    os.kill(store_pid, signal.SIGSTOP)
    try:
        status = requests.get(status_url, timeout=30)
        webhook = sidecar.deliver(make_event(), timeout=30)
        staff = sidecar.staff_get("/api/inbox/counts")
        ready = requests.get(sidecar.url + "/readyz", timeout=30)
        alive = requests.get(sidecar.url + "/healthz", timeout=30)
    finally:
        os.kill(store_pid, signal.SIGCONT)

    assert status.status_code == 503
    assert status.json()["error"] == "store_unavailable"
    assert status.headers["Retry-After"] == "5"
    assert webhook.status_code == 503
    assert webhook.json()["error"] == "not_stored"
    assert webhook.headers["Retry-After"] == "5"
    assert staff.status_code == 503
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == {"ok": False, "reason": "store_unavailable"}
    assert alive.status_code == 200
    # Resumed, the store answers again, and the stall cost nothing but the refused requests.
    assert requests.get(status_url, timeout=10).status_code == 404
    event = make_event()
    assert sidecar.deliver(event).status_code == 200
    assert sidecar.inbox_row(event["id"]) is not None
    assert sidecar.server.process.poll() is None

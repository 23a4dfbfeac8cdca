"""The two servers a benchmark run compares."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from runtime.sidecar_process import ServerProcess, free_port, rss_mb, start_sidecar

__all__ = [
    "ServerProcess",
    "free_port",
    "pause",
    "resume",
    "rss_mb",
    "start_bare",
    "start_naive",
    "start_sidecar_for_bench",
]

ADMIN_TOKEN = "bench-admin-token-0123456789"


def start_bare(port: int, secret: str) -> ServerProcess:
    return _start("bench.bare_endpoint", port, {"STRIPE_WEBHOOK_SECRET": secret})


def start_naive(port: int, secret: str, database: Path) -> ServerProcess:
    env = {"STRIPE_WEBHOOK_SECRET": secret, "NAIVE_DATABASE": str(database)}
    return _start("bench.naive_endpoint", port, env)


def _start(module: str, port: int, env: dict[str, str]) -> ServerProcess:
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port)],
        env={**env, "PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).resolve().parent.parent,
    )
    server = ServerProcess(process, f"http://127.0.0.1:{port}")
    server.wait_ready("/healthz", timeout=30)
    return server


def start_sidecar_for_bench(
    port: int, secret: str, database: Path, env: dict[str, str] | None = None
) -> ServerProcess:
    return start_sidecar(
        port,
        {
            "STRIPE_WEBHOOK_SECRET": secret,
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "DATABASE_URL": f"duckdb:///{database}",
            # no summary or reminder runs of its own in the middle of a measurement
            "SUMMARY_AT": "off",
            "REMINDERS_EVERY_MINUTES": "0",
            **(env or {}),
        },
        log_path=database.with_suffix(".log"),
    )


def pause(server: ServerProcess) -> None:
    """Stop a server (all its processes) while another one is measured: a sidecar goes on
    fulfilling the orders of its last round, and that CPU would be taken from the other."""
    _signal(server, signal.SIGSTOP)


def resume(server: ServerProcess) -> None:
    _signal(server, signal.SIGCONT)


def _signal(server: ServerProcess, signum: int) -> None:
    pid = server.process.pid
    if server.process.poll() is not None:
        return
    if os.getpgid(pid) == pid:  # the sidecar: its own process group, web and store
        os.killpg(pid, signum)
    else:
        os.kill(pid, signum)

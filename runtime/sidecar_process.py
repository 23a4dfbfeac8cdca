"""Start a sidecar as a child process and wait until it is ready.

Used by `make run`'s launcher, the benchmarks and the end-to-end tests, which all want a
real `tinkertank serve` (a real uvicorn process), not an in-process imitation.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    process: subprocess.Popen
    url: str
    admin_token: str = ""
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None

    def wait_ready(self, path: str = "/healthz", timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log()}")
            try:
                if requests.get(self.url + path, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server at {self.url} not ready after {timeout} s: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path else ""

    def kill(self) -> None:
        """kill -9 of the sidecar's processes (web and store): no shutdown code runs, as in
        a crash of the machine or the container."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode


# Passed on to child processes besides what the caller gives: the basics, and what moves
# the clock of a suite run as if on another date (`python -m tests.as_if`), so that every
# process it starts runs on that date too.
INHERITED = ("PATH", "HOME", "LANG", "TMPDIR", "PYTHONPATH", "AS_IF_SHIFT_SECONDS")


def inherited_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in INHERITED}


def start_sidecar(
    port: int,
    env: Mapping[str, str],
    log_path: Path | None = None,
    wait: bool = True,
    preexec_fn=None,
) -> ServerProcess:
    """`tinkertank serve` on 127.0.0.1:`port` with exactly `env` on top of PATH and HOME."""
    full_env = inherited_env()
    full_env.update(env)
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=full_env,
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parent.parent,
        preexec_fn=preexec_fn,
        start_new_session=True,  # its own process group, so kill() takes the store too
    )
    if log_path:
        out.close()  # the child has its own copy
    server = ServerProcess(
        process,
        f"http://127.0.0.1:{port}",
        admin_token=env.get("ADMIN_TOKEN", ""),
        env=dict(env),
        log_path=log_path,
    )
    if wait:
        try:
            server.wait_ready()
        except Exception:
            server.kill()
            raise
    return server


def rss_mb(pid: int, children: bool = True) -> float:
    """Resident memory of `pid` and its children (the sidecar's web and store processes)."""
    total = 0.0
    for process in [pid, *(_children(pid) if children else [])]:
        for line in Path(f"/proc/{process}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in children.read_text().split()] if children.exists() else []

"""What the browser tests (and `make screenshots`) share: a real `tinkertank dashboard`
process on a sidecar, and what a person looking at its page would see."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

from runtime.sidecar_process import free_port, inherited_env
from tests.conftest import ADMIN_TOKEN, REPO
from tests.dashboard.conftest import PASSWORD, wait_for

SCREENSHOTS = REPO / "test-artifacts" / "dashboard"


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


@contextmanager
def running_dashboard(
    sidecar_url: str, home: Path, clock_shift: float | str, env: Mapping[str, str] = {},
    password: str = PASSWORD,
) -> Iterator[str]:  # fmt: skip
    """`tinkertank dashboard` on a free port, signed in with `password`, on the clock of the
    sidecar (`clock_shift`); its URL while it runs. Its log is `home/dashboard.log`."""
    port = free_port()
    log_path = home / "dashboard.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "dashboard", "--port", str(port)],
            env={
                **inherited_env(),
                **env,
                "HOME": str(home),
                "CLOCK_SHIFT_SECONDS": str(clock_shift),
                "ADMIN_TOKEN": ADMIN_TOKEN,
                "SIDECAR_URL": sidecar_url,
                "DASHBOARD_PASSWORD": password,
            },
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: process.poll() is not None or answers(url + "/_stcore/health"), 60)
            assert process.poll() is None, log_path.read_text()
            yield url
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)


def settled(page, drawn: float = 0.3) -> None:
    """Wait until Streamlit has finished the run the last action started."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
    time.sleep(drawn)  # the last deltas of a finished run are drawn just after it


def trouble(page) -> list[str]:
    """What a person would call an error on screen: an exception box, a traceback, an error."""
    found = [e.inner_text() for e in page.locator('[data-testid="stException"]').all()]
    found += [e.inner_text() for e in page.locator('[data-testid="stAlertContentError"]').all()]
    if "Traceback" in page.locator("body").inner_text():
        found.append("a traceback")
    return found

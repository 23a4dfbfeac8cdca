"""`tinkertank serve` refuses to start on bad configuration, naming what is wrong."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from core.catalog_file import load_catalog
from runtime.sidecar_process import inherited_env
from tests.conftest import CLOCK_SHIFT, REPO, SUITE_NOW, sidecar_env


def _serve(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "serve", "--port", "1"],
        env={**inherited_env(), **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_without_the_webhook_secret_names_it_and_exits_2(tmp_path: Path):
    env = sidecar_env(tmp_path)
    del env["STRIPE_WEBHOOK_SECRET"]

    result = _serve(env)

    assert result.returncode == 2
    assert "STRIPE_WEBHOOK_SECRET is required" in result.stderr


def test_serve_with_a_malformed_setting_names_it(tmp_path: Path):
    result = _serve(sidecar_env(tmp_path, SMTP_PORT="lots", DATABASE_URL="sqlite:///x.db"))

    assert result.returncode == 2
    assert "SMTP_PORT: 'lots' is not a whole number" in result.stderr
    assert "DATABASE_URL: unsupported scheme 'sqlite'" in result.stderr


def test_serve_with_a_bad_catalog_entry_names_the_entry_and_field(tmp_path: Path):
    catalog = (REPO / "data" / "catalog.toml").read_text()
    broken = tmp_path / "catalog.toml"
    broken.write_text(catalog.replace("capacity = ", "capactiy = ", 1))

    result = _serve(sidecar_env(tmp_path, CATALOG_PATH=str(broken)))

    assert result.returncode == 2
    assert "camps[" in result.stderr
    assert "capactiy: unknown key; did you mean 'capacity'?" in result.stderr
    assert not (tmp_path / "tinkertank.duckdb").exists()  # nothing opened before the check


def test_serve_with_a_missing_catalog_names_the_path(tmp_path: Path):
    result = _serve(sidecar_env(tmp_path, CATALOG_PATH=str(tmp_path / "nope.toml")))

    assert result.returncode == 2
    assert "nope.toml" in result.stderr


@pytest.mark.postgres_xfail("DuckDB's file lock; PostgreSQL has none to explain")
def test_a_second_sidecar_on_the_same_database_explains_the_lock(sidecar, tmp_path: Path):
    database = sidecar.server.env["DATABASE_URL"]

    result = _serve(sidecar_env(tmp_path, DATABASE_URL=database))

    assert result.returncode == 3
    assert "cannot open database" in result.stderr


def test_simulate_sends_orders_that_the_sidecar_fulfils(start_sidecar_process, tmp_path: Path):
    sidecar = start_sidecar_process()
    env = sidecar_env(tmp_path, SIDECAR_URL=sidecar.url)

    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "simulate", "--count", "20", "--rate", "100"],
        env={**inherited_env(), **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert "20/20 orders delivered" in result.stdout
    counts: dict = {}
    for _ in range(200):
        counts = sidecar.staff_get("/api/orders/counts").json()
        if sum(counts["fulfillment_status"].get(s, 0) for s in ("fulfilled", "cancelled")) == 20:
            break
        time.sleep(0.05)
    assert sum(counts["payment_status"].values()) == 20
    assert set(counts["fulfillment_status"]) <= {"fulfilled", "cancelled"}


def test_simulate_without_a_sidecar_says_so(tmp_path: Path):
    env = sidecar_env(tmp_path, SIDECAR_URL="http://127.0.0.1:9")

    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "simulate", "--count", "1"],
        env={**inherited_env(), **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 3
    assert "no sidecar answering at http://127.0.0.1:9" in result.stderr


def _demo_catalog(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "demo-catalog", *args],
        env={**inherited_env(), **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_demo_catalog_writes_a_valid_catalog_with_a_camp_today_that_sells_after_it(
    tmp_path: Path,
):
    out = tmp_path / "demo" / "catalog.toml"

    result = _demo_catalog("--today", "2028-02-01", "--out", str(out))

    assert result.returncode == 0, result.stderr
    catalog = load_catalog(out)
    (this_week,) = [camp for camp in catalog.camps if date(2028, 2, 1) in camp.dates]
    assert this_week.dates[0] == date(2028, 1, 31)  # that week's Monday to Friday
    later = [day for camp in catalog.camps if camp is not this_week for day in camp.dates]
    assert date(2028, 2, 8) <= min(later) <= date(2028, 2, 21)


def test_demo_catalog_names_a_catalog_it_cannot_read_and_exits_2(tmp_path: Path):
    result = _demo_catalog("--source", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "x"))

    assert result.returncode == 2
    assert "nope.toml" in result.stderr
    assert not (tmp_path / "x").exists()


def test_demo_catalog_reads_the_clock_as_clock_shift_seconds_moves_it(tmp_path: Path):
    out = tmp_path / "catalog.toml"

    # The suite's clock: Thursday 26 November 2026 (SUITE_NOW), whatever today is.
    result = _demo_catalog("--out", str(out), CLOCK_SHIFT_SECONDS=str(CLOCK_SHIFT))

    assert result.returncode == 0, result.stderr
    assert f"after {SUITE_NOW.date()}" in result.stdout
    (this_week,) = [c for c in load_catalog(out).camps if SUITE_NOW.date() in c.dates]
    assert this_week.dates[0] == date(2026, 11, 23)  # that week's Monday


def test_demo_catalog_names_a_bad_clock_shift_and_exits_2(tmp_path: Path):
    result = _demo_catalog("--out", str(tmp_path / "x"), CLOCK_SHIFT_SECONDS="soon")

    assert result.returncode == 2
    assert "CLOCK_SHIFT_SECONDS: 'soon'" in result.stderr
    assert not (tmp_path / "x").exists()

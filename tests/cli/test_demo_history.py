"""`tinkertank demo-history`: the demo's past weeks, played through the real inbox and worker
so that the summaries, trends and fill have something to show on any date."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from runtime.sidecar_process import inherited_env
from tests.conftest import REPO, SUITE_NOW, sidecar_env


def _play(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "demo-history", "--days", "3", "--per-day", "3"],
        env={**inherited_env(), **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.postgres_xfail("reads the DuckDB file directly")
def test_the_past_days_get_paid_orders_and_a_stored_summary_each(tmp_path: Path):
    env = sidecar_env(tmp_path)

    result = _play(env)

    assert result.returncode == 0, result.stderr
    assert "demo history:" in result.stdout
    with duckdb.connect(str(tmp_path / "tinkertank.duckdb"), read_only=True) as conn:
        days = conn.execute(
            "SELECT DISTINCT (created_at AT TIME ZONE 'UTC' AT TIME ZONE 'Australia/Sydney')::DATE"
            " FROM orders ORDER BY 1"
        ).fetchall()
        summaries = conn.execute(
            "SELECT summary_date, figures->>'$.orders.paid' FROM daily_summaries ORDER BY 1"
        ).fetchall()
        fulfilled = conn.execute(
            "SELECT count(*) FROM orders WHERE fulfillment_status IN ('fulfilled', 'cancelled')"
        ).fetchone()[0]
        orders = conn.execute("SELECT count(*) FROM orders").fetchone()[0]

    today = SUITE_NOW.date()
    past = [today - timedelta(days=n) for n in (3, 2, 1)]
    assert [day for (day,) in days] == past  # every order on a past day, none today
    assert [day for day, _ in summaries] == past
    assert all(int(paid) > 0 for _, paid in summaries)
    assert fulfilled == orders  # the worker finished every order it was given


@pytest.mark.postgres_xfail("reads the DuckDB file directly")
def test_playing_the_history_again_adds_nothing(tmp_path: Path):
    env = sidecar_env(tmp_path)
    assert _play(env).returncode == 0
    with duckdb.connect(str(tmp_path / "tinkertank.duckdb"), read_only=True) as conn:
        before = conn.execute("SELECT count(*) FROM webhook_inbox").fetchone()[0]

    assert _play(env).returncode == 0

    with duckdb.connect(str(tmp_path / "tinkertank.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM webhook_inbox").fetchone()[0] == before

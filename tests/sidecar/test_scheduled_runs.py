"""The sidecar's own daily summary and reminders (sidecar/scheduled_runs.py), end to end:
a real sidecar on the suite's clock, SUMMARY_AT just behind it, and no CLI call."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core import clock
from tests.conftest import Sidecar, SlackHook
from tests.sidecar.test_alerts import wait_for

SYDNEY = ZoneInfo("Australia/Sydney")


def local_minutes_ago(minutes: int) -> str:
    """SUMMARY_AT for a local time `minutes` behind the suite's clock (SUITE_NOW is 10:00)."""
    return (clock.now() - timedelta(minutes=minutes)).astimezone(SYDNEY).strftime("%H:%M")


def yesterday() -> date:
    return clock.now().astimezone(SYDNEY).date() - timedelta(days=1)


def schedule(sidecar: Sidecar) -> dict[str, Any]:
    response = sidecar.staff_get("/api/health")
    assert response.status_code == 200, response.text
    return response.json()["schedule"]


def summaries(sidecar: Sidecar) -> list[dict[str, Any]]:
    return sidecar.staff_get("/api/summaries").json()["summaries"]


def schedule_errors(sidecar: Sidecar) -> list[dict[str, Any]]:
    rows = sidecar.staff_get("/api/errors", category="system").json()["errors"]
    return [row for row in rows if (row["dedupe_key"] or "").startswith("schedule:")]


def test_yesterdays_summary_posts_by_itself_once_even_after_a_restart(
    start_sidecar_process, slack: SlackHook
) -> None:
    env = {"SUMMARY_AT": local_minutes_ago(1), "REMINDERS_EVERY_MINUTES": "60",
           "SLACK_WEBHOOK_URL": slack.url}  # fmt: skip
    first = start_sidecar_process(**env)

    assert wait_for(lambda: schedule(first)["last_summary"] is not None, timeout=60)
    ran = schedule(first)
    assert ran["last_summary"]["date"] == yesterday().isoformat()
    assert ran["last_summary"]["posted"] is True
    assert ran["last_reminders"]["queued"] == 0
    assert ran["summary_at"] == env["SUMMARY_AT"] and ran["timezone"] == "Australia/Sydney"
    assert wait_for(lambda: len(slack.posts) == 1, timeout=30)
    assert [s["date"] for s in summaries(first)] == [yesterday().isoformat()]
    first.server.stop()

    again = start_sidecar_process(**env)  # the same database
    # The summary run comes before the reminders in each round: once the reminders ran,
    # the restarted sidecar has decided about the summary.
    assert wait_for(lambda: schedule(again)["last_reminders"] is not None, timeout=60)
    assert schedule(again)["last_summary"] is None
    (stored,) = summaries(again)
    assert stored["post_count"] == 1
    assert len(slack.posts) == 1
    assert schedule_errors(again) == []


def test_a_summary_not_done_half_an_hour_after_its_time_is_reported_and_caught_up(
    start_sidecar_process,
) -> None:
    sidecar = start_sidecar_process(SUMMARY_AT=local_minutes_ago(45))

    assert wait_for(lambda: schedule(sidecar)["last_summary"] is not None, timeout=60)
    assert schedule(sidecar)["last_summary"]["posted"] is False  # no Slack: stored only
    (missed,) = schedule_errors(sidecar)
    assert missed["severity"] == "high"
    assert missed["dedupe_key"] == f"schedule:summary:{yesterday()}"
    assert str(yesterday()) in missed["message"]
    assert [s["date"] for s in summaries(sidecar)] == [yesterday().isoformat()]


def test_off_runs_nothing(start_sidecar_process) -> None:
    sidecar = start_sidecar_process()  # the suite's default: SUMMARY_AT=off, reminders 0

    assert schedule(sidecar) == {
        "timezone": "Australia/Sydney", "summary_at": "off", "reminders_every_minutes": 0,
        "last_summary": None, "last_reminders": None,
    }  # fmt: skip
    assert summaries(sidecar) == []

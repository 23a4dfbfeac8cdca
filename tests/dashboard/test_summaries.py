"""Summaries page: run a day's summary now, see its figures and the 30-day trends."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from core import clock
from tests.dashboard.conftest import Seeded, no_trouble

SYDNEY = ZoneInfo("Australia/Sydney")


def test_running_todays_summary_shows_its_orders_revenue_and_bookings(dashboard, seeded: Seeded):
    today = clock.now().astimezone(SYDNEY).date()
    at = dashboard("summaries")
    no_trouble(at)

    at.date_input(key="summary-day").set_value(today).run()
    at.button(key="summary-run").click().run()

    no_trouble(at)
    assert [s.value for s in at.success] == [f"summary for {today} stored (not posted)"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Orders"] == "7"
    # The day the Australian way round: "Thursday 26 November 2026".
    assert f"{today:%A} {today.day} {today:%B %Y}" in [h.value for h in at.subheader]
    stored = seeded.get(f"/api/summaries/{today}")
    assert stored["figures"]["revenue"]["total"] >= 5 * 8900 + 11900  # camp days + an all-day
    assert metrics["Revenue"] == f"${stored['figures']['revenue']['total'] / 100:,.2f}"
    assert metrics["Bookings"] == str(stored["figures"]["bookings"]["total"])
    # revenue and bookings by kind, fill by week, webhook lag
    assert len(at.get("vega_lite_chart")) == 4


def test_posting_without_slack_says_why_it_was_not_posted(dashboard):
    at = dashboard("summaries")

    at.button(key="summary-post").click().run()

    assert not at.exception
    (error,) = at.error
    assert "not posted: SLACK_WEBHOOK_URL is not set" in error.value

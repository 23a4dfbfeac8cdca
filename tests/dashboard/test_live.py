"""Live page: today's figures, webhook health and the orders by step, as the API reports them."""

from __future__ import annotations

from tests.dashboard.conftest import Seeded, no_trouble


def test_todays_figures_are_the_apis_with_money_in_dollars(dashboard, seeded: Seeded):
    at = dashboard("live")
    kpis = seeded.get("/api/kpis")

    no_trouble(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Orders"] == str(kpis["orders"]) == "7"
    assert metrics["Paid orders"] == str(kpis["paid_orders"])
    assert metrics["Revenue"] == f"${kpis['revenue'] / 100:,.2f}"
    assert kpis["revenue"] >= 5 * 8900 + 11900
    assert metrics["Bookings"] == str(kpis["bookings"])
    assert metrics["Webhook backlog"] == str(kpis["webhooks"]["backlog"])
    assert metrics["Failed webhooks"] == str(kpis["webhooks"]["failed"])
    assert metrics["Refused signatures (10 min)"] == str(kpis["signature_refusals"]["recent"])


def test_the_steps_table_counts_orders_by_step_and_status(dashboard, seeded: Seeded):
    at = dashboard("live")
    kpis = seeded.get("/api/kpis")

    steps = at.dataframe[0].value
    assert list(steps.index)[:3] == ["record_payment", "create_bookings", "schedule_events"]
    assert steps.loc["record_payment", "done"] == kpis["steps"]["record_payment"]["done"] == 7
    assert steps.loc["schedule_events"].sum() == 7

"""Live page: today's figures, webhook health and the orders by step, as the API reports them."""

from __future__ import annotations

from tests.dashboard.conftest import (
    Seeded,
    dashboard_settings,
    log_in,
    new_dashboard,
    no_trouble,
)
from tests.fakes.twilio import FakeTwilio


def test_todays_figures_are_the_apis_with_money_in_dollars(dashboard, seeded: Seeded):
    at = dashboard("live")
    kpis = seeded.get("/api/kpis")

    no_trouble(at)
    # The suite's today, Thursday 26 November 2026, written the Australian way.
    assert at.subheader[0].value == "Today, Thursday 26 November 2026"
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


def test_messages_waiting_counts_every_channel_and_sms_only_where_it_is_on(
    dashboard, seeded: Seeded, start_sidecar_process
):
    at = dashboard("live")
    kpis = seeded.get("/api/kpis")

    (waiting,) = [m for m in at.metric if m.label == "Messages waiting"]
    assert waiting.value == str(kpis["outbox"]["pending"])
    assert not kpis["sms_enabled"] and "SMS" not in waiting.proto.help
    assert "emails: " in waiting.proto.help and not waiting.proto.delta
    assert not [m for m in at.metric if m.label == "Emails waiting"]

    with FakeTwilio() as twilio:
        texting = start_sidecar_process(**twilio.env())
        at = log_in(new_dashboard(dashboard_settings(texting.url)))
        at.switch_page("pages/live.py").run()
        no_trouble(at)
        (waiting,) = [m for m in at.metric if m.label == "Messages waiting"]
        assert waiting.proto.delta == "0 SMS"
        assert "SMS: 0 waiting, 0 failed" in waiting.proto.help

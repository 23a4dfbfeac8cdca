"""Webhooks page: the delivery log, one event's payload, and reprocess."""

from __future__ import annotations

from tests.dashboard.conftest import Seeded, no_trouble, wait_for


def test_the_log_counts_events_by_status_and_filters_to_the_ignored_one(dashboard, seeded: Seeded):
    at = dashboard("webhooks")

    no_trouble(at)
    counts = {m.label: int(m.value) for m in at.metric}
    assert counts["Ignored"] >= 1
    assert counts["Processed"] >= 6  # one completed session per paid order
    at.selectbox(key="webhooks-status").select("ignored").run()
    log = at.dataframe[0].value
    assert seeded.ignored_event in set(log["Event"])
    assert set(log["Status"]) == {"ignored"}
    link = log.loc[log["Event"] == seeded.ignored_event, "On Stripe"].item()
    assert link == f"https://dashboard.stripe.com/test/events/{seeded.ignored_event}"


def test_an_ignored_event_shows_its_payload_and_reprocess_applies_it_again(
    dashboard, seeded: Seeded
):
    before = seeded.get(f"/api/inbox/{seeded.ignored_event}")["attempts"]
    at = dashboard("webhooks")
    at.selectbox(key="webhooks-status").select("ignored").run()
    at.selectbox(key="webhooks-event").select(seeded.ignored_event).run()

    no_trouble(at)
    assert at.json[0].value and '"customer.updated"' in at.json[0].value
    assert any(f"test/events/{seeded.ignored_event}" in m.value for m in at.markdown)
    at.button(key=f"reprocess-{seeded.ignored_event}").click().run()

    no_trouble(at)
    assert [s.value for s in at.success] == [f"{seeded.ignored_event} will be applied again."]
    wait_for(lambda: seeded.get(f"/api/inbox/{seeded.ignored_event}")["attempts"] == before + 1)
    assert seeded.get(f"/api/inbox/{seeded.ignored_event}")["status"] == "ignored"

"""Webhooks page: the delivery log, one event's payload, and reprocess."""

from __future__ import annotations

from tests.conftest import make_event
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


def test_a_waiting_event_is_counted_and_listed_with_its_reason_and_next_try(
    dashboard, seeded: Seeded
):
    # A refund of a payment not recorded (yet): it waits for that payment's order.
    charge = {"id": "ch_waiting_1", "object": "charge", "amount": 8900, "amount_refunded": 8900,
              "currency": "aud", "payment_intent": "pi_not_here_yet", "refunded": True,
              "metadata": {"order_id": "ord_not_here_yet"}}  # fmt: skip
    refund = make_event(type="charge.refunded", data={"object": charge})
    assert seeded.sidecar.deliver(refund).status_code == 200
    wait_for(lambda: seeded.get(f"/api/inbox/{refund['id']}")["attempts"] >= 1)

    at = dashboard("webhooks")
    no_trouble(at)
    counts = {m.label: int(m.value) for m in at.metric}
    assert counts["Waiting"] >= 1 and "Not ours" in counts
    at.selectbox(key="webhooks-status").select("waiting").run()
    log = at.dataframe[0].value
    row = log.loc[log["Event"] == refund["id"]]
    assert row["Status"].item() == "received"
    assert row["Last error"].item() == "waiting: refund for a payment not recorded yet"
    assert row["Next try"].item()  # a local time
    at.selectbox(key="webhooks-event").select(refund["id"]).run()

    no_trouble(at)
    (waiting,) = at.info
    assert waiting.value.startswith("Waiting: refund for a payment not recorded yet; next try")

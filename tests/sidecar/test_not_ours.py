"""Payments that are not bookings and a flood of cart-less payments, on a real sidecar
(issue 16): signed deliveries in, the staff API and a local Slack hook watched."""

from __future__ import annotations

import re

from core import clock
from tests import foreign_payments as foreign
from tests.conftest import Burst, SlackHook
from tests.sidecar.test_fulfilment import wait_for


def deliver_all(sidecar, events: list[dict]) -> list[str]:
    for event in events:
        response = sidecar.deliver(event)
        assert response.status_code == 200, response.text
    return [event["id"] for event in events]


def total(sidecar, path: str, **params) -> int:
    response = sidecar.staff_get(path, **params)
    assert response.status_code == 200, response.text
    return response.json()["total"]


def morning_of_other_sales() -> tuple[list[dict], list[dict]]:
    """(front-desk payments and refunds, other shops' online payments, invoices and
    subscriptions; the PaymentIntents of the dashboard invoices, which have a customer)."""
    now = clock.unix()
    events, invoice_payments = [], []
    for n in range(3):
        desk = foreign.front_desk_payment(now + n)
        events += [desk, foreign.front_desk_refund(desk, now + n + 1)]
    for n in range(2):
        payment, invoice = foreign.dashboard_invoice(now + 10 + n)
        invoice_payments.append(payment)
        events += [invoice, *foreign.foreign_subscription(now + 20 + n)]
    events += [foreign.cartless_payment(now + 30 + n) for n in range(10)]
    return events, invoice_payments


def test_a_shared_account_records_other_sales_as_not_ours_and_alerts_nothing(
    start_sidecar_process, slack: SlackHook
):
    sidecar = start_sidecar_process(STRIPE_ACCOUNT_MODE="shared", SLACK_WEBHOOK_URL=slack.url)
    others, invoice_payments = morning_of_other_sales()

    ids = deliver_all(sidecar, others + invoice_payments)

    wait_for(
        lambda: (
            (c := sidecar.staff_get("/api/inbox/views").json())["not_ours"] == len(others)
            and c["waiting"] == len(invoice_payments)
        )
    )
    counts = sidecar.staff_get("/api/inbox/counts").json()
    assert counts["ignored"] == len(others) and counts["failed"] == 0
    listed = sidecar.staff_get("/api/inbox", status="not_ours", limit=100).json()
    assert {e["event_id"] for e in listed["events"]} == set(ids[: len(others)])
    assert {e["last_error"].split(":")[0] for e in listed["events"]} == {"not ours"}
    # An invoice's payment waits to see whether it pays a subscription of ours: shown with
    # the reason and the next try.
    waiting = sidecar.staff_get("/api/inbox", status="waiting").json()["events"]
    assert {e["event_id"] for e in waiting} == {p["id"] for p in invoice_payments}
    assert {e["last_error"] for e in waiting} == {
        "waiting: waiting to see whether this pays a subscription invoice"
    }
    assert all(e["next_attempt_at"] for e in waiting)
    assert total(sidecar, "/api/orders") == 0
    assert total(sidecar, "/api/errors") == 0
    assert slack.posts == []
    refused = sidecar.staff_get("/api/inbox", status="nobody")
    assert refused.status_code == 422


def test_a_dedicated_account_flags_the_same_sales_as_before(start_sidecar_process):
    sidecar = start_sidecar_process()
    others, _ = morning_of_other_sales()

    deliver_all(sidecar, others)

    # 10 online payments without a cart: orders that need attention; 3 front-desk payments
    # too, each cancelled by its refund.
    wait_for(lambda: total(sidecar, "/api/orders", fulfillment_status="needs_attention") == 10)
    wait_for(lambda: total(sidecar, "/api/orders", fulfillment_status="cancelled") == 3)
    assert sidecar.staff_get("/api/inbox/views").json()["not_ours"] == 0
    # The other shop's subscriptions wait for an order of ours (then fail, after tries).
    waiting = sidecar.staff_get("/api/inbox", status="waiting").json()["events"]
    assert {e["type"] for e in waiting} >= {"customer.subscription.created"}


def test_a_flood_of_500_payments_without_a_cart_raises_one_alert(
    start_sidecar_process, slack: SlackHook
):
    sidecar = start_sidecar_process(
        SLACK_WEBHOOK_URL=slack.url,
        ALERT_GROUP_SECONDS="2",
        DASHBOARD_URL="https://staff.tinkertank.example",
    )
    now = clock.unix()
    flood = [foreign.cartless_payment(now + n) for n in range(500)]

    burst = Burst(sidecar, iter(flood), clients=16)
    burst.join(timeout=120)
    assert len(burst.acknowledged) == 500

    wait_for(
        lambda: total(sidecar, "/api/orders", fulfillment_status="needs_attention") == 500,
        timeout=60,
    )
    (entry,) = sidecar.staff_get("/api/errors").json()["errors"]
    assert (entry["group_kind"], entry["occurrences"]) == ("no-cart", 500)
    wait_for(lambda: slack.posts)
    ((_, alert),) = slack.posts
    assert re.match(
        r"High \(payment\): \d+ payments received without a usable cart", alert["text"]
    ), alert["text"]
    assert "https://staff.tinkertank.example/orders?fulfillment=needs_attention" in alert["text"]

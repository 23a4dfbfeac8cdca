"""Payments that are not bookings and a flood of cart-less payments, on a real sidecar
(issue 16): signed deliveries in, the staff API, the fake Stripe API (asked which invoice
a payment paid) and a local Slack hook watched."""

from __future__ import annotations

import re
import time

from core import clock
from tests import foreign_payments as foreign
from tests.conftest import Burst, SlackHook
from tests.fakes.stripe import FakeStripe
from tests.sidecar.test_fulfilment import wait_for

ASKING = "waiting: asking Stripe which invoice this payment paid"


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
    # Without STRIPE_SECRET_KEY nothing is asked of Stripe: a dashboard invoice's payment
    # waits by the backoff rule, as it did before lookups.
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


# --- which invoice a payment paid, asked of Stripe (issue 16, item 1) -----------------------


def known_to_stripe(fake: FakeStripe, invoice_payments: list[dict], invoices: list[dict]) -> None:
    """Stripe's invoice payments of the dashboard invoices: each PaymentIntent paid its
    invoice (`invoice.paid` and `payment_intent.succeeded` alike)."""
    for payment, paid in zip(invoice_payments, invoices, strict=True):
        intent, invoice = payment["data"]["object"], paid["data"]["object"]
        fake.add_invoice_payment(
            invoice["id"], amount=invoice["amount_paid"], intent_id=intent["id"], invoice=invoice
        )


def dashboard_invoices(n: int) -> tuple[list[dict], list[dict]]:
    """(the `payment_intent.succeeded`, the `invoice.paid`) of n dashboard invoices."""
    now = clock.unix()
    pairs = [foreign.dashboard_invoice(now + k) for k in range(n)]
    return [p for p, _ in pairs], [i for _, i in pairs]


def customer_payment(created: int) -> dict:
    """An online payment by a saved customer of another shop on the account: a customer,
    no metadata, and no invoice (Stripe lists no invoice payment of it)."""
    event = foreign.cartless_payment(created)
    event["data"]["object"]["customer"] = f"cus_{event['id'][-12:]}"
    return event


def not_ours_reason(sidecar, event_id: str) -> str | None:
    row = sidecar.inbox_row(event_id)
    return row["last_error"] if row and row["status"] == "ignored" and row["not_ours"] else None


def test_a_shared_account_asks_stripe_once_and_records_invoice_payments_not_ours_at_once(
    start_sidecar_process, fake: FakeStripe, slack: SlackHook
):
    sidecar = start_sidecar_process(
        STRIPE_ACCOUNT_MODE="shared", STRIPE_SECRET_KEY="sk_test_lookups",
        STRIPE_API_BASE=fake.url, SLACK_WEBHOOK_URL=slack.url,
    )  # fmt: skip
    payments, invoices = dashboard_invoices(3)
    known_to_stripe(fake, payments, invoices)
    others = [customer_payment(clock.unix() + n) for n in range(2)]

    # Each payment is delivered twice, its invoice after it.
    deliver_all(sidecar, payments + others + payments + invoices)

    # Not ours within seconds (not after the backoff's two hours), with the reason Stripe
    # gave, and Stripe asked once per PaymentIntent.
    wait_for(lambda: all(not_ours_reason(sidecar, e["id"]) for e in payments + others))
    for payment, invoice in zip(payments, invoices, strict=True):
        reason = not_ours_reason(sidecar, payment["id"])
        assert reason.startswith("not ours: a payment_intent without any marker of ours")
        assert f"it paid invoice {invoice['data']['object']['id']}, of no subscription" in reason
    for other in others:
        assert not_ours_reason(sidecar, other["id"]).endswith("Stripe shows it paid no invoice")
    for event in payments + others:
        assert fake.invoice_payment_reads(event["data"]["object"]["id"]) == 1
    assert sidecar.staff_get("/api/inbox/views").json() == {"waiting": 0, "not_ours": 8}
    assert total(sidecar, "/api/orders") == 0
    assert total(sidecar, "/api/errors") == 0
    assert slack.posts == []
    # A refund of one of them later: not ours at once, and Stripe is not asked again.
    intent = payments[0]["data"]["object"]
    charge = {"id": f"ch_{intent['id'][3:]}", "object": "charge", "amount": intent["amount"],
              "amount_refunded": 5000, "currency": "aud", "metadata": {},
              "payment_intent": intent["id"], "payment_method_details": {"type": "card"},
              "refunded": False, "status": "succeeded"}  # fmt: skip
    refund = foreign.envelope("charge.refunded", charge, clock.unix())
    deliver_all(sidecar, [refund])
    wait_for(lambda: not_ours_reason(sidecar, refund["id"]))
    assert fake.invoice_payment_reads(payments[0]["data"]["object"]["id"]) == 1


def test_while_stripe_is_down_invoice_payments_wait_and_resolve_once_it_is_back(
    start_sidecar_process, fake: FakeStripe
):
    sidecar = start_sidecar_process(
        STRIPE_ACCOUNT_MODE="shared", STRIPE_SECRET_KEY="sk_test_lookups",
        STRIPE_API_BASE=fake.url,
    )  # fmt: skip
    payments, invoices = dashboard_invoices(2)
    known_to_stripe(fake, payments, invoices)
    fake.down()
    try:
        deliver_all(sidecar, payments + invoices)
        # Waiting, saying why; nothing lost, nothing decided.
        wait_for(lambda: total(sidecar, "/api/inbox", status="waiting") == 2)
        time.sleep(3)  # two asks fail meanwhile
        waiting = sidecar.staff_get("/api/inbox", status="waiting").json()["events"]
        assert {e["event_id"] for e in waiting} == {p["id"] for p in payments}
        assert {e["last_error"] for e in waiting} == {ASKING}
    finally:
        fake.up()
    # Stripe back: asked again, once each, and decided.
    wait_for(lambda: all(not_ours_reason(sidecar, p["id"]) for p in payments), timeout=40)
    assert [fake.invoice_payment_reads(p["data"]["object"]["id"]) for p in payments] == [1, 1]
    assert sidecar.staff_get("/api/inbox/counts").json()["failed"] == 0


def test_a_stripe_error_is_asked_again_and_answered_once(start_sidecar_process, fake: FakeStripe):
    sidecar = start_sidecar_process(
        STRIPE_ACCOUNT_MODE="shared", STRIPE_SECRET_KEY="sk_test_lookups",
        STRIPE_API_BASE=fake.url,
    )  # fmt: skip
    payments, invoices = dashboard_invoices(1)
    known_to_stripe(fake, payments, invoices)
    fake.fail_next(1, 500)  # the first ask: a 5xx

    deliver_all(sidecar, payments)

    wait_for(lambda: not_ours_reason(sidecar, payments[0]["id"]), timeout=30)
    intent = payments[0]["data"]["object"]["id"]
    asked = [r for r in fake.requests if r.path == "/v1/invoice_payments"
             and r.params.get("payment", {}).get("payment_intent") == intent]  # fmt: skip
    assert [r.status for r in asked] == [500, 200]
    assert asked[-1].params["payment"] == {"type": "payment_intent", "payment_intent": intent}
    assert asked[-1].params["expand"] == ["data.invoice"]

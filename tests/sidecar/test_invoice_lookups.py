"""Ignite invoices' payments the sidecar learns of from Stripe (issues 12 and 16): a refund
made in Stripe's Dashboard of an Ignite invoice's payment, and the payment itself when
its customer names no order, matched to the order by asking Stripe once which invoice the
PaymentIntent paid. A real sidecar and the fake Stripe API; orders are made through
checkout and paid through the fake, as a family would.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import stripe

from core import clock
from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import ADMIN_TOKEN, Sidecar, sidecar_env
from tests.fakes.stripe import FakeStripe
from tests.sidecar.test_alerts import wait_for
from tests.sidecar.test_ignite import invoice, stripe_event
from tests.sidecar.test_staff_actions import act, checkout, family, order
from tests.sidecar.test_summary import local_today

STRIPE_KEY = "sk_test_lookups"
IGNITE_PRICE = "price_ignite_coding_monday_2027"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as stripe_api:
        stripe_api.add_price(IGNITE_PRICE, unit_amount=14900, currency="aud",
                             recurring={"interval": "month"})  # fmt: skip
        yield stripe_api


@pytest.fixture(scope="module")
def shop(tmp_path_factory, fake: FakeStripe) -> Iterator[Sidecar]:
    tmp_path = tmp_path_factory.mktemp("lookups")
    env = sidecar_env(tmp_path, STRIPE_SECRET_KEY=STRIPE_KEY, STRIPE_API_BASE=fake.url)
    server = start_sidecar(free_port(), env, log_path=tmp_path / "sidecar.log")
    yield Sidecar(server)
    server.stop()


@pytest.fixture(autouse=True)
def _fake_stripe_saw_no_internal_errors(fake: FakeStripe) -> Iterator[None]:
    yield
    assert fake.errors == []


def ignite_signup(
    shop: Sidecar, fake: FakeStripe, name: str, *, expanded: bool
) -> tuple[str, dict, str]:
    """An Ignite sign-up paid for February 2027 (its classes booked): the order, the
    invoice, and the invoice's PaymentIntent, known to the fake. `expanded`: Stripe's
    listing shows the whole invoice (its subscription), else only its id (the order is
    then found by the enrolment periods the invoice paid)."""
    items = [{"product_id": "ignite-coding-monday", "student": {"name": name, "age": 9}}]
    response = checkout(shop, items, family())
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    (session,) = [s for s in fake.sessions.values() if s["client_reference_id"] == order_id]
    completed = fake.complete_session(session["id"])
    subscription = completed["data"]["object"]["subscription"]
    assert shop.deliver(completed).status_code == 200
    february = invoice(subscription, order_id, datetime(2027, 2, 1, tzinfo=UTC),
                       datetime(2027, 3, 1, tzinfo=UTC))  # fmt: skip
    intent = fake.add_invoice_payment(
        february["id"], amount=february["amount_paid"], invoice=february if expanded else None
    )
    assert shop.deliver(stripe_event("invoice.paid", february)).status_code == 200
    assert wait_for(lambda: len(order(shop, order_id)["bookings"]) == 3)  # 8, 15, 22 Feb
    return order_id, february, intent


def refund_in_stripe(fake: FakeStripe, intent: str, amount: int) -> dict:
    """A refund made by hand in Stripe's Dashboard: none of our metadata; its
    `charge.refunded` names the PaymentIntent and no invoice, no order."""
    client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": fake.url},
                                 max_network_retries=0)  # fmt: skip
    client.v1.refunds.create({"payment_intent": intent, "amount": amount})
    (event,) = [e for e in fake.refund_events() if e["data"]["object"]["payment_intent"] == intent]
    assert event["data"]["object"]["metadata"] == {}
    return event


def summary_refunds(shop: Sidecar) -> dict:
    response = shop.session.post(
        shop.url + "/api/summaries/run", json={"date": str(local_today())},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    figures = response.json()["summary"]["figures"]
    return {"refunds": figures["refunds"], "refunded": figures["revenue"]["refunded"]}


def test_a_refund_made_in_stripes_dashboard_of_an_ignite_invoice_is_counted_once(
    shop: Sidecar, fake: FakeStripe
):
    order_id, _, intent = ignite_signup(shop, fake, "Ada", expanded=False)
    (item,) = order(shop, order_id)["items"]
    before = summary_refunds(shop)

    refunded = refund_in_stripe(fake, intent, 5000)
    for _ in range(2):  # and Stripe's redelivery
        assert shop.deliver(refunded).status_code == 200

    # Within seconds: the order's refunded money, its status, one entry for staff.
    assert wait_for(lambda: order(shop, order_id)["order"]["amount_refunded"] == 5000)
    assert wait_for(lambda: shop.inbox_row(refunded["id"])["status"] == "processed")
    detail = order(shop, order_id)
    assert detail["order"]["payment_status"] == "partially_refunded"
    (entry,) = [e for e in detail["errors"] if "refund" in e["message"]]
    assert entry["severity"] == "medium"
    assert "made in Stripe" in entry["message"] and "$50.00" in entry["message"]
    assert "check whether any class should be cancelled" in entry["message"]
    # Its classes are kept: staff decide.
    assert {b["status"] for b in detail["bookings"]} == {"confirmed"}
    # Stripe was asked once which invoice the payment paid; the summary counts it.
    assert fake.invoice_payment_reads(intent) == 1
    after = summary_refunds(shop)
    assert after["refunds"]["count"] == before["refunds"]["count"] + 1
    assert after["refunds"]["amount"] == before["refunds"]["amount"] + 5000
    assert after["refunded"] == before["refunded"] + 5000

    # A later staff refund by item of the same invoice sees what is left of it.
    path = f"/api/orders/{order_id}/refund"
    too_much = act(shop, path, {"items": [item["order_item_id"]], "reason": "moving"})
    assert too_much.status_code == 422, too_much.text
    assert too_much.json()["refundable"] == 14900 - 5000
    rest = act(shop, path, {"items": [item["order_item_id"]], "amount": 9900,
                            "reason": "moving"})  # fmt: skip
    assert rest.status_code == 200, rest.text
    (staff_refund,) = [e for e in fake.refund_events() if e["data"]["object"]["payment_intent"]
                       == intent and e["id"] != refunded["id"]]  # fmt: skip
    assert shop.deliver(staff_refund).status_code == 200
    assert wait_for(lambda: {b["status"] for b in order(shop, order_id)["bookings"]}
                    == {"cancelled"})  # fmt: skip
    final = order(shop, order_id)
    assert final["order"]["amount_refunded"] == 14900
    assert len([e for e in final["errors"] if "refund" in e["message"]]) == 1
    assert fake.invoice_payment_reads(intent) == 1  # nothing asked again
    assert shop.staff_get("/api/inbox/counts").json()["failed"] == 0


def test_an_ignite_invoices_payment_is_recorded_as_the_orders_and_its_refund_needs_no_read(
    shop: Sidecar, fake: FakeStripe
):
    order_id, _, intent = ignite_signup(shop, fake, "Bo", expanded=True)
    orders_before = shop.staff_get("/api/orders").json()["total"]
    # Its payment_intent.succeeded, of a customer the order does not name (the family
    # paid with a new card and customer), carries no metadata and no invoice.
    succeeded = stripe_event(
        "payment_intent.succeeded",
        {
            "id": intent,
            "object": "payment_intent",
            "amount": 14900,
            "amount_received": 14900,
            "currency": "aud",
            "customer": "cus_new_card_bo",
            "metadata": {},
            "status": "succeeded",
        },
        clock.unix(),
    )
    assert shop.deliver(succeeded).status_code == 200

    # Done within seconds, on that order: no order of its own, nothing for staff.
    assert wait_for(lambda: shop.inbox_row(succeeded["id"])["status"] == "processed")
    detail = order(shop, order_id)
    assert succeeded["id"] in {e["event_id"] for e in detail["stripe_events"]}
    assert fake.invoice_payment_reads(intent) == 1
    assert shop.staff_get("/api/orders").json()["total"] == orders_before
    assert detail["order"]["payment_status"] == "paid" and detail["errors"] == []

    # A refund of it made in Stripe later is matched at once, with no second read.
    refunded = refund_in_stripe(fake, intent, 2000)
    assert shop.deliver(refunded).status_code == 200
    assert wait_for(lambda: order(shop, order_id)["order"]["amount_refunded"] == 2000)
    assert fake.invoice_payment_reads(intent) == 1

"""Ignite subscriptions end to end: sign-up, the classes of each paid period, the end."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from tests.conftest import Sidecar, sidecar_env
from tests.fakes.stripe_api import FakeStripe
from webhook.processes import free_port, start_sidecar

PRICE = "price_ignite_coding_monday_2027"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as server:
        server.add_price(PRICE, unit_amount=14900, currency="aud", recurring={"interval": "month"})
        yield server


@pytest.fixture(scope="module")
def shop(fake: FakeStripe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    tmp = tmp_path_factory.mktemp("ignite")
    env = sidecar_env(tmp, STRIPE_SECRET_KEY="sk_test_123", STRIPE_API_BASE=fake.url)
    server = start_sidecar(free_port(), env, log_path=tmp / "sidecar.log")
    yield Sidecar(server)
    server.stop()


def stripe_event(event_type: str, obj: dict[str, Any], created: int | None = None) -> dict:
    return {
        "id": f"evt_{secrets.token_hex(10)}",
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": created or int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": obj},
    }


def invoice(subscription: str, order_id: str, start: datetime, end: datetime) -> dict:
    """A paid subscription invoice, shaped as current API versions send it."""
    return {
        "id": f"in_{secrets.token_hex(8)}",
        "object": "invoice",
        "amount_paid": 14900,
        "currency": "aud",
        "status": "paid",
        "attempt_count": 1,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {
                "subscription": subscription,
                "metadata": {"order_id": order_id},
            },
        },
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": f"il_{secrets.token_hex(6)}",
                    "object": "line_item",
                    "amount": 14900,
                    "period": {"start": int(start.timestamp()), "end": int(end.timestamp())},
                }
            ],
        },
    }


def sign_up(shop: Sidecar, fake: FakeStripe, name: str = "Zoe") -> tuple[str, str, dict]:
    body = {
        "customer": {"email": "parent@example.com", "name": "Pat Parent"},
        "items": [{"product_id": "ignite-coding-monday", "student": {"name": name, "age": 9}}],
    }
    response = requests.post(shop.url + "/api/checkout", json=body, timeout=10)
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    (session_id,) = [
        sid for sid, s in fake.sessions.items() if s["client_reference_id"] == order_id
    ]
    completed = fake.complete_session(session_id)
    return order_id, completed["data"]["object"]["subscription"], completed


def status_when(shop: Sidecar, order_id: str, ready, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = requests.get(f"{shop.url}/api/orders/{order_id}/status", timeout=10).json()
        if ready(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_a_paid_month_books_every_class_of_it_at_the_local_time(shop: Sidecar, fake):
    order_id, subscription, completed = sign_up(shop, fake)
    february = invoice(
        subscription, order_id, datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC)
    )

    assert shop.deliver(completed).status_code == 200
    assert shop.deliver(stripe_event("invoice.paid", february)).status_code == 200
    status = status_when(shop, order_id, lambda s: len(s["bookings"]) == 3)

    # Term 1 starts on Tuesday 2 February, so Monday classes are the 8th, 15th and 22nd.
    assert [b["event"]["start"] for b in status["bookings"]] == [
        "2027-02-08T15:45:00+11:00",
        "2027-02-15T15:45:00+11:00",
        "2027-02-22T15:45:00+11:00",
    ]
    assert {b["status"] for b in status["bookings"]} == {"confirmed"}
    assert status["payment_status"] == "paid"


def test_a_period_across_the_april_daylight_saving_change_keeps_15_45_local(shop: Sidecar, fake):
    order_id, subscription, completed = sign_up(shop, fake, name="Ava")
    shop.deliver(completed)
    period = invoice(
        subscription, order_id, datetime(2027, 3, 15, tzinfo=UTC), datetime(2027, 4, 15, tzinfo=UTC)
    )

    shop.deliver(stripe_event("invoice.paid", period))
    status = status_when(shop, order_id, lambda s: len(s["bookings"]) >= 3)

    starts = [b["event"]["start"] for b in status["bookings"]]
    # 29 March is Easter Monday (no class); daylight saving ends on Sunday 4 April.
    assert starts == [
        "2027-03-15T15:45:00+11:00",
        "2027-03-22T15:45:00+11:00",
        "2027-04-05T15:45:00+10:00",
    ]


def test_an_invoice_delivered_again_books_nothing_more(shop: Sidecar, fake):
    order_id, subscription, completed = sign_up(shop, fake, name="Max")
    shop.deliver(completed)
    paid = stripe_event(
        "invoice.paid",
        invoice(
            subscription,
            order_id,
            datetime(2027, 5, 1, tzinfo=UTC),
            datetime(2027, 6, 1, tzinfo=UTC),
        ),
    )

    for _ in range(3):
        assert shop.deliver(paid).status_code == 200
    shop.deliver(
        stripe_event("invoice.paid", dict(paid["data"]["object"]))
    )  # same invoice, new event
    status_when(shop, order_id, lambda s: len(s["bookings"]) >= 5)
    time.sleep(0.5)  # time for any second booking to appear
    status = status_when(shop, order_id, lambda s: True)

    # The Mondays of May 2027: the 3rd, 10th, 17th, 24th and 31st, each booked once.
    assert len(status["bookings"]) == len({b["event"]["uid"] for b in status["bookings"]}) == 5


def test_a_cancelled_subscription_cancels_the_classes_still_to_come(shop: Sidecar, fake):
    order_id, subscription, completed = sign_up(shop, fake, name="Ivy")
    shop.deliver(completed)
    shop.deliver(
        stripe_event(
            "invoice.paid",
            invoice(
                subscription,
                order_id,
                datetime(2027, 7, 1, tzinfo=UTC),
                datetime(2027, 8, 1, tzinfo=UTC),
            ),
        )
    )
    status_when(shop, order_id, lambda s: len(s["bookings"]) > 0)
    created = int(time.time())
    active = {"id": subscription, "object": "subscription", "status": "active",
              "metadata": {"order_id": order_id}}  # fmt: skip

    # Deleted before an older "updated" arrives: the later, older event must not revive it.
    shop.deliver(
        stripe_event("customer.subscription.deleted", {**active, "status": "canceled"}, created + 5)
    )
    shop.deliver(stripe_event("customer.subscription.updated", active, created))
    status = status_when(
        shop, order_id, lambda s: {b["status"] for b in s["bookings"]} == {"cancelled"}
    )

    assert {b["status"] for b in status["bookings"]} == {"cancelled"}
    errors = shop.staff_get("/api/errors", order_id=order_id).json()["errors"]
    assert errors == []


def test_the_payment_intent_of_a_subscription_invoice_makes_no_extra_order(shop: Sidecar, fake):
    order_id, _, completed = sign_up(shop, fake, name="Noa")
    shop.deliver(completed)
    status_when(shop, order_id, lambda s: s["payment_status"] == "paid")
    customer = completed["data"]["object"]["customer"]
    intent = {"id": f"pi_{secrets.token_hex(8)}", "object": "payment_intent", "amount": 14900,
              "amount_received": 14900, "currency": "aud", "customer": customer, "metadata": {},
              "status": "succeeded"}  # fmt: skip
    event = stripe_event("payment_intent.succeeded", intent)

    assert shop.deliver(event).status_code == 200
    deadline = time.monotonic() + 10
    while shop.inbox_row(event["id"])["status"] != "processed" and time.monotonic() < deadline:
        time.sleep(0.05)

    assert shop.inbox_row(event["id"])["status"] == "processed"
    assert (
        requests.get(f"{shop.url}/api/orders/{intent['id']}/status", timeout=10).status_code == 404
    )

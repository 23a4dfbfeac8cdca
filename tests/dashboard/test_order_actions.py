"""Staff actions' forms (dashboard/order_actions.py) in Streamlit's AppTest against a
sidecar of their own (the seeded one's orders are counted by other pages' tests) and the
fake Stripe: refund an item and move a booking from the order page, set a capacity from the
calendar's roster."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
import requests
from streamlit.testing.v1 import AppTest

from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import ADMIN_TOKEN, Sidecar, sidecar_env
from tests.dashboard.conftest import (
    camp,
    dashboard_settings,
    log_in,
    new_dashboard,
    no_trouble,
    order_status,
    place_and_pay,
    wait_for,
)
from tests.sidecar.test_ignite import invoice, stripe_event


@dataclass
class Shop:
    sidecar: Sidecar

    @property
    def url(self) -> str:
        return self.sidecar.url

    def get(self, path: str, **params: Any) -> dict:
        response = requests.get(self.url + path, params=params, timeout=10,
                                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})  # fmt: skip
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="module")
def shop(fake_stripe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    tmp_path = tmp_path_factory.mktemp("actions-dashboard")
    env = sidecar_env(tmp_path, STRIPE_SECRET_KEY="sk_test_123", STRIPE_API_BASE=fake_stripe.url)
    server = start_sidecar(free_port(), env, log_path=tmp_path / "sidecar.log")
    yield Shop(Sidecar(server))
    server.stop()


@pytest.fixture
def page(shop: Shop) -> Callable[[str], AppTest]:
    def open_page(name: str) -> AppTest:
        at = log_in(new_dashboard(dashboard_settings(shop.url)))
        assert not at.exception, at.exception
        at.switch_page(f"pages/{name}.py").run()
        return at

    return open_page


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_staff_refund_an_item_and_move_a_booking_from_the_order_page(page, shop: Shop, fake_stripe):
    order_id = place_and_pay(
        shop.sidecar, fake_stripe, "Ivy Parent",
        [camp("2027-01-19", "day", "Ivy"), camp("2027-01-20", "day", "Jo")],
    )  # fmt: skip
    wait_for(lambda: order_status(shop.url, order_id)["fulfillment_status"] == "fulfilled")
    detail = shop.get(f"/api/orders/{order_id}")
    ivy_item = next(i for i in detail["items"] if i["student"] == "Ivy")
    jo = next(b for b in detail["bookings"] if b["student"] == "Jo")
    at = page("orders")
    at.text_input(key="orders-open").input(order_id).run()
    no_trouble(at)

    at.multiselect(key=f"refund-items-{order_id}").select(ivy_item["order_item_id"])
    at.text_input(key=f"refund-reason-{order_id}").input("Ivy has the flu")
    _button(at, "Refund").click().run()
    no_trouble(at)
    assert any("$89.00 refunded" in s.value for s in at.success), [s.value for s in at.success]
    (refund,) = [r for r in fake_stripe.refunds
                 if r["payment_intent"] == detail["order"]["payment_intent_id"]]  # fmt: skip
    assert refund["amount"] == ivy_item["unit_amount"]
    (event,) = [e for e in fake_stripe.refund_events()
                if e["data"]["object"]["payment_intent"] == refund["payment_intent"]]  # fmt: skip
    assert shop.sidecar.deliver(event).status_code == 200
    wait_for(lambda: {b["student"]: b["status"] for b in
                      shop.get(f"/api/orders/{order_id}")["bookings"]}
             == {"Ivy": "cancelled", "Jo": "confirmed"})  # fmt: skip

    at.selectbox(key=f"move-booking-{order_id}").select(jo["booking_id"])
    at.date_input(key=f"move-date-{order_id}").set_value(date(2027, 1, 21))
    at.text_input(key=f"move-reason-{order_id}").input("family holiday")
    _button(at, "Move").click().run()
    no_trouble(at)
    assert any("moved from" in s.value for s in at.success), [s.value for s in at.success]
    after = shop.get(f"/api/orders/{order_id}")
    moved = next(b for b in after["bookings"] if b["student"] == "Jo")
    assert moved["booking_id"] == jo["booking_id"]
    assert moved["event"]["event_id"] != jo["event"]["event_id"]
    assert next(i for i in after["items"] if i["student"] == "Jo")["item_date"] == "2027-01-21"
    staff = [t["text"] for t in after["timeline"] if t["source"] == "staff"]
    assert len(staff) == 2 and "Ivy has the flu" in staff[0] and "family holiday" in staff[1]


def test_staff_set_an_events_capacity_from_the_calendar_roster(page, shop: Shop, fake_stripe):
    order_id = place_and_pay(
        shop.sidecar, fake_stripe, "Kit Parent", [camp("2027-01-22", "day", "Kit")]
    )
    wait_for(lambda: order_status(shop.url, order_id)["fulfillment_status"] == "fulfilled")
    event_id = shop.get(f"/api/orders/{order_id}")["bookings"][0]["event"]["event_id"]
    at = page("calendar")
    at.date_input(key="calendar-month").set_value(date(2027, 1, 22)).run()
    # A camp day is one entry of the calendar (both sessions), keyed by product and day.
    at.selectbox(key="calendar-roster").select("campday:summer-robotics:2027-01-22").run()
    no_trouble(at)

    at.number_input(key=f"capacity-{event_id}").set_value(26)
    at.text_input(key=f"capacity-reason-{event_id}").input("extra helper: Sam")
    _button(at, "Set capacity").click().run()
    no_trouble(at)
    assert any("capacity 24 -> 26" in s.value for s in at.success), [s.value for s in at.success]
    assert {m.label: m.value for m in at.metric}["Booked"] == "1/26"
    (audit,) = [a for a in shop.get("/api/actions")["actions"] if a["action"] == "capacity"
                and a["details"]["event_id"] == event_id]  # fmt: skip
    assert audit["reason"] == "extra helper: Sam"


def test_staff_refund_an_ignite_enrolment_and_end_its_subscription_from_the_order_page(
    page, shop: Shop, fake_stripe
):
    fake_stripe.add_price("price_ignite_coding_monday_2027", unit_amount=14900, currency="aud",
                          recurring={"interval": "month"})  # fmt: skip
    body = {"customer": {"email": "ike.parent@example.com", "name": "Ike Parent"},
            "items": [{"product_id": "ignite-coding-monday",
                       "student": {"name": "Ike", "age": 9}}]}  # fmt: skip
    made = requests.post(shop.url + "/api/checkout", json=body, timeout=30)
    assert made.status_code == 201, made.text
    order_id = made.json()["order_id"]
    (session,) = [s for s in fake_stripe.sessions.values()
                  if s["client_reference_id"] == order_id]  # fmt: skip
    completed = fake_stripe.complete_session(session["id"])
    subscription = completed["data"]["object"]["subscription"]
    assert shop.sidecar.deliver(completed).status_code == 200
    paid = invoice(subscription, order_id, datetime(2027, 2, 1, tzinfo=UTC),
                   datetime(2027, 3, 1, tzinfo=UTC))  # fmt: skip
    intent = fake_stripe.add_invoice_payment(paid["id"], amount=paid["amount_paid"])
    assert shop.sidecar.deliver(stripe_event("invoice.paid", paid)).status_code == 200
    wait_for(lambda: len(shop.get(f"/api/orders/{order_id}")["bookings"]) == 3)
    (item,) = shop.get(f"/api/orders/{order_id}")["items"]

    at = page("orders")
    at.text_input(key="orders-open").input(order_id).run()
    no_trouble(at)
    at.multiselect(key=f"refund-items-{order_id}").select(item["order_item_id"])
    at.radio(key=f"refund-end-{order_id}").set_value("now")
    at.text_input(key=f"refund-reason-{order_id}").input("moving interstate")
    _button(at, "Refund").click().run()
    no_trouble(at)
    assert any("$149.00 refunded" in s.value and "subscription is ended" in s.value
               for s in at.success), [s.value for s in at.success]  # fmt: skip
    (refund,) = [r for r in fake_stripe.refunds if r["payment_intent"] == intent]
    assert refund["amount"] == 14900 and refund["metadata"]["tt_invoice"] == paid["id"]
    assert fake_stripe.subscription(subscription)["status"] == "canceled"
    actions = shop.get("/api/actions", order_id=order_id)["actions"]
    assert sorted(a["action"] for a in actions) == ["end_subscription", "refund"]

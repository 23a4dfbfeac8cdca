"""Bookings and Waitlist pages (AppTest) against a sidecar of their own: a phone booking
paid in cash, a form with problems, a repair, and reordering and pruning a waitlist."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from streamlit.testing.v1 import AppTest

from tests.conftest import Sidecar
from tests.dashboard.conftest import (
    AUTH,
    dashboard_settings,
    log_in,
    new_dashboard,
    no_trouble,
    order_status,
    wait_for,
)
from tests.sidecar.test_staff_bookings import payment_without_cart

SLOT = {"product_id": "slime-lab-party", "date": "2027-01-09", "start_time": "10:00"}


@pytest.fixture
def page(sidecar: Sidecar) -> Callable[[str], AppTest]:
    def open_page(name: str) -> AppTest:
        at = log_in(new_dashboard(dashboard_settings(sidecar.url)), name="Priya")
        at.switch_page(f"pages/{name}.py").run()
        no_trouble(at)
        return at

    return open_page


def fill_cart(at: AppTest, prefix: str, email: str, day: str = "2027-01-08") -> None:
    at.text_input(key=f"{prefix}-email").input(email)
    at.text_input(key=f"{prefix}-name").input("Sam Lee")
    at.text_input(key=f"{prefix}-child").input("Ava Lee")
    at.number_input(key=f"{prefix}-age").set_value(9)
    at.selectbox(key=f"{prefix}-product").select("summer-robotics")
    at.date_input(key=f"{prefix}-day").set_value(day)


def orders_of(sidecar: Sidecar, email: str) -> list[dict]:
    return sidecar.staff_get("/api/orders", q=email).json()["orders"]


def test_staff_book_a_cash_booking_from_the_form(page, sidecar: Sidecar):
    at = page("bookings")
    fill_cart(at, "booking", "sam.cash@example.com")
    at.selectbox(key="booking-method").select("cash")
    at.number_input(key="booking-amount").set_value(89.0)
    at.text_input(key="booking-reference").input("receipt 42")
    at.button(key="booking-submit").click().run()

    no_trouble(at)
    (done,) = at.success
    assert done.value.startswith("Booked and confirmed: order ord_")
    (order,) = orders_of(sidecar, "sam.cash@example.com")
    assert order["payment_status"] == "paid"
    wait_for(lambda: order_status(sidecar.url, order["order_id"])["fulfillment_status"]
             == "fulfilled")  # fmt: skip
    detail = sidecar.staff_get(f"/api/orders/{order['order_id']}").json()
    assert detail["order"]["amount_paid"] == 8900


def test_a_booking_with_problems_says_each_and_books_nothing(page, sidecar: Sidecar):
    at = page("bookings")
    at.text_input(key="booking-email").input("not an email")
    # No product chosen.
    at.selectbox(key="booking-method").select("voucher")
    at.button(key="booking-submit").click().run()

    assert not at.exception
    (error,) = at.error
    assert "cart.customer.email" in error.value
    assert "cart.items[0].product_id" in error.value
    assert orders_of(sidecar, "not an email") == []


def test_staff_repair_an_order_paid_without_a_cart(page, sidecar: Sidecar):
    paid = payment_without_cart(8900, "sam.repair@example.com")
    assert sidecar.deliver(paid).status_code == 200
    intent = paid["data"]["object"]["id"]

    def needs_attention() -> dict | None:
        response = requests.get(f"{sidecar.url}/api/orders/{intent}/status", timeout=10)
        if response.status_code != 200:
            return None  # not made yet
        status = response.json()
        return status if status["fulfillment_status"] == "needs_attention" else None

    status = wait_for(needs_attention)
    at = page("bookings")
    at.text_input(key="repair-order-id").input(status["order_id"])
    fill_cart(at, "repair", "sam.repair@example.com")
    at.button(key="repair-submit").click().run()

    no_trouble(at)
    assert at.success[0].value == f"Repaired: order {status['order_id']} is booking now."
    wait_for(lambda: order_status(sidecar.url, intent)["fulfillment_status"] == "fulfilled")


def test_staff_reorder_and_prune_a_waitlist(page, sidecar: Sidecar):
    taken = {"cart": {"customer": {"email": "host@example.com", "name": "Host"},
                      "items": [{**SLOT, "student": {"name": "Kid", "age": 8}}]},
             "payment": {"method": "free_place"}, "by": "Priya"}  # fmt: skip
    booked = requests.post(sidecar.url + "/api/bookings", json=taken, headers=AUTH, timeout=30)
    assert booked.status_code == 201, booked.text
    ids = []
    for who in ("first", "second"):
        body = {"customer": {"email": f"{who}@example.com", "name": who.title()},
                "items": [{**SLOT, "student": {"name": "Kid", "age": 8}}]}  # fmt: skip
        joined = requests.post(sidecar.url + "/api/waitlist", json=body, timeout=30)
        assert joined.status_code == 201, joined.text
        ids.append(joined.json()["entry_id"])
    event = joined.json()["event_key"]

    at = page("waitlist")
    assert at.dataframe[0].value["Waiting"].tolist() == [2]
    at.selectbox(key="waitlist-event").select(event).run()
    listed = at.dataframe[1].value
    assert listed["Family"].tolist() == ["first@example.com", "second@example.com"]

    at.multiselect(key="waitlist-first").select(ids[1])
    at.button(key="waitlist-save").click().run()
    no_trouble(at)
    entries = sidecar.staff_get("/api/waitlist", event=event).json()["entries"]
    assert [e["email"] for e in entries] == ["second@example.com", "first@example.com"]

    at.selectbox(key="waitlist-remove-entry").select(ids[0])
    at.text_input(key="waitlist-remove-reason").input("booked another day")
    at.button(key="waitlist-remove-submit").click().run()
    no_trouble(at)
    removed = sidecar.staff_get("/api/waitlist", event=event).json()["entries"][-1]
    assert (removed["status"], removed["closed_reason"]) == (
        "removed",
        "removed by Priya: booked another day",
    )

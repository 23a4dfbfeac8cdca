"""Bookings staff take by phone (a manual order, a checkout link) and repairs of orders
paid without a usable cart, against a real sidecar, FakeStripe and an SMTP server."""

from __future__ import annotations

import email.policy
import secrets
import threading
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller

from core import clock, simulation
from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import (
    ADMIN_TOKEN,
    CLOCK_SHIFT,
    REPO,
    Inbox,
    Sidecar,
    email_calendar,
    make_event,
    sidecar_env,
)
from tests.fakes.stripe import FakeStripe
from tests.sidecar.test_alerts import wait_for

STRIPE_KEY = "sk_test_123"
STAFF = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

TINY_CAMPS = """
[[camps]]
id = "phone-one"
name = "Phone One"
venue = "chatswood"
room = "launch-pad"
dates = ["2027-01-04", "2027-01-05", "2027-01-06"]
capacity = 1
prices = { day = 5000, all_day = 7000 }
min_age = 5
max_age = 12
description = "One seat a day."
"""


class ShiftedClock:
    """FakeStripe's idea of now, moved on with the sidecar it serves."""

    def __init__(self) -> None:
        self.extra = 0.0

    def __call__(self) -> float:
        return clock.timestamp() + self.extra


@pytest.fixture(scope="module")
def mail() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="module")
def stripe_clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture(scope="module")
def fake(stripe_clock: ShiftedClock) -> Iterator[FakeStripe]:
    with FakeStripe(clock=stripe_clock) as stripe_api:
        yield stripe_api


class Shop:
    """A sidecar that can be restarted later in time on the same database."""

    def __init__(self, tmp_path, fake: FakeStripe, port: int, stripe_clock: ShiftedClock):
        self.tmp_path = tmp_path
        self.fake = fake
        self.smtp_port = port
        self.stripe_clock = stripe_clock
        catalog = tmp_path / "catalog.toml"
        catalog.write_text((REPO / "data" / "catalog.toml").read_text() + TINY_CAMPS)
        self.catalog = catalog
        self.server = None
        self.starts = 0
        self.start(0)

    def start(self, later_seconds: float) -> Sidecar:
        if self.server is not None:
            self.server.stop()
        self.stripe_clock.extra = later_seconds
        env = sidecar_env(
            self.tmp_path,
            STRIPE_SECRET_KEY=STRIPE_KEY,
            STRIPE_API_BASE=self.fake.url,
            CATALOG_PATH=str(self.catalog),
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(self.smtp_port),
            SMTP_SECURITY="none",
            CLOCK_SHIFT_SECONDS=str(CLOCK_SHIFT + later_seconds),
        )
        self.starts += 1
        self.server = start_sidecar(
            free_port(), env, log_path=self.tmp_path / f"sidecar-{self.starts}.log"
        )
        self.sidecar = Sidecar(self.server)
        return self.sidecar

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture(scope="module")
def shop(tmp_path_factory, fake, mail, stripe_clock) -> Iterator[Shop]:
    shop = Shop(tmp_path_factory.mktemp("staff-bookings"), fake, mail[1], stripe_clock)
    yield shop
    shop.stop()


# --- helpers -----------------------------------------------------------------------------


def family(day: str = "2027-01-04", email: str | None = None, product: str = "phone-one"):
    email = email or f"sam.lee.{secrets.token_hex(4)}@example.com"
    return {
        "customer": {"email": email, "name": "Sam Lee"},
        "items": [
            {"product_id": product, "date": day, "session": "day",
             "student": {"name": "Ava Lee", "age": 8}}
        ],
    }  # fmt: skip


def post(sidecar: Sidecar, path: str, body: Any) -> requests.Response:
    return requests.post(sidecar.url + path, json=body, headers=STAFF, timeout=30)


def order(sidecar: Sidecar, order_id: str) -> dict[str, Any]:
    response = sidecar.staff_get(f"/api/orders/{order_id}")
    response.raise_for_status()
    return response.json()


def fulfilled(sidecar: Sidecar, order_id: str) -> bool:
    status = requests.get(f"{sidecar.url}/api/orders/{order_id}/status", timeout=10).json()
    return status["fulfillment_status"] == "fulfilled"


def mails_to(inbox: Inbox, address: str) -> list:
    return [
        message_from_bytes(m.as_bytes(), policy=email.policy.default)
        for to, m in inbox.messages
        if address in to
    ]


def open_link(sidecar: Sidecar, order_id: str) -> requests.Response:
    return requests.get(f"{sidecar.url}/orders/{order_id}/pay", allow_redirects=False, timeout=30)


def checkout(sidecar: Sidecar, body: dict) -> requests.Response:
    return requests.post(sidecar.url + "/api/checkout", json=body, timeout=30)


# --- a manual order ----------------------------------------------------------------------


def test_a_cash_booking_is_booked_confirmed_and_takes_the_place(shop: Shop, mail):
    sidecar, (inbox, _) = shop.sidecar, mail
    body = family("2027-01-04")
    booking = {"cart": body, "payment": {"method": "cash", "amount": 5000,
               "reference": "receipt 17"}, "by": "Priya", "request_id": "call-1"}  # fmt: skip
    created = post(sidecar, "/api/bookings", booking)
    assert created.status_code == 201, created.text
    order_id = created.json()["order_id"]
    again = post(sidecar, "/api/bookings", booking)  # a double submit books once
    assert (again.status_code, again.json()["order_id"]) == (200, order_id)

    assert wait_for(lambda: fulfilled(sidecar, order_id))
    detail = order(sidecar, order_id)
    assert detail["order"]["payment_status"] == "paid"
    assert detail["order"]["amount_paid"] == 5000
    assert [b["status"] for b in detail["bookings"]] == ["confirmed"]
    # The confirmation, with its invite, went to the parent.
    address = body["customer"]["email"]
    assert wait_for(lambda: len(mails_to(inbox, address)) == 1)
    (confirmation,) = mails_to(inbox, address)
    events = list(email_calendar(confirmation).walk("VEVENT"))
    assert len(events) == 1 and "Phone One" in str(events[0]["SUMMARY"])
    # The day's one place is taken: the storefront is told so.
    assert checkout(sidecar, family("2027-01-04")).status_code == 409
    assert post(sidecar, "/api/bookings", {**booking, "request_id": "call-2"}).status_code == 409


def test_a_staff_booking_lists_every_problem_with_its_path(shop: Shop):
    bad = {
        "cart": {"customer": {"email": "not-an-email", "name": "Sam"}, "items": []},
        "payment": {"method": "iou", "amount": -5},
        "by": "",
        "hold_hours": 48,
        "extra": 1,
    }
    response = post(shop.sidecar, "/api/bookings", bad)
    assert response.status_code == 422
    paths = {p["path"] for p in response.json()["problems"]}
    assert {"extra", "cart.customer.email", "cart.items", "payment.method", "by",
            "hold_hours"} <= paths  # fmt: skip
    missing_amount = post(
        shop.sidecar, "/api/bookings",
        {"cart": family(), "payment": {"method": "voucher"}, "by": "Priya"},
    )  # fmt: skip
    assert missing_amount.status_code == 422
    assert [p["path"] for p in missing_amount.json()["problems"]] == ["payment.amount"]


# --- a checkout link ---------------------------------------------------------------------


def test_a_checkout_link_holds_the_place_until_it_expires(shop: Shop, mail, fake: FakeStripe):
    sidecar, (inbox, _) = shop.sidecar, mail
    body = family("2027-01-05")
    created = post(
        sidecar, "/api/bookings",
        {"cart": body, "payment": {"method": "checkout_link"}, "by": "Priya", "hold_hours": 2},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    order_id, pay_url = created.json()["order_id"], created.json()["pay_url"]
    assert pay_url.endswith(f"/orders/{order_id}/pay")
    # The parent is emailed the link; the place is held meanwhile.
    address = body["customer"]["email"]
    assert wait_for(lambda: len(mails_to(inbox, address)) == 1)
    text = mails_to(inbox, address)[0].get_body(("plain",)).get_content()
    assert f"/orders/{order_id}/pay" in text
    assert checkout(sidecar, family("2027-01-05")).status_code == 409

    # The link opens Stripe Checkout for the order, the same session each time.
    opened = open_link(sidecar, order_id)
    assert opened.status_code == 303
    (session,) = [s for s in fake.sessions.values() if s["client_reference_id"] == order_id]
    assert opened.headers["location"] == session["url"]
    assert session["amount_total"] == 5000
    again = open_link(sidecar, order_id)
    assert again.headers["location"] == session["url"]

    # Three hours on, the hold has lapsed: the place is free, and the link says it expired.
    sidecar = shop.start(3 * 3600)
    try:
        gone = open_link(sidecar, order_id)
        assert gone.status_code == 410
        assert checkout(sidecar, family("2027-01-05")).status_code == 201
    finally:
        shop.start(0)


# --- repairs -----------------------------------------------------------------------------


def payment_without_cart(amount: int, email: str) -> dict:
    intent = simulation.payment_intent(
        f"pi_{secrets.token_hex(8)}", clock.unix(), amount, {}, email
    )
    return make_event(type="payment_intent.succeeded", data={"object": intent})


def test_repair_attaches_the_cart_and_runs_the_steps_once(shop: Shop, mail):
    sidecar, (inbox, _) = shop.sidecar, mail
    body = family("2027-01-06")
    address = body["customer"]["email"]
    paid = payment_without_cart(5000, address)
    assert sidecar.deliver(paid).status_code == 200
    intent_id = paid["data"]["object"]["id"]
    status_url = f"{sidecar.url}/api/orders/{intent_id}/status"
    assert wait_for(
        lambda: (
            requests.get(status_url, timeout=10).json().get("fulfillment_status")
            == "needs_attention"
        )
    )
    order_id = requests.get(status_url, timeout=10).json()["order_id"]
    assert order(sidecar, order_id)["bookings"] == []

    # A cart of another amount than was paid is refused, saying both.
    other = family("2027-01-06")
    other["items"][0]["session"] = "all_day"
    refused = post(sidecar, f"/api/orders/{order_id}/repair", {"cart": other, "by": "Priya"})
    assert refused.status_code == 422
    assert "$70.00" in refused.text and "$50.00" in refused.text

    # A double submit (two at once) repairs once.
    answers: list[requests.Response] = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(
                post(sidecar, f"/api/orders/{order_id}/repair", {"cart": body, "by": "Priya"})
            )
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 409]

    assert wait_for(lambda: fulfilled(sidecar, order_id))
    detail = order(sidecar, order_id)
    assert [b["status"] for b in detail["bookings"]] == ["confirmed"]
    assert len(detail["items"]) == 1
    assert wait_for(lambda: len(mails_to(inbox, address)) == 1)
    # Its "payment without a usable cart" entry is resolved by who repaired it.
    errors = sidecar.staff_get("/api/errors", order_id=order_id).json()["errors"]
    assert errors and all(e["resolved_by"] == "Priya" for e in errors)


def test_an_order_with_its_cart_is_not_repaired(shop: Shop):
    booking = {"cart": family("2027-01-06", product="summer-robotics"),
               "payment": {"method": "free_place"}, "by": "Priya"}  # fmt: skip
    order_id = post(shop.sidecar, "/api/bookings", booking).json()["order_id"]
    response = post(
        shop.sidecar, f"/api/orders/{order_id}/repair", {"cart": booking["cart"], "by": "Priya"}
    )
    assert response.status_code == 409
    assert response.json()["error"] == "not_repairable"

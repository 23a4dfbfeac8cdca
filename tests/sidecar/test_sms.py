"""Text messages end to end: a real sidecar (checkout, webhooks, reminders, the sender) and
a local fake of Twilio's Messages API (tests/fakes/twilio.py).

The sidecar runs on the morning of Monday 4 January 2027 in Sydney, the day before a camp
day, so that its day-before reminders are due (its own CLOCK_SHIFT_SECONDS).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
import requests

from core.messages.sms import SEGMENT, is_gsm
from core.sms_signature import signature
from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import ADMIN_TOKEN, Sidecar, sidecar_env
from tests.fakes.stripe import FakeStripe
from tests.fakes.twilio import AUTH_TOKEN, SMS_FROM, FakeTwilio
from tests.sidecar.test_alerts import wait_for

SYDNEY = ZoneInfo("Australia/Sydney")
SIDECAR_NOW = datetime(2027, 1, 4, 10, 0, tzinfo=SYDNEY)
SHIFT = SIDECAR_NOW.timestamp() - time.time()
PUBLIC = "https://book.tinkertank.example"
STAFF = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def stripe_api() -> Iterator[FakeStripe]:
    with FakeStripe(clock=lambda: time.time() + SHIFT) as fake:  # the sidecar's day
        yield fake


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="module")
def shop(tmp_path_factory, stripe_api: FakeStripe, twilio: FakeTwilio) -> Iterator[Sidecar]:
    tmp_path = tmp_path_factory.mktemp("sms")
    env = sidecar_env(
        tmp_path,
        STRIPE_SECRET_KEY="sk_test_123",
        STRIPE_API_BASE=stripe_api.url,
        PUBLIC_BASE_URL=PUBLIC,
        CLOCK_SHIFT_SECONDS=str(SHIFT),
        FULFILMENT_RETRY_SECONDS="0.2",
        **twilio.env(),
    )
    server = start_sidecar(free_port(), env, log_path=tmp_path / "sidecar.log")
    yield Sidecar(server)
    server.stop()


def cart(phone: Any, child: str = "Mia Chen", day: str = "2027-01-05") -> dict[str, Any]:
    email = f"jane.{secrets.token_hex(4)}@example.com"
    customer = {"email": email, "name": "Jane Citizen"}
    if phone is not None:
        customer["phone"] = phone
    return {"customer": customer,
            "items": [{"product_id": "summer-robotics", "date": day, "session": "day",
                       "student": {"name": child, "age": 8}}]}  # fmt: skip


def paid_order(
    shop: Sidecar, stripe_api: FakeStripe, body: dict, stripe_phone: str | None = None
) -> dict[str, Any]:
    """Check out `body`, pay it through Stripe's Checkout and wait until it is fulfilled;
    the order as staff see it, and the payment's event (`event`)."""
    created = requests.post(shop.url + "/api/checkout", json=body, timeout=30)
    assert created.status_code == 201, created.text
    order_id = created.json()["order_id"]
    (session,) = [s for s in stripe_api.sessions.values() if s["client_reference_id"] == order_id]
    event = stripe_api.complete_session(session["id"])
    if stripe_phone is not None:
        event["data"]["object"]["customer_details"]["phone"] = stripe_phone
    assert shop.deliver(event).status_code == 200

    def fulfilled() -> bool:
        status = requests.get(f"{shop.url}/api/orders/{order_id}/status", timeout=10).json()
        return status["fulfillment_status"] == "fulfilled"

    assert wait_for(fulfilled)
    return {**shop.staff_get(f"/api/orders/{order_id}").json(), "event": event}


def run_reminders(shop: Sidecar) -> dict[str, Any]:
    response = requests.post(shop.url + "/api/reminders/run", json={}, headers=STAFF, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def sms_of(shop: Sidecar, order_id: str) -> list[dict[str, Any]]:
    return shop.staff_get("/api/outbox", channel="sms", order_id=order_id).json()["messages"]


def settled(shop: Sidecar, order_id: str) -> bool:
    messages = sms_of(shop, order_id)
    return bool(messages) and all(m["status"] in ("sent", "skipped", "failed") for m in messages)


def text_back(shop: Sidecar, number: str, body: str, token: str = AUTH_TOKEN) -> requests.Response:
    """Twilio posting a parent's text to the sidecar, signed as Twilio signs it."""
    params = [("MessageSid", "SM" + secrets.token_hex(16)), ("From", number), ("To", SMS_FROM),
              ("Body", body), ("NumMedia", "0")]  # fmt: skip
    headers = {"X-Twilio-Signature": signature(token, PUBLIC + "/webhooks/sms", params),
               "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
    return requests.post(shop.url + "/webhooks/sms", data=urlencode(params), headers=headers,
                         timeout=10)  # fmt: skip


# --- the mobile at checkout ----------------------------------------------------------------------


def test_checkout_keeps_the_mobile_in_e164_and_refuses_a_bad_one(shop, stripe_api):
    created = requests.post(shop.url + "/api/checkout", json=cart("0412 345 678"), timeout=30)
    assert created.status_code == 201, created.text
    order = shop.staff_get(f"/api/orders/{created.json()['order_id']}").json()
    assert order["order"]["customer_phone"] == "+61412345678"

    bad = requests.post(shop.url + "/api/checkout", json=cart("0412 34"), timeout=30)
    assert bad.status_code == 422
    (problem,) = bad.json()["problems"]
    assert problem["path"] == "customer.phone" and "0412 34" in problem["message"]


def test_stripes_phone_is_used_when_the_cart_has_none(shop, stripe_api):
    order = paid_order(shop, stripe_api, cart(None, child="Ava"), stripe_phone="0499 111 222")
    assert order["order"]["customer_phone"] == "+61499111222"
    own = paid_order(shop, stripe_api, cart("0412 000 001", child="Zoe"), stripe_phone="0499 1")
    assert own["order"]["customer_phone"] == "+61412000001"  # the cart's number wins


# --- reminders by text ---------------------------------------------------------------------------


def test_the_day_before_reminder_is_texted_once_and_retried_after_a_provider_500(
    shop, stripe_api, twilio
):
    phone = "+61412345001"
    order = paid_order(shop, stripe_api, cart("0412 345 001", child="Mia Chen"))
    order_id = order["order"]["order_id"]
    twilio.failures[phone] = [500]

    first = run_reminders(shop)
    assert shop.deliver(order["event"]).status_code == 200  # Stripe redelivers the payment
    again = run_reminders(shop)  # a second run (or a second sidecar) queues nothing new

    assert first["sms_queued"] >= 1 and again["sms_queued"] == 0
    assert "text(s) for today and tomorrow" in first["message"]
    assert wait_for(lambda: settled(shop, order_id))
    (message,) = sms_of(shop, order_id)
    assert message["status"] == "sent" and message["attempts"] == 2, message  # 500, then sent
    assert message["recipient"] == phone and message["dedupe_key"].startswith("sms-day_before:")
    assert (phone, 500) in twilio.refused
    (text,) = twilio.to(phone)
    assert text == (
        "TinkerTank: Mia has Robotics Bootcamp - day session tomorrow, Tue 5 Jan, 9:00am at "
        "TinkerTank Marrickville. Reply STOP to opt out."
    )
    assert len(text) <= SEGMENT and is_gsm(text)
    assert all(m["From"] == SMS_FROM for m in twilio.messages)


def test_stop_ends_the_texts_and_start_brings_them_back(shop, stripe_api, twilio):
    phone = "+61412345002"
    assert text_back(shop, "0412 345 002", "STOP").status_code == 200
    stopped = paid_order(shop, stripe_api, cart(phone, child="Leo"))["order"]["order_id"]

    run_reminders(shop)

    assert wait_for(lambda: settled(shop, stopped))
    (message,) = sms_of(shop, stopped)
    assert message["status"] == "skipped" and "STOP" in message["last_error"]
    assert twilio.to(phone) == []

    assert text_back(shop, phone, "Start").status_code == 200
    again = paid_order(shop, stripe_api, cart(phone, child="Ivy"))["order"]["order_id"]
    run_reminders(shop)
    assert wait_for(lambda: settled(shop, again))
    assert [m["status"] for m in sms_of(shop, again)] == ["sent"]
    assert len(twilio.to(phone)) == 1 and "Ivy" in twilio.to(phone)[0]


def test_inbound_texts_must_be_signed_by_twilio(shop):
    number = "+61412345003"
    assert text_back(shop, number, "STOP", token="not-the-token").status_code == 403
    unsigned = requests.post(shop.url + "/webhooks/sms", data={"From": number, "Body": "STOP"},
                             timeout=10)  # fmt: skip
    assert unsigned.status_code == 403
    junk = requests.post(shop.url + "/webhooks/sms", data=b"\xff\xfe",
                         headers={"X-Twilio-Signature": "x"}, timeout=10)  # fmt: skip
    assert junk.status_code == 403
    no_number = text_back(shop, "not a number", "STOP")
    assert no_number.status_code == 400
    assert no_number.json()["problems"][0]["path"] == "From"
    hello = text_back(shop, number, "hello there")
    assert hello.status_code == 200 and hello.headers["content-type"].startswith("text/xml")


def test_without_twilio_settings_there_are_no_texts(start_sidecar_process):
    sidecar = start_sidecar_process()
    assert run_reminders(sidecar)["sms_queued"] == 0
    refused = requests.post(sidecar.url + "/webhooks/sms", data={"From": "+61412345678",
                            "Body": "STOP"}, timeout=10)  # fmt: skip
    assert refused.status_code == 403

"""Ignite subscriptions end to end (sign-up, the classes of each paid period, the end), and
the calendar file customers download, read back by two parsers."""

from __future__ import annotations

import email
import email.policy
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import icalendar
import pytest
import recurring_ical_events
import requests

from core import clock
from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import Sidecar, sidecar_env
from tests.fakes.stripe import FakeStripe

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
    sidecar = Sidecar(server)
    sidecar.outbox = tmp / "outbox"  # no SMTP configured: emails are written here as .eml
    yield sidecar
    server.stop()


def stripe_event(event_type: str, obj: dict[str, Any], created: int | None = None) -> dict:
    return {
        "id": f"evt_{secrets.token_hex(10)}",
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": created or clock.unix(),
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
    created = clock.unix()
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

    def cancellations() -> list[str]:
        texts = [p.read_text() for p in shop.outbox.glob("*.eml")]
        return [t for t in texts if "Ignite classes have ended" in t and "Ivy" in t]

    deadline = time.monotonic() + 15
    while not cancellations() and time.monotonic() < deadline:
        time.sleep(0.1)
    (text,) = cancellations()
    message = email.message_from_string(text, policy=email.policy.default)
    (attachment,) = list(message.iter_attachments())
    calendar = icalendar.Calendar.from_ical(attachment.get_content())
    assert str(calendar["METHOD"]) == "CANCEL"
    assert [str(e["STATUS"]) for e in calendar.walk("VEVENT")] == ["CANCELLED"]


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


# --- GET /orders/{order_id}/calendar.ics ---------------------------------------------------


def calendar(shop, order_id: str) -> icalendar.Calendar:
    response = requests.get(f"{shop.url}/orders/{order_id}/calendar.ics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    return icalendar.Calendar.from_ical(response.content)


def test_a_paid_camp_and_party_order_downloads_its_events_at_local_times(shop, fake):
    body = {
        "customer": {"email": "parent@example.com", "name": "Pat Parent"},
        "items": [
            {"product_id": "summer-robotics", "date": "2027-01-06", "session": "all_day",
             "student": {"name": "Mia", "age": 8}},
            {"product_id": "robot-rampage-party", "date": "2027-01-16", "start_time": "15:30",
             "student": {"name": "Mia", "age": 8}},
        ],
    }  # fmt: skip
    order_id = requests.post(shop.url + "/api/checkout", json=body, timeout=10).json()["order_id"]
    (session_id,) = [s for s, v in fake.sessions.items() if v["client_reference_id"] == order_id]
    shop.deliver(fake.complete_session(session_id))
    status = status_when(shop, order_id, lambda s: s["fulfillment_status"] == "fulfilled")

    events = list(calendar(shop, order_id).walk("VEVENT"))

    starts = sorted((e["DTSTART"].dt, e["DTEND"].dt) for e in events)
    assert [(s.isoformat(), e.isoformat()) for s, e in starts] == [
        ("2027-01-06T09:00:00+11:00", "2027-01-06T17:00:00+11:00"),
        ("2027-01-16T15:30:00+11:00", "2027-01-16T17:30:00+11:00"),
    ]
    # One event per booking, under the booking's own UID in the event's domain.
    assert {str(e["UID"]) for e in events} == {
        f"booking.{b['booking_id']}@tinkertank.com.au" for b in status["bookings"]
    }
    assert all("Marrickville" in str(e["LOCATION"]) for e in events)


def test_an_ignite_enrolment_downloads_the_weekly_series_with_its_breaks(shop, fake):
    order_id, _, completed = sign_up(shop, fake, name="Ruby")
    shop.deliver(completed)
    status_when(shop, order_id, lambda s: s["payment_status"] == "paid")
    time.sleep(0.3)  # the enrolment is written with the payment's steps

    cal = calendar(shop, order_id)
    classes = recurring_ical_events.of(cal).between(date(2027, 3, 20), date(2027, 5, 5))

    assert [c["DTSTART"].dt.isoformat() for c in classes] == [
        "2027-03-22T15:45:00+11:00",
        # 29 March is Easter Monday; 12 and 19 April are school holidays; 26 April is
        # before term 2; daylight saving ended on 4 April.
        "2027-04-05T15:45:00+10:00",
        "2027-05-03T15:45:00+10:00",
    ]


def test_an_unknown_order_has_no_calendar(shop):
    response = requests.get(f"{shop.url}/orders/ord_nobody/calendar.ics", timeout=10)

    assert response.status_code == 404


def test_the_calendar_is_found_by_the_checkout_session_id_too(shop, fake):
    order_id, _, completed = sign_up(shop, fake, name="Leo")
    session_id = completed["data"]["object"]["id"]

    response = requests.get(f"{shop.url}/orders/{session_id}/calendar.ics", timeout=10)

    assert response.status_code == 200
    assert order_id in response.headers["content-disposition"]


def test_a_mid_term_enrolment_is_told_its_own_first_class_not_the_programs(shop, fake):
    order_id, subscription, completed = sign_up(shop, fake, name="Mae")
    may = invoice(
        subscription, order_id, datetime(2027, 5, 10, tzinfo=UTC), datetime(2027, 6, 10, tzinfo=UTC)
    )
    shop.deliver(completed)
    shop.deliver(stripe_event("invoice.paid", may))
    status = status_when(shop, order_id, lambda s: len(s["bookings"]) >= 3)
    first = min(b["event"]["start"] for b in status["bookings"])

    page = requests.get(f"{shop.url}/orders/{order_id}/success", timeout=10)

    assert page.status_code == 200
    assert first.startswith("2027-05-1")  # the first Monday class of the paid period
    shown = datetime.fromisoformat(first)
    assert f"{shown:%A %-d %B %Y}, 3:45 PM" in page.text
    assert "8 February 2027" not in page.text  # the program's first class, long past


@pytest.mark.parametrize(
    ("amount", "currency", "problem"),
    [(100, "aud", "paid $1.00, but the order is $149.00: underpaid"),
     (149, "jpy", "paid 149 JPY, but the order is $149.00: wrong currency")],
    ids=["wrong amount", "wrong currency"],
)  # fmt: skip
def test_an_invoice_of_other_money_books_no_class_and_flags_the_order(
    shop: Sidecar, fake, amount: int, currency: str, problem: str
):
    order_id, subscription, completed = sign_up(shop, fake, name=f"Ivy {currency}")
    march = invoice(
        subscription, order_id, datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)
    )
    march.update(amount_paid=amount, currency=currency, billing_reason="subscription_cycle")

    assert shop.deliver(completed).status_code == 200
    assert shop.deliver(stripe_event("invoice.paid", march)).status_code == 200
    status = status_when(shop, order_id, lambda s: s["fulfillment_status"] == "needs_attention")

    assert status["fulfillment_status"] == "needs_attention"
    assert status["bookings"] == []
    entries = shop.staff_get("/api/errors", order_id=order_id).json()["errors"]
    assert [(e["severity"], e["message"].split(". ")[0]) for e in entries] == [
        ("critical", f"wrong invoice payment: {problem}")
    ]

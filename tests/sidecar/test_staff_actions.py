"""Staff actions end to end (issue 12): refund by item, cancel with credit, move, capacity
override, ending a subscription. A real sidecar, a real SMTP server (aiosmtpd) and the fake
Stripe API; orders are made through checkout and paid through the fake, as a family would.

One sidecar serves the module; each test books with an email address of its own, and the
camps appended to the catalog (capacity 1) give the races a last place of their own.
"""

from __future__ import annotations

import email.policy
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from typing import Any

import icalendar
import pytest
import requests
import stripe
from aiosmtpd.controller import Controller

from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import ADMIN_TOKEN, REPO, Inbox, Sidecar, email_calendar, sidecar_env
from tests.fakes.stripe import FakeStripe
from tests.sidecar.test_alerts import wait_for
from tests.sidecar.test_ignite import invoice, stripe_event

STRIPE_KEY = "sk_test_actions"
IGNITE_PRICE = "price_ignite_coding_monday_2027"
LAST_PLACE_CAMP = """
[[camps]]
id = "one-seat"
name = "One Seat"
venue = "chatswood"
room = "launch-pad"
dates = ["2027-01-11", "2027-01-12", "2027-01-13", "2027-01-14", "2027-01-15", "2027-01-18",
         "2027-01-19", "2027-01-20", "2027-01-21", "2027-01-22"]
capacity = 1
prices = { day = 5000, all_day = 7000 }
min_age = 5
max_age = 12
description = "One seat a day: the last place is always the first."
"""
CHANGED = "Your TinkerTank booking has changed"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as stripe_api:
        stripe_api.add_price(IGNITE_PRICE, unit_amount=14900, currency="aud",
                             recurring={"interval": "month"})  # fmt: skip
        yield stripe_api


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="module")
def shop(tmp_path_factory, fake: FakeStripe, mailbox) -> Iterator[Sidecar]:
    tmp_path = tmp_path_factory.mktemp("actions")
    catalog = tmp_path / "catalog.toml"
    catalog.write_text((REPO / "data" / "catalog.toml").read_text() + LAST_PLACE_CAMP)
    env = sidecar_env(
        tmp_path, STRIPE_SECRET_KEY=STRIPE_KEY, STRIPE_API_BASE=fake.url,
        CATALOG_PATH=str(catalog), SMTP_HOST="127.0.0.1", SMTP_PORT=str(mailbox[1]),
        SMTP_SECURITY="none",
    )  # fmt: skip
    server = start_sidecar(free_port(), env, log_path=tmp_path / "sidecar.log")
    yield Sidecar(server)
    server.stop()


@pytest.fixture(autouse=True)
def _fake_stripe_saw_no_internal_errors(fake: FakeStripe) -> Iterator[None]:
    yield
    assert fake.errors == []


# --- helpers -------------------------------------------------------------------------------


def camp(day: str, product_id: str = "summer-robotics", session: str = "day",
         name: str = "Mia Chen") -> dict[str, Any]:  # fmt: skip
    return {"product_id": product_id, "date": day, "session": session,
            "student": {"name": name, "age": 9}}  # fmt: skip


def party(day: str, start: str, name: str = "Leo Chen") -> dict[str, Any]:
    return {"product_id": "robot-rampage-party", "date": day, "start_time": start,
            "student": {"name": name, "age": 8}}  # fmt: skip


def family() -> str:
    return f"alex.{secrets.token_hex(5)}@example.com"


def checkout(shop: Sidecar, items: list[dict], email: str) -> requests.Response:
    body = {"customer": {"email": email, "name": "Alex Chen"}, "items": items}
    return requests.post(shop.url + "/api/checkout", json=body, timeout=30)


def order(shop: Sidecar, order_id: str) -> dict[str, Any]:
    response = shop.staff_get(f"/api/orders/{order_id}")
    response.raise_for_status()
    return response.json()


def book(shop: Sidecar, fake: FakeStripe, items: list[dict], email: str) -> dict[str, Any]:
    """Check out, pay through the fake, wait until fulfilled: the order's staff detail."""
    response = checkout(shop, items, email)
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    (session,) = [s for s in fake.sessions.values() if s["client_reference_id"] == order_id]
    assert shop.deliver(fake.complete_session(session["id"])).status_code == 200
    assert wait_for(lambda: order(shop, order_id)["order"]["fulfillment_status"] == "fulfilled")
    return order(shop, order_id)


def act(shop: Sidecar, path: str, body: Any, key: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    if key:
        headers["Idempotency-Key"] = key
    return requests.post(shop.url + path, json=body, headers=headers, timeout=30)


def mails_to(mailbox, address: str) -> list:
    inbox, _ = mailbox
    return [
        message_from_bytes(m.as_bytes(), policy=email.policy.default)
        for rcpt, m in list(inbox.messages)
        if address in rcpt
    ]


def change_mails(mailbox, address: str) -> list:
    return [m for m in mails_to(mailbox, address) if m["Subject"] == CHANGED]


def events_by_uid(calendar: icalendar.Calendar) -> dict[str, Any]:
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def booking_of(detail: dict, student: str) -> dict:
    (found,) = [b for b in detail["bookings"] if b["student"] == student]
    return found


def uid(booking: dict) -> str:
    return f"booking.{booking['booking_id']}@tinkertank.com.au"


def fill(shop: Sidecar, day: str, product_id: str) -> int:
    end = f"{day[:8]}{int(day[8:]) + 1:02d}"
    events = shop.staff_get("/api/events", start=day, end=end, kind="camp").json()["events"]
    return sum(e["booked"] for e in events if e["product_id"] == product_id)


# --- refund --------------------------------------------------------------------------------


def test_refunding_one_item_twice_refunds_once_and_cancels_only_that_booking(
    shop: Sidecar, fake: FakeStripe, mailbox
):
    address = family()
    detail = book(shop, fake, [camp("2027-01-07"), party("2027-01-23", "10:00")], address)
    order_id = detail["order"]["order_id"]
    (camp_item,) = [i for i in detail["items"] if i["kind"] == "camp"]
    mia, leo = booking_of(detail, "Mia Chen"), booking_of(detail, "Leo Chen")
    assert wait_for(lambda: len(mails_to(mailbox, address)) == 1)
    confirmation = events_by_uid(email_calendar(mails_to(mailbox, address)[0]))
    refunded_before = shop.staff_get("/api/kpis").json()["refunds"]
    filled = fill(shop, "2027-01-07", "summer-robotics")

    body = {"items": [camp_item["order_item_id"]], "reason": "Mia is sick that week"}
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(
        act(shop, f"/api/orders/{order_id}/refund", body))) for _ in range(2)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert len({a.json()["refund_id"] for a in answers}) == 1  # a double click: one refund
    mine = [r for r in fake.refunds if r["payment_intent"] == detail["order"]["payment_intent_id"]]
    assert [r["amount"] for r in mine] == [camp_item["unit_amount"]]
    assert mine[0]["metadata"]["tt_items"] == camp_item["order_item_id"]

    # Stripe's charge.refunded (delivered twice) does the cancelling, once.
    (event,) = [e for e in fake.refund_events()
                if e["data"]["object"]["payment_intent"] == mine[0]["payment_intent"]]  # fmt: skip
    for _ in range(2):
        assert shop.deliver(event).status_code == 200
    assert wait_for(lambda: booking_of(order(shop, order_id), "Mia Chen")["status"] == "cancelled")
    after = order(shop, order_id)
    assert booking_of(after, "Leo Chen")["status"] == "confirmed"
    assert after["order"]["payment_status"] == "partially_refunded"
    assert after["order"]["amount_refunded"] == camp_item["unit_amount"]
    assert not [e for e in after["errors"] if "partial refund" in e["message"]]
    assert fill(shop, "2027-01-07", "summer-robotics") == filled - 1
    refunded = shop.staff_get("/api/kpis").json()["refunds"]
    assert refunded["amount"] == refunded_before["amount"] + camp_item["unit_amount"]
    assert refunded["count"] == refunded_before["count"] + 1
    staff_lines = [t["text"] for t in after["timeline"] if t["source"] == "staff"]
    assert len(staff_lines) == 1 and "Mia is sick that week" in staff_lines[0]

    # The family is told once: a CANCEL of Mia's place only, under her UID, a later SEQUENCE.
    assert wait_for(lambda: len(change_mails(mailbox, address)) == 1)
    (change,) = change_mails(mailbox, address)
    assert "Robotics Bootcamp" in change.get_body(("plain",)).get_content()
    calendar = email_calendar(change)
    assert str(calendar["METHOD"]) == "CANCEL"
    (cancelled,) = events_by_uid(calendar).values()
    assert str(cancelled["UID"]) == uid(mia) and str(cancelled["STATUS"]) == "CANCELLED"
    assert int(cancelled["SEQUENCE"]) > int(confirmation[uid(mia)]["SEQUENCE"])
    assert uid(leo) in confirmation

    # The same item again is refused at its path; so is more than is left.
    again = act(shop, f"/api/orders/{order_id}/refund", {**body}, key="another-click")
    assert again.status_code == 422
    assert again.json()["problems"][0]["path"] == "items[0]"
    assert "refunded before" in again.json()["problems"][0]["message"]
    left = detail["order"]["amount_total"] - camp_item["unit_amount"]
    too_much = act(shop, f"/api/orders/{order_id}/refund",
                   {"amount": left + 1, "reason": "goodwill"})  # fmt: skip
    assert too_much.status_code == 422
    assert too_much.json()["refundable"] == left
    assert f"${left / 100:,.2f}" in too_much.json()["message"]


def test_every_problem_of_an_action_body_is_listed_with_its_path(shop: Sidecar, fake: FakeStripe):
    detail = book(shop, fake, [camp("2027-01-05")], family())
    order_id = detail["order"]["order_id"]
    booking_id = detail["bookings"][0]["booking_id"]
    refund = act(shop, f"/api/orders/{order_id}/refund",
                 {"items": ["x", 5], "amount": -1, "colour": "red"})  # fmt: skip
    assert refund.status_code == 422
    paths = [p["path"] for p in refund.json()["problems"]]
    assert paths == ["colour", "items[1]", "amount", "reason"]
    move = act(shop, f"/api/bookings/{booking_id}/move", {"date": "2027-13-01", "reason": " "})
    assert move.status_code == 422
    assert [p["path"] for p in move.json()["problems"]] == ["date", "reason"]
    nowhere = act(shop, f"/api/bookings/{booking_id}/move",
                  {"date": "2027-02-01", "reason": "asked"})  # fmt: skip
    assert nowhere.status_code == 422 and nowhere.json()["problems"][0]["path"] == "date"
    capacity = act(shop, f"/api/events/{detail['bookings'][0]['event']['event_id']}/capacity",
                   {"capacity": -2})  # fmt: skip
    assert [p["path"] for p in capacity.json()["problems"]] == ["capacity", "reason"]
    assert act(shop, "/api/bookings/bkg_nope/cancel", {"reason": "x"}).status_code == 404
    assert shop.staff_get("/api/actions", order_id=order_id).json()["total"] == 0


def test_a_refund_when_stripe_is_unreachable_is_503_and_changes_nothing(
    shop: Sidecar, fake: FakeStripe
):
    detail = book(shop, fake, [camp("2027-01-06")], family())
    order_id = detail["order"]["order_id"]
    item = detail["items"][0]["order_item_id"]
    body = {"items": [item], "reason": "family moved away"}
    fake.down()
    try:
        refused = act(shop, f"/api/orders/{order_id}/refund", body)
    finally:
        fake.up()
    assert refused.status_code == 503
    assert refused.json()["error"] == "payment_unavailable"
    assert shop.staff_get("/api/actions", order_id=order_id).json()["total"] == 0
    assert order(shop, order_id)["order"]["amount_refunded"] == 0
    # Nothing was left behind: the same refund goes through once Stripe is back.
    assert act(shop, f"/api/orders/{order_id}/refund", body).status_code == 200


# --- cancel and move -----------------------------------------------------------------------


def test_cancelling_without_a_refund_keeps_credit_frees_the_place_and_tells_the_family(
    shop: Sidecar, fake: FakeStripe, mailbox
):
    address = family()
    detail = book(shop, fake, [camp("2027-01-11", "one-seat")], address)
    order_id = detail["order"]["order_id"]
    booking = detail["bookings"][0]
    assert checkout(shop, [camp("2027-01-11", "one-seat")], family()).status_code == 409
    body = {"reason": "swapping to a voucher"}
    first = act(shop, f"/api/bookings/{booking['booking_id']}/cancel", body)
    second = act(shop, f"/api/bookings/{booking['booking_id']}/cancel", body)
    assert first.status_code == second.status_code == 200
    assert (first.json()["already"], second.json()["already"]) == (False, True)
    after = order(shop, order_id)
    assert after["order"]["credit_amount"] == detail["items"][0]["unit_amount"]
    assert after["bookings"][0]["status"] == "cancelled"
    assert after["order"]["amount_refunded"] == 0
    assert shop.staff_get("/api/actions", order_id=order_id).json()["total"] == 1
    # The place is free again: a new family can check out the day.
    assert checkout(shop, [camp("2027-01-11", "one-seat")], family()).status_code == 201
    assert wait_for(lambda: len(change_mails(mailbox, address)) == 1)
    calendar = email_calendar(change_mails(mailbox, address)[0])
    assert str(calendar["METHOD"]) == "CANCEL"
    assert list(events_by_uid(calendar)) == [uid(booking)]


def test_credit_kept_pays_for_a_booking_staff_take_once_and_is_refused_when_short(
    shop: Sidecar, fake: FakeStripe, mailbox
):
    address = family()
    detail = book(shop, fake, [camp("2027-01-04"), camp("2027-01-06", name="Leo Chen")],
                  address)  # fmt: skip
    order_id = detail["order"]["order_id"]
    mia = booking_of(detail, "Mia Chen")
    price = detail["items"][0]["unit_amount"]  # both days cost the same
    assert act(shop, f"/api/bookings/{mia['booking_id']}/cancel",
               {"reason": "wrong week"}).status_code == 200  # fmt: skip
    assert order(shop, order_id)["order"]["credit_amount"] == price

    # The same camp a week later, paid with that credit: two clicks at once, one booking.
    cart = {"customer": {"email": address, "name": "Alex Chen"},
            "items": [camp("2027-01-19")]}  # fmt: skip
    body = {"cart": cart, "payment": {"method": "credit", "from_order": order_id},
            "by": "front desk", "request_id": secrets.token_hex(8)}  # fmt: skip
    answers = _race(*[lambda: requests.post(
        shop.url + "/api/bookings", json=body, timeout=30,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})] * 2)  # fmt: skip
    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
    assert len({a.json()["order_id"] for a in answers}) == 1
    new_order = answers[0].json()["order_id"]
    assert {a.json()["credit_left"] for a in answers} == {0}
    assert order(shop, order_id)["order"]["credit_amount"] == 0
    assert wait_for(lambda: order(shop, new_order)["order"]["fulfillment_status"] == "fulfilled")
    paid = order(shop, new_order)["order"]
    assert paid["payment_status"] == "paid" and paid["amount_paid"] == price

    # Audited on the order whose credit paid: who, how much, for which order.
    actions = shop.staff_get("/api/actions", order_id=order_id).json()["actions"]
    (spent,) = [a for a in actions if a["action"] == "credit"]
    assert spent["actor"] == "front desk" and spent["details"]["to_order_id"] == new_order
    assert spent["details"]["amount"] == price
    assert any(t["source"] == "staff" and "credit paid for order" in t["text"]
               for t in order(shop, order_id)["timeline"])  # fmt: skip

    # Spent: another booking with it is refused, saying how much is left, and books nothing.
    again = requests.post(shop.url + "/api/bookings", timeout=30, json={
        **body, "request_id": secrets.token_hex(8)},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})  # fmt: skip
    assert again.status_code == 422, again.text
    (problem,) = again.json()["problems"]
    assert problem["path"] == "payment.from_order" and "$0.00 of credit" in problem["message"]
    assert len(shop.staff_get("/api/orders", q=address).json()["orders"]) == 2
    missing = requests.post(shop.url + "/api/bookings", timeout=30, json={
        **body, "payment": {"method": "credit"}, "request_id": None},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})  # fmt: skip
    assert missing.status_code == 422
    assert {p["path"] for p in missing.json()["problems"]} >= {"payment.from_order", "request_id"}
    # A family's credit pays for its own bookings: another parent's booking is refused.
    other = requests.post(shop.url + "/api/bookings", timeout=30, json={
        **body, "cart": {**cart, "customer": {"email": family(), "name": "Sam Other"}},
        "request_id": secrets.token_hex(8)},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})  # fmt: skip
    assert other.status_code == 422, other.text
    (problem,) = other.json()["problems"]
    assert "a family's credit pays for its own bookings" in problem["message"]


def test_moving_a_booking_updates_the_same_calendar_event_and_frees_the_old_place(
    shop: Sidecar, fake: FakeStripe, mailbox
):
    address = family()
    detail = book(shop, fake, [camp("2027-01-12", "one-seat")], address)
    booking = detail["bookings"][0]
    assert wait_for(lambda: len(mails_to(mailbox, address)) == 1)
    sent = events_by_uid(email_calendar(mails_to(mailbox, address)[0]))[uid(booking)]
    path = f"/api/bookings/{booking['booking_id']}/move"
    moved = act(shop, path, {"date": "2027-01-13", "reason": "school camp clash"}, key="m1")
    assert moved.status_code == 200, moved.text
    assert act(shop, path, {"date": "2027-01-13", "reason": "school camp clash"},
               key="m1").json()["already"]  # fmt: skip
    after = order(shop, detail["order"]["order_id"])
    (now,) = after["bookings"]
    assert now["booking_id"] == booking["booking_id"] and now["status"] == "confirmed"
    assert now["event"]["event_id"] != booking["event"]["event_id"]
    assert after["items"][0]["item_date"] == "2027-01-13"
    assert fill(shop, "2027-01-12", "one-seat") == 0 and fill(shop, "2027-01-13", "one-seat") == 1
    assert checkout(shop, [camp("2027-01-12", "one-seat")], family()).status_code == 201
    assert checkout(shop, [camp("2027-01-13", "one-seat")], family()).status_code == 409

    assert wait_for(lambda: len(change_mails(mailbox, address)) == 1)
    change = change_mails(mailbox, address)[0]
    assert "moved from" in change.get_body(("plain",)).get_content()
    calendar = email_calendar(change)
    assert str(calendar["METHOD"]) == "REQUEST"
    (event,) = events_by_uid(calendar).values()
    assert str(event["UID"]) == uid(booking)
    assert int(event["SEQUENCE"]) > int(sent["SEQUENCE"])
    assert event["DTSTART"].dt.date().isoformat() == "2027-01-13"
    timeline = [t["text"] for t in after["timeline"] if t["source"] == "staff"]
    assert len(timeline) == 1 and "school camp clash" in timeline[0]


def test_a_party_moves_to_another_slot_and_room_and_frees_its_room(
    shop: Sidecar, fake: FakeStripe, mailbox
):
    address = family()
    detail = book(shop, fake, [party("2027-02-06", "13:00")], address)
    booking = detail["bookings"][0]
    assert detail["bookings"][0]["event"]["room_id"] == "party-room"
    path = f"/api/bookings/{booking['booking_id']}/move"
    nowhere = act(shop, path, {"date": "2027-02-07", "start_time": "11:00", "reason": "x"})
    assert nowhere.status_code == 422 and nowhere.json()["problems"][0]["path"] == "start_time"
    attic = act(shop, path, {"date": "2027-02-07", "room": "attic", "reason": "x"})
    assert attic.status_code == 422 and attic.json()["problems"][0]["path"] == "room"
    moved = act(shop, path, {"date": "2027-02-07", "start_time": "15:30", "room": "workshop",
                             "reason": "birthday boy is away on Saturday"})  # fmt: skip
    assert moved.status_code == 200, moved.text
    after = order(shop, detail["order"]["order_id"])
    event = after["bookings"][0]["event"]
    assert (event["room_id"], after["items"][0]["start_time"]) == ("workshop", "15:30")
    assert after["items"][0]["item_date"] == "2027-02-07"
    # Both rooms of the old slot are free again: two families can take them.
    for _ in range(2):
        assert checkout(shop, [party("2027-02-06", "13:00")], family()).status_code == 201
    assert wait_for(lambda: len(change_mails(mailbox, address)) == 1)
    (invite,) = events_by_uid(email_calendar(change_mails(mailbox, address)[0])).values()
    assert str(invite["UID"]) == uid(booking)
    assert invite["DTSTART"].dt.strftime("%Y-%m-%d %H:%M") == "2027-02-07 15:30"


def test_two_staff_moving_into_the_last_place_get_one_move_and_one_409(
    shop: Sidecar, fake: FakeStripe
):
    ava = book(shop, fake, [camp("2027-01-18", "one-seat", name="Ava")], family())
    ben = book(shop, fake, [camp("2027-01-19", "one-seat", name="Ben")], family())
    answers = _race(*(
        lambda b=b: act(shop, f"/api/bookings/{b['bookings'][0]['booking_id']}/move",
                        {"date": "2027-01-20", "reason": "parent asked"})
        for b in (ava, ben)
    ))  # fmt: skip
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    (refused,) = [a for a in answers if a.status_code == 409]
    assert "full" in refused.json()["message"]
    assert fill(shop, "2027-01-20", "one-seat") == 1
    assert fill(shop, "2027-01-18", "one-seat") + fill(shop, "2027-01-19", "one-seat") == 1


def test_a_move_and_a_checkout_racing_for_the_last_place_one_gets_it(
    shop: Sidecar, fake: FakeStripe
):
    cal = book(shop, fake, [camp("2027-01-21", "one-seat", name="Cal")], family())
    path = f"/api/bookings/{cal['bookings'][0]['booking_id']}/move"
    answers = _race(
        lambda: act(shop, path, {"date": "2027-01-22", "reason": "parent asked"}),
        lambda: checkout(shop, [camp("2027-01-22", "one-seat", name="Dee")], family()),
    )
    assert sorted(a.status_code for a in answers) in ([200, 409], [201, 409])
    moved = any(a.status_code == 200 for a in answers)
    assert fill(shop, "2027-01-22", "one-seat") == (1 if moved else 0)
    assert fill(shop, "2027-01-21", "one-seat") == (0 if moved else 1)


# --- capacity ------------------------------------------------------------------------------


def test_a_capacity_override_opens_a_place_without_a_restart_and_is_audited(
    shop: Sidecar, fake: FakeStripe
):
    dee = book(shop, fake, [camp("2027-01-14", "one-seat", name="Dee")], family())
    event_id = dee["bookings"][0]["event"]["event_id"]
    assert checkout(shop, [camp("2027-01-14", "one-seat")], family()).status_code == 409
    raised = act(shop, f"/api/events/{event_id}/capacity",
                 {"capacity": 2, "reason": "extra helper (Sam)"})  # fmt: skip
    assert raised.status_code == 200, raised.text
    assert (raised.json()["before"], raised.json()["capacity"], raised.json()["used"]) == (1, 2, 1)
    assert checkout(shop, [camp("2027-01-14", "one-seat")], family()).status_code == 201
    assert checkout(shop, [camp("2027-01-14", "one-seat")], family()).status_code == 409
    events = shop.staff_get("/api/events", start="2027-01-14", end="2027-01-15").json()["events"]
    assert [e["capacity"] for e in events if e["event_id"] == event_id] == [2]
    (audit,) = [a for a in shop.staff_get("/api/actions").json()["actions"]
                if a["action"] == "capacity" and a["details"]["event_id"] == event_id]  # fmt: skip
    assert audit["actor"] == "machine" and audit["reason"] == "extra helper (Sam)"
    assert audit["details"]["before"] == 1
    again = act(shop, f"/api/events/{event_id}/capacity",
                {"capacity": 2, "reason": "extra helper (Sam)"})  # fmt: skip
    assert again.status_code == 200 and again.json()["already"]
    closed = act(shop, f"/api/events/{event_id}/capacity", {"capacity": 0, "reason": "flood"})
    assert "over" in closed.json()["message"]
    audits = [a for a in shop.staff_get("/api/actions").json()["actions"]
              if a["action"] == "capacity" and a["details"]["event_id"] == event_id]  # fmt: skip
    assert [a["details"]["capacity"] for a in audits] == [0, 2]  # newest first


# --- Ignite ---------------------------------------------------------------------------------


def test_ending_a_subscription_asks_stripe_and_is_audited(shop: Sidecar, fake: FakeStripe):
    detail = book(shop, fake, [camp("2027-01-08")], family())
    order_id = detail["order"]["order_id"]
    refused = act(shop, f"/api/orders/{order_id}/end-subscription",
                  {"when": "now", "reason": "moving"})  # fmt: skip
    assert refused.status_code == 409 and refused.json()["error"] == "no_subscription"
    bad = act(shop, f"/api/orders/{order_id}/end-subscription", {"when": "tomorrow"})
    assert [p["path"] for p in bad.json()["problems"]] == ["when", "reason"]


def ignite_order(shop: Sidecar, fake: FakeStripe, name: str) -> tuple[str, str]:
    """An Ignite sign-up, paid for February 2027 (its classes booked): order, subscription."""
    order_id, subscription, _ = ignite_signup(shop, fake, name)
    return order_id, subscription


def test_ending_a_subscription_stripe_shows_cancelled_already_is_recorded_as_ended(
    shop: Sidecar, fake: FakeStripe
):
    """Cancelled in Stripe's Dashboard, or by a sidecar that died before recording it:
    Stripe refuses to cancel it again, says (one read) it is cancelled, and the ending is
    recorded, once."""
    order_id, subscription = ignite_order(shop, fake, "Cal")
    stripe.StripeClient("sk_test_123", base_addresses={"api": fake.url}).v1.subscriptions.cancel(
        subscription
    )
    ended = act(shop, f"/api/orders/{order_id}/end-subscription",
                {"when": "now", "reason": "cancelled by phone"})  # fmt: skip
    assert ended.status_code == 200, ended.text
    assert ended.json()["when"] == "now" and "cancelled already" in ended.json()["message"]
    again = act(shop, f"/api/orders/{order_id}/end-subscription",
                {"when": "now", "reason": "cancelled by phone"})  # fmt: skip
    assert again.status_code == 200 and again.json()["already"] is True
    audits = [a for a in shop.staff_get("/api/actions", order_id=order_id).json()["actions"]
              if a["action"] == "end_subscription"]  # fmt: skip
    assert len(audits) == 1


def ignite_signup(shop: Sidecar, fake: FakeStripe, name: str) -> tuple[str, str, str]:
    """`ignite_order`, and the PaymentIntent of its February invoice (known to the fake)."""
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
    intent = fake.add_invoice_payment(february["id"], amount=february["amount_paid"])
    assert shop.deliver(stripe_event("invoice.paid", february)).status_code == 200
    assert wait_for(lambda: len(order(shop, order_id)["bookings"]) == 3)  # 8, 15, 22 Feb
    return order_id, subscription, intent


def test_refunding_an_ignite_enrolment_refunds_its_invoice_once_and_can_end_the_subscription(
    shop: Sidecar, fake: FakeStripe, mailbox
):
    order_id, subscription, intent = ignite_signup(shop, fake, "Nia")
    detail = order(shop, order_id)
    (item,) = detail["items"]
    address = detail["order"]["customer_email"]
    path = f"/api/orders/{order_id}/refund"
    refunded_before = shop.staff_get("/api/kpis").json()["refunds"]

    # More than its invoice paid: 422 saying how much is refundable; a whole-order refund
    # of an Ignite order names no invoice: 409.
    too_much = act(shop, path, {"items": [item["order_item_id"]], "amount": 15000,
                                "reason": "goodwill"})  # fmt: skip
    assert too_much.status_code == 422, too_much.text
    assert too_much.json()["refundable"] == 14900 and "$149.00" in too_much.json()["message"]
    assert act(shop, path, {"reason": "all of it"}).status_code == 409
    assert not [r for r in fake.refunds if r["payment_intent"] == intent]

    # A double submission (two clicks at once, one Idempotency-Key): one refund of the
    # invoice's payment, and the subscription ended now, once.
    body = {"items": [item["order_item_id"]], "amount": 10000, "end_subscription": "now",
            "reason": "Nia cannot come this term"}  # fmt: skip
    answers = _race(*[lambda: act(shop, path, body, key="nia-refund")] * 2)
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert len({a.json()["refund_id"] for a in answers}) == 1
    mine = [r for r in fake.refunds if r["payment_intent"] == intent]
    assert [r["amount"] for r in mine] == [10000]
    assert mine[0]["metadata"]["tt_items"] == item["order_item_id"]
    assert fake.subscription(subscription)["status"] == "canceled"
    assert {a.json()["subscription"]["when"] for a in answers} == {"now"}

    # Stripe's charge.refunded (delivered twice) and the subscription's deletion come back:
    # the classes to come are cancelled once, the money counted once, the order kept.
    (refunded,) = [e for e in fake.refund_events()
                   if e["data"]["object"]["payment_intent"] == intent]  # fmt: skip
    for _ in range(2):
        assert shop.deliver(refunded).status_code == 200
    deleted = {"id": subscription, "object": "subscription", "status": "canceled",
               "metadata": {"order_id": order_id}}  # fmt: skip
    assert shop.deliver(stripe_event("customer.subscription.deleted", deleted)).status_code == 200
    assert wait_for(lambda: {b["status"] for b in order(shop, order_id)["bookings"]}
                    == {"cancelled"})  # fmt: skip
    after = order(shop, order_id)
    assert after["order"]["payment_status"] == "partially_refunded"
    assert after["order"]["amount_refunded"] == 10000
    assert not [e for e in after["errors"] if "refund" in e["message"]]
    refunds = shop.staff_get("/api/kpis").json()["refunds"]
    assert refunds["amount"] == refunded_before["amount"] + 10000
    assert refunds["count"] == refunded_before["count"] + 1
    # Told once of the refunded classes, a line each (the weekly series in their calendar
    # is ended by the subscription's cancellation email).
    assert wait_for(lambda: len(change_mails(mailbox, address)) == 1)
    text = change_mails(mailbox, address)[0].get_body(("plain",)).get_content()
    assert text.count("is cancelled and refunded") == 3, text
    actions = shop.staff_get("/api/actions", order_id=order_id).json()["actions"]
    assert sorted(a["action"] for a in actions) == ["end_subscription", "refund"]
    (refund_action,) = [a for a in actions if a["action"] == "refund"]
    assert refund_action["actor"] == "machine"
    assert refund_action["reason"] == "Nia cannot come this term"
    assert refund_action["details"]["amount"] == 10000

    # What is left of the invoice is refundable no more through the same item.
    again = act(shop, path, {"items": [item["order_item_id"]], "reason": "again"}, key="x2")
    assert again.status_code == 422 and "refunded before" in again.text


def pay_invoice(shop: Sidecar, fake: FakeStripe, order_id: str, subscription: str,
                start: datetime, end: datetime) -> tuple[dict, str]:  # fmt: skip
    """A further paid invoice of the subscription: the invoice and its payment's intent."""
    paid = invoice(subscription, order_id, start, end)
    intent = fake.add_invoice_payment(paid["id"], amount=paid["amount_paid"])
    assert shop.deliver(stripe_event("invoice.paid", paid)).status_code == 200
    return paid, intent


def test_staff_refund_an_ignite_enrolment_from_the_invoice_they_name(
    shop: Sidecar, fake: FakeStripe, mailbox
):
    order_id, subscription, february_intent = ignite_signup(shop, fake, "Ida")
    march, march_intent = pay_invoice(shop, fake, order_id, subscription,
                                      datetime(2027, 3, 1, tzinfo=UTC),
                                      datetime(2027, 4, 1, tzinfo=UTC))  # fmt: skip
    # A period already over (before the suite's 26 November 2026): no class of it to come.
    october, october_intent = pay_invoice(shop, fake, order_id, subscription,
                                          datetime(2026, 10, 1, tzinfo=UTC),
                                          datetime(2026, 11, 1, tzinfo=UTC))  # fmt: skip
    assert wait_for(lambda: len(order(shop, order_id)["bookings"]) == 3 + 4)  # 1-22 March
    detail = order(shop, order_id)
    (item,) = detail["items"]
    address = detail["order"]["customer_email"]
    # The order detail lists its paid invoices, oldest period first.
    listed = detail["invoices"]
    assert [i["period_start"][:10] for i in listed] == ["2026-10-01", "2027-02-01", "2027-03-01"]
    assert {(i["amount_paid"], i["refunded"], i["refundable"]) for i in listed} == {
        (14900, 0, 14900)
    }
    february = listed[1]["invoice_id"]
    path = f"/api/orders/{order_id}/refund"

    # An invoice that is not one of this order's: 422 at `invoice`, nothing asked of Stripe.
    for wrong in ("in_not_ours", "cs_not_an_invoice"):
        refused = act(shop, path, {"items": [item["order_item_id"]], "invoice": wrong,
                                   "reason": "x"})  # fmt: skip
        assert refused.status_code == 422, refused.text
        assert [p["path"] for p in refused.json()["problems"]] == ["invoice"]

    # February's class fees back, asked twice at once (one form, one Idempotency-Key).
    body = {"items": [item["order_item_id"]], "invoice": february, "reason": "sick in February"}
    answers = _race(*[lambda: act(shop, path, body, key="ida-february")] * 2)
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert len({a.json()["refund_id"] for a in answers}) == 1
    assert "the 3 classes it paid for still to come" in answers[0].json()["message"]
    assert answers[0].json()["invoice_id"] == february
    assert [r["amount"] for r in fake.refunds if r["payment_intent"] == february_intent] == [14900]
    assert not [r for r in fake.refunds if r["payment_intent"] == march_intent]
    # Once Stripe confirms, February's classes are cancelled; March's stay booked.
    (refunded,) = [e for e in fake.refund_events()
                   if e["data"]["object"]["payment_intent"] == february_intent]  # fmt: skip
    assert shop.deliver(refunded).status_code == 200
    assert wait_for(lambda: {b["event"]["starts_at"][:7]: b["status"]
                             for b in order(shop, order_id)["bookings"]}
                    == {"2027-02": "cancelled", "2027-03": "confirmed"})  # fmt: skip
    assert wait_for(lambda: len(change_mails(mailbox, address)) == 1)
    text = change_mails(mailbox, address)[0].get_body(("plain",)).get_content()
    assert text.count("is cancelled and refunded") == 3, text
    # February is spent; the same enrolment can still be refunded from March's invoice.
    again = act(shop, path, {**body, "reason": "again"}, key="ida-february-2")
    assert again.status_code == 422 and "refunded before" in again.text

    # October's period is over: money only, and the answer says so; nothing is cancelled.
    past = act(shop, path, {"items": [item["order_item_id"]], "invoice": october["id"],
                            "amount": 5000, "reason": "goodwill for October"})  # fmt: skip
    assert past.status_code == 200, past.text
    assert "money only" in past.json()["message"] and "period is over" in past.json()["message"]
    (refunded,) = [e for e in fake.refund_events()
                   if e["data"]["object"]["payment_intent"] == october_intent]  # fmt: skip
    assert shop.deliver(refunded).status_code == 200
    assert wait_for(lambda: order(shop, order_id)["order"]["amount_refunded"] == 14900 + 5000)
    after = order(shop, order_id)
    assert {b["status"] for b in after["bookings"] if b["event"]["starts_at"] >= "2027-03"} == {
        "confirmed"
    }
    assert [(i["refunded"], i["refundable"]) for i in after["invoices"]] == [
        (5000, 9900),
        (14900, 0),
        (0, 14900),
    ]
    too_much = act(shop, path, {"invoice": october["id"], "amount": 9901, "reason": "x"})
    assert too_much.status_code == 422 and too_much.json()["refundable"] == 9900
    assert len(change_mails(mailbox, address)) == 1  # no email for money only
    assert march["id"] == after["invoices"][2]["invoice_id"]


def test_an_ignite_refund_when_stripe_is_unreachable_is_503_and_changes_nothing(
    shop: Sidecar, fake: FakeStripe
):
    order_id, _, intent = ignite_signup(shop, fake, "Ora")
    (item,) = order(shop, order_id)["items"]
    body = {"items": [item["order_item_id"]], "reason": "moving"}
    fake.down()
    try:
        refused = act(shop, f"/api/orders/{order_id}/refund", body)
    finally:
        fake.up()
    assert refused.status_code == 503 and refused.json()["error"] == "payment_unavailable"
    assert not [r for r in fake.refunds if r["payment_intent"] == intent]
    assert shop.staff_get("/api/actions", order_id=order_id).json()["total"] == 0
    # Nothing was kept of it: the same refund, asked again, is made in full.
    again = act(shop, f"/api/orders/{order_id}/refund", body)
    assert again.status_code == 200, again.text
    assert again.json()["amount"] == item["unit_amount"] and again.json()["already"] is False


def test_an_ignite_class_moves_to_a_make_up_class_and_the_subscription_ends_now(
    shop: Sidecar, fake: FakeStripe, mailbox
):
    order_id, subscription = ignite_order(shop, fake, "Kai")
    address = order(shop, order_id)["order"]["customer_email"]
    classes = sorted(order(shop, order_id)["bookings"], key=lambda b: b["event"]["starts_at"])
    missed = classes[0]  # Monday 8 February
    made_up = act(shop, f"/api/bookings/{missed['booking_id']}/move",
                  {"date": "2027-03-01", "reason": "sick on the 8th"})  # fmt: skip
    assert made_up.status_code == 200, made_up.text
    nowhere = act(shop, f"/api/bookings/{missed['booking_id']}/move",
                  {"date": "2027-03-02", "reason": "a Tuesday"})  # fmt: skip
    assert nowhere.status_code == 422 and nowhere.json()["problems"][0]["path"] == "date"
    moved = next(b for b in order(shop, order_id)["bookings"]
                 if b["booking_id"] == missed["booking_id"])  # fmt: skip
    assert moved["status"] == "confirmed"
    assert moved["event"]["starts_at"] > classes[-1]["event"]["starts_at"]
    # The family's calendar gets the make-up class as an event of its own.
    assert wait_for(lambda: len(change_mails(mailbox, address)) == 1)
    calendar = email_calendar(change_mails(mailbox, address)[0])
    assert str(calendar["METHOD"]) == "REQUEST"
    (make_up,) = events_by_uid(calendar).values()
    assert str(make_up["UID"]) == uid(missed)
    assert make_up["DTSTART"].dt.strftime("%Y-%m-%d %H:%M") == "2027-03-01 15:45"

    ended, again = (
        act(shop, f"/api/orders/{order_id}/end-subscription",
            {"when": "now", "reason": "family moving interstate"})
        for _ in range(2)
    )  # fmt: skip
    assert ended.status_code == 200, ended.text
    assert again.status_code == 200 and again.json()["already"]
    assert fake.subscription(subscription)["status"] == "canceled"
    # Stripe's deletion comes back through the pipeline and releases the classes to come.
    deleted = {"id": subscription, "object": "subscription", "status": "canceled",
               "metadata": {"order_id": order_id}}  # fmt: skip
    assert shop.deliver(stripe_event("customer.subscription.deleted", deleted)).status_code == 200
    assert wait_for(lambda: {b["status"] for b in order(shop, order_id)["bookings"]}
                    == {"cancelled"})  # fmt: skip
    actions = shop.staff_get("/api/actions", order_id=order_id).json()["actions"]
    assert [a["action"] for a in actions] == ["end_subscription", "move"]


def test_an_ignite_subscription_can_end_at_the_period_end(shop: Sidecar, fake: FakeStripe):
    order_id, subscription = ignite_order(shop, fake, "Lou")
    body = {"when": "period_end", "reason": "last term"}
    for _ in range(2):
        assert act(shop, f"/api/orders/{order_id}/end-subscription", body).status_code == 200
    assert fake.subscription(subscription)["cancel_at_period_end"] is True
    assert fake.subscription(subscription)["status"] == "active"
    assert shop.staff_get("/api/actions", order_id=order_id).json()["total"] == 1
    fake.down()
    try:
        refused = act(shop, f"/api/orders/{order_id}/end-subscription",
                      {"when": "now", "reason": "x"})  # fmt: skip
    finally:
        fake.up()
    assert refused.status_code == 503
    assert fake.subscription(subscription)["status"] == "active"


def _race(*calls) -> list[requests.Response]:
    answers: list[requests.Response] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(calls))

    def run(call) -> None:
        barrier.wait()
        answer = call()
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers

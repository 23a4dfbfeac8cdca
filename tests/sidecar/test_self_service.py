"""Parents help themselves (issue 12 item 6): the signed "manage booking" link in the
confirmation email opens the order's page; a cancel inside the policy is refunded through
Stripe, outside it is kept as credit; a camp day is swapped to a day with a place, a full day
refused; forged and expired links are refused; a double submit does one thing.

A real sidecar, a real SMTP server (aiosmtpd) and the fake Stripe API, on the suite's pinned
clock (Thursday 26 November 2026, 10:00 in Sydney): the camp appended to the catalog runs on
days 1 to 14 days after it, one place a day, under the catalog's camp policy (full refund up to
7 days before, credit after, swaps up to 2 days before).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from aiosmtpd.controller import Controller

from core import manage_link
from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import ADMIN_TOKEN, REPO, SUITE_NOW, Inbox, Sidecar, email_calendar, sidecar_env
from tests.fakes.stripe import FakeStripe
from tests.sidecar.test_alerts import wait_for
from tests.sidecar.test_staff_actions import (
    book,
    camp,
    change_mails,
    checkout,
    events_by_uid,
    family,
    fill,
    mails_to,
    order,
    uid,
)

STRIPE_KEY = "sk_test_parents"
NEAR_CAMP = """
[[camps]]
id = "near-camp"
name = "Near Camp"
venue = "chatswood"
room = "launch-pad"
dates = ["2026-11-27", "2026-11-30", "2026-12-01", "2026-12-03", "2026-12-07", "2026-12-08",
         "2026-12-09", "2026-12-10"]
capacity = 1
prices = { day = 6000, all_day = 8000 }
min_age = 5
max_age = 12
description = "Days close to the suite's pinned date, one place each."
"""


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as stripe_api:
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
    tmp_path = tmp_path_factory.mktemp("parents")
    catalog = tmp_path / "catalog.toml"
    catalog.write_text((REPO / "data" / "catalog.toml").read_text() + NEAR_CAMP)
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


def manage_path(mailbox, address: str) -> str:
    """The "manage booking" link of the family's confirmation email, as a path."""
    assert wait_for(lambda: len(mails_to(mailbox, address)) >= 1)
    confirmation = mails_to(mailbox, address)[0]
    text = confirmation.get_body(("plain",)).get_content()
    (link,) = re.findall(r"https?://\S+/manage/\S+", text)
    html = confirmation.get_body(("html",)).get_content()
    assert link in html  # the HTML part carries the same link
    return urlsplit(link).path


def get(shop: Sidecar, path: str) -> requests.Response:
    return requests.get(shop.url + path, timeout=30, allow_redirects=False)


def post(shop: Sidecar, path: str, form: dict[str, str]) -> requests.Response:
    return requests.post(shop.url + path, data=form, timeout=30, allow_redirects=False)


def form_token(page: requests.Response) -> str:
    (token,) = re.findall(r'name="form_token" value="([^"]+)"', page.text)
    return token


def actions_of(shop: Sidecar, order_id: str) -> list[dict]:
    return shop.staff_get("/api/actions", order_id=order_id).json()["actions"]


def status_of(shop: Sidecar, order_id: str, booking: dict) -> str:
    (found,) = [b for b in order(shop, order_id)["bookings"]
                if b["booking_id"] == booking["booking_id"]]  # fmt: skip
    return found["status"]


def twice(shop: Sidecar, path: str, form: dict[str, str]) -> list[requests.Response]:
    """The same form posted twice at once (a double tap)."""
    answers: list[requests.Response] = []
    threads = [threading.Thread(target=lambda: answers.append(post(shop, path, form)))
               for _ in range(2)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


# --- the link ------------------------------------------------------------------------------


def test_the_confirmation_link_opens_the_orders_page_with_what_each_booking_may_do(
    shop: Sidecar, fake: FakeStripe, mailbox
):
    address = family()
    detail = book(shop, fake, [camp("2027-01-07"), camp("2026-12-01", "near-camp")], address)
    path = manage_path(mailbox, address)
    page = get(shop, path)
    assert page.status_code == 200, page.text
    assert "no-store" in page.headers["Cache-Control"]
    assert "form-action 'self'" in page.headers["Content-Security-Policy"]
    assert "<script" not in page.text  # works without JavaScript
    far, near = sorted(detail["bookings"], key=lambda b: b["event"]["starts_at"], reverse=True)
    assert "Robotics Bootcamp" in page.text and "Near Camp" in page.text
    # Six weeks ahead: a full refund, by the 7th day before; five days ahead: credit.
    assert "Cancel by Thursday 31 December for a full refund of $89.00" in page.text
    assert "Cancel this day (full refund)" in page.text
    assert "keeps $60.00 as credit" in page.text and "Cancel this day (keep credit)" in page.text
    assert f"{path}/cancel/{far['booking_id']}" in page.text
    assert f"{path}/swap/{near['booking_id']}" in page.text


def test_a_forged_or_expired_link_is_refused_with_a_page(shop: Sidecar, fake: FakeStripe, mailbox):
    address = family()
    detail = book(shop, fake, [camp("2027-01-08")], address)
    path = manage_path(mailbox, address)
    token = path.rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    refused = get(shop, f"/manage/{forged}")
    assert refused.status_code == 403 and "This link doesn't work" in refused.text
    assert get(shop, "/manage/not-a-token").status_code == 403
    # Another order's id under this link's signature is forged too.
    order_id, expires, mac = token.split(".")
    assert get(shop, f"/manage/{order_id[:-1]}.{expires}.{mac}").status_code == 403
    # A genuine link past its expiry.
    key = manage_link.key_from(ADMIN_TOKEN)
    old = manage_link.token(key, detail["order"]["order_id"], SUITE_NOW - timedelta(minutes=1))
    expired = get(shop, f"/manage/{old}")
    assert expired.status_code == 410 and "This link has expired" in expired.text
    booking_id = detail["bookings"][0]["booking_id"]
    assert post(shop, f"/manage/{old}/cancel/{booking_id}", {}).status_code == 410
    # A POST without the page's form token changes nothing.
    no_form = post(shop, f"{path}/cancel/{booking_id}", {"form_token": "made.up"})
    assert no_form.status_code == 403
    assert order(shop, detail["order"]["order_id"])["bookings"][0]["status"] == "confirmed"
    assert actions_of(shop, detail["order"]["order_id"]) == []


# --- cancel --------------------------------------------------------------------------------


def test_a_cancel_inside_the_policy_is_refunded_once_and_cancels_the_day(
    shop: Sidecar, fake: FakeStripe, mailbox
):
    address = family()
    detail = book(shop, fake, [camp("2027-01-05"), camp("2027-01-06")], address)
    order_id = detail["order"]["order_id"]
    booking, kept = sorted(detail["bookings"], key=lambda b: b["event"]["starts_at"])
    (item,) = [i for i in detail["items"] if i["item_date"] == "2027-01-05"]
    path = manage_path(mailbox, address)
    confirm = get(shop, f"{path}/cancel/{booking['booking_id']}")
    assert confirm.status_code == 200 and "full refund of $89.00" in confirm.text
    answers = twice(shop, f"{path}/cancel/{booking['booking_id']}",
                    {"form_token": form_token(confirm)})  # fmt: skip
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert all("$89.00 is being refunded" in a.text for a in answers)
    mine = [r for r in fake.refunds if r["payment_intent"] == detail["order"]["payment_intent_id"]]
    assert [r["amount"] for r in mine] == [item["unit_amount"]]  # one refund, of the day

    (event,) = [e for e in fake.refund_events()
                if e["data"]["object"]["payment_intent"] == mine[0]["payment_intent"]]  # fmt: skip
    assert shop.deliver(event).status_code == 200
    assert wait_for(lambda: status_of(shop, order_id, booking) == "cancelled")
    assert status_of(shop, order_id, kept) == "confirmed"  # only the day cancelled
    assert order(shop, order_id)["order"]["amount_refunded"] == item["unit_amount"]
    assert wait_for(lambda: len(change_mails(mailbox, address)) == 1)
    calendar = email_calendar(change_mails(mailbox, address)[0])
    assert str(calendar["METHOD"]) == "CANCEL"
    assert list(events_by_uid(calendar)) == [uid(booking)]
    (action,) = actions_of(shop, order_id)
    assert action["actor"] == f"parent {address}" and action["action"] == "refund"
    # The page now says so, and offers nothing more for that day.
    assert "This booking is cancelled." in get(shop, path).text
    assert f"/cancel/{booking['booking_id']}" not in get(shop, path).text


def test_a_cancel_when_stripe_is_unreachable_changes_nothing_and_can_be_tried_again(
    shop: Sidecar, fake: FakeStripe, mailbox
):
    address = family()
    detail = book(shop, fake, [camp("2027-01-19")], address)
    order_id = detail["order"]["order_id"]
    (booking,) = detail["bookings"]
    path = f"{manage_path(mailbox, address)}/cancel/{booking['booking_id']}"
    form = {"form_token": form_token(get(shop, path))}
    fake.down()
    try:
        refused = post(shop, path, form)
    finally:
        fake.up()
    assert refused.status_code == 503 and "nothing was changed" in refused.text
    assert actions_of(shop, order_id) == []
    assert order(shop, order_id)["order"]["amount_refunded"] == 0
    assert "Cancel this day (full refund)" in get(shop, manage_path(mailbox, address)).text
    assert post(shop, path, form).status_code == 200  # the same form, once Stripe is back
    assert len(fake_refunds(fake, detail)) == 1


def fake_refunds(fake: FakeStripe, detail: dict) -> list[dict]:
    return [r for r in fake.refunds if r["payment_intent"] == detail["order"]["payment_intent_id"]]


def test_a_cancel_outside_the_full_refund_window_keeps_credit(
    shop: Sidecar, fake: FakeStripe, mailbox
):
    address = family()
    detail = book(shop, fake, [camp("2026-11-30", "near-camp")], address)
    order_id = detail["order"]["order_id"]
    (booking,) = detail["bookings"]
    path = manage_path(mailbox, address)
    # Another family finds the day full and joins its waitlist.
    waiting = family()
    cart = {"customer": {"email": waiting, "name": "Sam Lee"},
            "items": [camp("2026-11-30", "near-camp", name="Ava Lee")]}  # fmt: skip
    assert checkout(shop, cart["items"], waiting).status_code == 409
    joined = requests.post(shop.url + "/api/waitlist", json=cart, timeout=30)
    assert joined.status_code == 201, joined.text
    confirm = get(shop, f"{path}/cancel/{booking['booking_id']}")
    assert "keeps $60.00 as credit" in confirm.text
    answers = twice(shop, f"{path}/cancel/{booking['booking_id']}",
                    {"form_token": form_token(confirm)})  # fmt: skip
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    after = order(shop, order_id)
    assert after["bookings"][0]["status"] == "cancelled"
    assert after["order"]["credit_amount"] == 6000  # once, not twice
    assert after["order"]["amount_refunded"] == 0
    assert not [
        r for r in fake.refunds if r["payment_intent"] == detail["order"]["payment_intent_id"]
    ]
    (action,) = actions_of(shop, order_id)
    assert (action["action"], action["actor"]) == ("cancel", f"parent {address}")
    assert wait_for(lambda: len(change_mails(mailbox, address)) == 1)
    assert str(email_calendar(change_mails(mailbox, address)[0])["METHOD"]) == "CANCEL"
    # The freed place is offered to the waiting family at once, and held for them.
    assert wait_for(lambda: any(m["Subject"].startswith("A place for you")
                                for m in mails_to(mailbox, waiting)))  # fmt: skip
    assert checkout(shop, [camp("2026-11-30", "near-camp")], family()).status_code == 409


def test_a_day_starting_tomorrow_cannot_be_swapped_and_a_started_one_not_cancelled(
    shop: Sidecar, fake: FakeStripe, mailbox
):
    address = family()
    detail = book(shop, fake, [camp("2026-11-27", "near-camp")], address)
    (booking,) = detail["bookings"]
    path = manage_path(mailbox, address)
    assert f"/swap/{booking['booking_id']}" not in get(shop, path).text
    refused = get(shop, f"{path}/swap/{booking['booking_id']}")
    assert refused.status_code == 409
    assert post(shop, f"{path}/swap/{booking['booking_id']}",
                {"form_token": "x.y", "date": "2026-12-10"}).status_code == 403  # fmt: skip
    assert order(shop, detail["order"]["order_id"])["bookings"][0]["status"] == "confirmed"


# --- swap ----------------------------------------------------------------------------------


def test_a_camp_day_is_swapped_to_a_day_with_a_place_and_a_full_day_is_refused(
    shop: Sidecar, fake: FakeStripe, mailbox
):
    address = family()
    detail = book(shop, fake, [camp("2026-12-07", "near-camp")], address)
    order_id = detail["order"]["order_id"]
    (booking,) = detail["bookings"]
    book(shop, fake, [camp("2026-12-08", "near-camp")], family())  # the 8th is now full
    path = manage_path(mailbox, address)
    choose = get(shop, f"{path}/swap/{booking['booking_id']}")
    assert choose.status_code == 200, choose.text
    offered = re.findall(r'<option value="([0-9-]+)"', choose.text)
    assert "2026-12-08" not in offered and "2026-11-27" not in offered  # full; too close
    assert "2026-12-09" in offered
    token = form_token(choose)

    full = post(shop, f"{path}/swap/{booking['booking_id']}",
                {"form_token": token, "date": "2026-12-08"})  # fmt: skip
    assert full.status_code == 409 and "filled up" in full.text
    answers = twice(shop, f"{path}/swap/{booking['booking_id']}",
                    {"form_token": token, "date": "2026-12-09"})  # fmt: skip
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    after = order(shop, order_id)
    assert after["items"][0]["item_date"] == "2026-12-09"
    assert after["bookings"][0]["status"] == "confirmed"
    assert fill(shop, "2026-12-07", "near-camp") == 0 and fill(shop, "2026-12-09", "near-camp") == 1
    moves = [a for a in actions_of(shop, order_id) if a["action"] == "move"]
    assert len(moves) == 1 and moves[0]["actor"] == f"parent {address}"  # one effect
    assert wait_for(lambda: len(change_mails(mailbox, address)) == 1)
    calendar = email_calendar(change_mails(mailbox, address)[0])
    assert str(calendar["METHOD"]) == "REQUEST"
    (moved,) = events_by_uid(calendar).values()
    assert str(moved["UID"]) == uid(booking)
    assert moved.decoded("DTSTART").astimezone(SUITE_NOW.tzinfo).date().isoformat() == "2026-12-09"
    # The freed 7th is sold again.
    assert checkout(shop, [camp("2026-12-07", "near-camp")], family()).status_code == 201


# --- last: it queues reminders for every booking of the module in the coming week -----------


def test_the_reminder_carries_the_link_too(shop: Sidecar, fake: FakeStripe, mailbox):
    address = family()
    detail = book(shop, fake, [camp("2026-12-03", "near-camp")], address)
    manage_path(mailbox, address)  # the confirmation is in
    run = requests.post(shop.url + "/api/reminders/run", json={"window_hours": 8 * 24},
                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30)  # fmt: skip
    assert run.status_code == 200 and run.json()["queued"] >= 1, run.text

    def reminders() -> list:
        return [m for m in mails_to(mailbox, address) if m["Subject"].startswith("Reminder:")]

    assert wait_for(lambda: len(reminders()) == 1)
    text = reminders()[0].get_body(("plain",)).get_content()
    (link,) = re.findall(r"https?://\S+/manage/\S+", text)
    page = get(shop, urlsplit(link).path)
    assert page.status_code == 200
    # Seven days ahead: still a full refund, and the booking's cancel is offered.
    assert f"/cancel/{detail['bookings'][0]['booking_id']}" in page.text
    assert "Cancel by Thursday 26 November for a full refund of $60.00" in page.text

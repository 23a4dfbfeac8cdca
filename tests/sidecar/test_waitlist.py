"""The waitlist end to end: families join when checkout answers 409, staff reorder them, a
freed place (here, a checkout's hold that lapsed) is offered to the next family for 24
hours, passes on when the offer lapses, and is booked through the offer's link; the
daily summary counts it all. A real sidecar, restarted later in time on the same
database, FakeStripe and an SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests

from core import clock
from core.summary import local_today
from tests.conftest import SYDNEY, Inbox, Sidecar
from tests.fakes.stripe import FakeStripe
from tests.sidecar.test_alerts import wait_for
from tests.sidecar.test_staff_bookings import (
    STAFF,
    Shop,
    checkout,
    family,
    fulfilled,
    mails_to,
    open_link,
    post,
)
from tests.sidecar.test_staff_bookings import fake as fake
from tests.sidecar.test_staff_bookings import mail as mail
from tests.sidecar.test_staff_bookings import stripe_clock as stripe_clock

DAY = "2027-01-04"
MINUTE, HOUR = 60, 3600


@pytest.fixture(scope="module")
def shop(tmp_path_factory, fake, mail, stripe_clock) -> Iterator[Shop]:
    shop = Shop(tmp_path_factory.mktemp("waitlist"), fake, mail[1], stripe_clock)
    yield shop
    shop.stop()


def join(sidecar: Sidecar, body: dict) -> requests.Response:
    return requests.post(sidecar.url + "/api/waitlist", json=body, timeout=30)


def entries(sidecar: Sidecar, event: str) -> dict[str, dict]:
    listed = sidecar.staff_get("/api/waitlist", event=event).json()["entries"]
    return {entry["email"]: entry for entry in listed}


def offer_text(inbox: Inbox, address: str) -> str:
    (offer,) = mails_to(inbox, address)
    assert offer["Subject"].startswith("A place for you: Phone One")
    return offer.get_body(("plain",)).get_content()


def test_a_freed_place_is_offered_in_order_lapses_and_passes_on_then_is_booked(
    shop: Shop, mail, fake: FakeStripe
):
    inbox, _ = mail
    sidecar = shop.sidecar
    # Family A's checkout holds the day's one place for 30 minutes.
    assert checkout(sidecar, family(DAY, "a@example.com")).status_code == 201
    full = checkout(sidecar, family(DAY, "b@example.com"))
    assert full.status_code == 409

    # B and C join the waitlist; B again is the same entry; a bad body lists its problems.
    b = join(sidecar, family(DAY, "b@example.com"))
    assert b.status_code == 201, b.text
    assert b.json()["position"] == 1 and b.json()["status"] == "waiting"
    assert join(sidecar, family(DAY, "c@example.com")).json()["position"] == 2
    again = join(sidecar, family(DAY, "b@example.com"))
    assert (again.status_code, again.json()["entry_id"]) == (200, b.json()["entry_id"])
    two = family(DAY, "d@example.com")
    two["items"].append({**two["items"][0], "date": "2027-01-05"})
    two["customer"]["email"] = "not an email"
    bad = join(sidecar, two)
    assert bad.status_code == 422
    assert {p["path"] for p in bad.json()["problems"]} == {"customer.email"}
    del two["items"][1]["session"]
    two["customer"]["email"] = "d@example.com"
    assert [p["path"] for p in join(sidecar, two).json()["problems"]] == ["items[1].session"]
    two["items"][1]["session"] = "day"
    assert [p["path"] for p in join(sidecar, two).json()["problems"]] == ["items"]

    # Staff see the event and put C first.
    event = b.json()["event_key"]
    (listed,) = sidecar.staff_get("/api/waitlist").json()["events"]
    assert (listed["event"], listed["waiting"]) == (event, 2)
    reorder = {"event": event, "by": "Priya",
               "entry_ids": [entries(sidecar, event)["c@example.com"]["entry_id"]]}  # fmt: skip
    assert post(sidecar, "/api/waitlist/reorder", reorder).status_code == 200
    order = entries(sidecar, event)
    assert (order["c@example.com"]["position"], order["b@example.com"]["position"]) == (1, 2)
    unknown = post(sidecar, "/api/waitlist/reorder", {**reorder, "entry_ids": ["wait_nope"]})
    assert unknown.status_code == 422

    # 31 minutes on, A's hold has lapsed: the place is offered to C, held for 24 hours.
    sidecar = shop.start(31 * MINUTE)
    assert wait_for(lambda: entries(sidecar, event)["c@example.com"]["status"] == "offered")
    c_offer = entries(sidecar, event)["c@example.com"]
    assert entries(sidecar, event)["b@example.com"]["status"] == "waiting"
    assert wait_for(lambda: len(mails_to(inbox, "c@example.com")) == 1)
    assert f"/orders/{c_offer['order_id']}/pay" in offer_text(inbox, "c@example.com")
    assert checkout(sidecar, family(DAY, "e@example.com")).status_code == 409  # held for C
    assert open_link(sidecar, c_offer["order_id"]).status_code == 303

    # A day on, C has not paid: the offer lapses and the place passes on to B.
    sidecar = shop.start(31 * MINUTE + 25 * HOUR)
    assert wait_for(lambda: entries(sidecar, event)["b@example.com"]["status"] == "offered")
    assert entries(sidecar, event)["c@example.com"]["status"] == "lapsed"
    assert open_link(sidecar, c_offer["order_id"]).status_code == 410
    assert wait_for(lambda: len(mails_to(inbox, "b@example.com")) == 1)
    b_order = entries(sidecar, event)["b@example.com"]["order_id"]
    assert f"/orders/{b_order}/pay" in offer_text(inbox, "b@example.com")

    # B pays through the link: booked, and counted as a conversion.
    opened = open_link(sidecar, b_order)
    (session,) = [s for s in fake.sessions.values() if s["client_reference_id"] == b_order]
    assert opened.headers["location"] == session["url"]
    assert sidecar.deliver(fake.complete_session(session["id"])).status_code == 200
    assert wait_for(lambda: fulfilled(sidecar, b_order))
    ran = post(sidecar, "/api/waitlist/run", {})
    assert ran.status_code == 200
    assert entries(sidecar, event)["b@example.com"]["status"] == "converted"

    today = requests.get(f"{sidecar.url}/api/orders/{b_order}/status", timeout=10).json()
    assert today["fulfillment_status"] == "fulfilled"
    summary = post(sidecar, "/api/summaries/run", {"date": _local_today(shop)})
    figures = summary.json()["summary"]["figures"]
    # B's offer was made today (C's, yesterday), and B booked through it.
    assert figures["waitlist"] == {"size": 0, "offers": 1, "conversions": 1}


def _local_today(shop: Shop) -> str:
    """Today where the business is, on the clock of the sidecar running now."""
    later = clock.now() + timedelta(seconds=shop.stripe_clock.extra)
    return local_today(later, SYDNEY).isoformat()


def test_staff_remove_an_entry_and_the_public_never_sees_other_families(shop: Shop):
    sidecar = shop.sidecar
    body = family("2027-01-05", "f@example.com")
    assert checkout(sidecar, family("2027-01-05", "g@example.com")).status_code == 201
    joined = join(sidecar, body).json()
    assert set(joined) == {"entry_id", "event_key", "label", "position", "status", "offer_hours"}
    removed = post(sidecar, f"/api/waitlist/{joined['entry_id']}/remove", {"by": "Priya"})
    assert removed.status_code == 200 and removed.json()["status"] == "removed"
    twice = post(sidecar, f"/api/waitlist/{joined['entry_id']}/remove", {"by": "Priya"})
    assert twice.status_code == 409
    assert post(sidecar, "/api/waitlist/wait_nope/remove", {"by": "Priya"}).status_code == 404
    assert requests.get(sidecar.url + "/api/waitlist", timeout=10).status_code == 401
    unauthorised = requests.post(
        sidecar.url + "/api/waitlist/run", json={}, headers={**STAFF, "Authorization": "x"},
        timeout=10,
    )  # fmt: skip
    assert unauthorised.status_code == 401


def test_an_expired_checkout_offers_its_place_to_the_next_family_at_once(
    shop: Shop, mail, fake: FakeStripe
):
    inbox, _ = mail
    sidecar = shop.sidecar
    day = "2027-01-06"
    held = checkout(sidecar, family(day, "h@example.com"))
    assert held.status_code == 201
    joined = join(sidecar, family(day, "i@example.com")).json()
    assert joined["status"] == "waiting"

    (session,) = [
        s for s in fake.sessions.values() if s["client_reference_id"] == held.json()["order_id"]
    ]
    assert sidecar.deliver(fake.expire_session(session["id"])).status_code == 200
    # Offered by the event's own transaction, without waiting for the 30-second pass.
    assert wait_for(
        lambda: entries(sidecar, joined["event_key"])["i@example.com"]["status"] == "offered",
        timeout=10,
    )
    assert wait_for(lambda: len(mails_to(inbox, "i@example.com")) == 1)


def test_one_mailbox_may_wait_for_as_many_places_as_it_may_hold_at_checkout(shop: Shop):
    days = ["2027-01-04", "2027-01-05", "2027-01-06", "2027-01-07", "2027-01-08", "2027-01-18"]
    email = "busy@example.com"
    for day in days:  # CHECKOUT_PLACES_PER_EMAIL is 6
        body = family(day, email, product="summer-robotics")
        assert join(shop.sidecar, body).status_code == 201
    seventh = join(shop.sidecar, family("2027-01-19", email, product="summer-robotics"))
    assert seventh.status_code == 429
    assert seventh.json()["error"] == "too_many_holds"
    assert "at most 6 places" in seventh.json()["message"]

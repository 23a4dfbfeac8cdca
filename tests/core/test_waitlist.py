"""core/waitlist.py: who is offered a place, when an offer lapses, what the emails say."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.checkout import HoldRequest
from core.summary import DayRows, day_figures, summary_text
from core.waitlist import (
    Waiting,
    event_key,
    event_resources,
    free_places,
    lapsed,
    next_offers,
    offer_email,
    offer_expiry,
    pay_session_expiry,
)

SYDNEY = ZoneInfo("Australia/Sydney")
NOW = datetime(2026, 11, 26, 0, 0)  # naive UTC, as stored


def test_a_party_waits_for_any_of_its_rooms_and_a_camp_for_its_day():
    party = HoldRequest(0, (("party:v:room-a:2027-01-10:13:00", 1),
                            ("party:v:room-b:2027-01-10:13:00", 1)), 1, "taken")  # fmt: skip
    key = event_key(party)
    assert event_resources(key) == ["party:v:room-a:2027-01-10:13:00",
                                    "party:v:room-b:2027-01-10:13:00"]  # fmt: skip
    assert event_key(HoldRequest(0, (("camp:x:2027-01-04", 24),), 1, "full")) == (
        "camp:x:2027-01-04"
    )


def test_free_places_never_count_an_overbooked_resource_against_another():
    assert free_places([(24, 24)]) == 0
    assert free_places([(1, 1), (0, 1)]) == 1
    assert free_places([(3, 2), (0, 1)]) == 1  # overbooked room-a takes nothing from room-b


def test_the_next_offers_follow_staff_order_and_the_free_places():
    waiting = [Waiting("w-b", 2), Waiting("w-c", 1), Waiting("w-d", 3)]
    assert next_offers(waiting, 0) == []
    assert next_offers(waiting, 1) == ["w-c"]
    assert next_offers(waiting, 2) == ["w-c", "w-b"]
    assert next_offers(waiting, 9) == ["w-c", "w-b", "w-d"]


def test_an_offer_holds_for_24_hours_and_lapses_at_its_end():
    expires = offer_expiry(NOW)
    assert expires == NOW + timedelta(hours=24)
    assert not lapsed(expires, expires - timedelta(seconds=1))
    assert lapsed(expires, expires)


def test_a_payment_links_session_lapses_with_the_hold_within_stripes_limits():
    now = NOW.replace(tzinfo=UTC)
    assert pay_session_expiry(now + timedelta(hours=5), now) == now + timedelta(hours=5)
    assert pay_session_expiry(now + timedelta(minutes=5), now) == now + timedelta(minutes=31)
    assert pay_session_expiry(now + timedelta(hours=30), now) < now + timedelta(hours=24)


def test_the_offer_email_says_what_until_when_in_local_time_and_links_to_pay():
    email = offer_email("Sam Lee", "Phone One on Mon 4 Jan 2027", "https://x/orders/o/pay",
                        NOW + timedelta(hours=24), SYDNEY)  # fmt: skip
    assert email["subject"] == "A place for you: Phone One on Mon 4 Jan 2027"
    assert email["text"].startswith("Hi Sam,")
    assert "until Fri 27 Nov 2026 at 11:00 AM" in email["text"]  # 00:00 UTC is 11:00 AEDT
    assert "https://x/orders/o/pay" in email["text"]


def test_the_daily_summary_text_counts_the_waitlist():
    rows = DayRows(
        orders_created=0, orders_paid=0, money=[], refunds=(0, 0), bookings=[],
        next_day_events=[], errors=[], errors_open=0, tickets_new=0, tickets_open=0,
        webhooks={},
    )  # fmt: skip
    figures = day_figures(rows, date(2027, 1, 6), SYDNEY, "aud", datetime(2027, 1, 7, 1))
    assert "Waitlist" not in summary_text(figures)
    figures["waitlist"] = {"size": 3, "offers": 2, "conversions": 1}
    assert "Waitlist: 3 waiting, 2 offered a place, 1 booked through an offer" in (
        summary_text(figures)
    )

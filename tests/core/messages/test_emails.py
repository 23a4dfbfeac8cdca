from __future__ import annotations

from datetime import UTC, date, datetime

from core.catalog_file import load_catalog
from core.messages import emails
from tests.conftest import REPO

CATALOG = load_catalog(REPO / "data" / "catalog.toml")
ICS = "https://tinkertank.example/orders/ord_abc/calendar.ics"


def test_a_hostile_student_name_is_escaped_in_the_html_email_and_kept_in_the_text():
    name = "<script>alert(1)</script>"
    booking = {
        "student": name,
        "title": "Robotics Bootcamp (day)",
        "kind": "camp",
        "status": "confirmed",
        "start": datetime(2027, 1, 3, 22, 0, tzinfo=UTC),
        "end": datetime(2027, 1, 4, 4, 0, tzinfo=UTC),
        "location": "TinkerTank Marrickville",
    }
    order = {"order_id": "ord_abc", "customer_name": "Pat <b>Parent</b>"}

    email = emails.confirmation(order, [booking], CATALOG.tz, "https://x/a.ics", "h@example.com")

    assert name not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert name in email.text
    assert "Monday 4 January 2027, 9:00 AM to 3:00 PM" in email.html


def test_support_address_is_the_bare_address_of_email_from():
    assert emails.support_address("TinkerTank <hello@tinkertank.example>") == (
        "hello@tinkertank.example"
    )
    assert emails.support_address("hello@tinkertank.example") == "hello@tinkertank.example"


def test_an_ignite_students_first_class_is_the_first_booked_one():
    booked = datetime(2027, 5, 17, 5, 45)  # naive UTC, as the store keeps it

    first = emails.first_class(CATALOG, "ignite-coding-monday", booked, datetime(2027, 5, 1))

    assert first == booked.replace(tzinfo=UTC)


def test_with_no_class_booked_yet_the_first_class_is_the_next_one_after_joining():
    joined = datetime(2027, 5, 11, 2, 0)  # Tuesday 11 May, Sydney

    first = emails.first_class(CATALOG, "ignite-coding-monday", None, joined)

    local = first.astimezone(CATALOG.tz)
    assert (local.date(), local.strftime("%H:%M")) == (date(2027, 5, 17), "15:45")


def test_with_nothing_to_go_by_the_first_class_is_the_programs():
    first = emails.first_class(CATALOG, "ignite-coding-monday", None, None)

    assert first.astimezone(CATALOG.tz).date() == date(2027, 2, 8)


def test_the_confirmation_offers_an_ignite_series_as_the_calendar_file_only():
    program = [("Ben", "ignite-coding-monday", "active", None, None)]
    rows = {"bookings": [], "programs": program}
    bookings = emails.order_bookings(rows, CATALOG)
    order = {"order_id": "ord_abc", "customer_name": "Pat Parent"}

    message = emails.confirmation(order, bookings, CATALOG.tz, ICS, "help@example.com")

    assert f"Every class, with the school-holiday breaks: {ICS}" in message.text
    assert "calendar.google.com" not in message.text + message.html
    assert "outlook" not in message.text + message.html


def _camp(student: str, status: str) -> dict:
    return {"student": student, "title": "Robotics Bootcamp (day)", "kind": "camp",
            "status": status, "start": datetime(2027, 1, 3, 22, 0, tzinfo=UTC),
            "end": datetime(2027, 1, 4, 4, 0, tzinfo=UTC), "location": "Marrickville"}  # fmt: skip


def test_an_overbooked_place_is_never_called_confirmed_and_gets_no_calendar_links():
    order = {"order_id": "ord_abc", "customer_name": "Pat Parent"}

    email = emails.confirmation(order, [_camp("Mia", "conflict")], CATALOG.tz, ICS, "h@x.example")

    assert email.subject == "We are checking your TinkerTank booking"
    for part in (email.text, email.html):
        assert "confirmed" not in part
        assert "we are checking this place" in part
        assert "calendar.google.com" not in part and "outlook" not in part
        assert "within one business day" in part


def test_a_booking_with_one_overbooked_place_is_confirmed_but_that_one():
    order = {"order_id": "ord_abc", "customer_name": "Pat Parent"}
    bookings = [_camp("Mia", "confirmed"), _camp("Leo", "conflict")]

    email = emails.confirmation(order, bookings, CATALOG.tz, ICS, "h@x.example")

    assert email.subject == "We are checking your TinkerTank booking"
    assert "confirmed (order ord_abc), except a place we are still" in email.text
    assert email.text.count("calendar.google.com") == 1  # Mia's day only
    assert "Leo" in email.text and "(we are checking this place)" in email.text


def test_a_confirmed_booking_says_so():
    order = {"order_id": "ord_abc", "customer_name": ""}

    email = emails.confirmation(order, [_camp("Mia", "confirmed")], CATALOG.tz, ICS, "h@x.example")

    assert email.subject == "Your TinkerTank booking is confirmed"
    assert "Hi there," in email.text
    assert "checking" not in email.text

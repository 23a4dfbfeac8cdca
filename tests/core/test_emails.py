from __future__ import annotations

from datetime import UTC, datetime

from core import emails
from core.catalog import load_catalog
from tests.conftest import REPO

CATALOG = load_catalog(REPO / "data" / "catalog.toml")


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

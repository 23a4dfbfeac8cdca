from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from core.catalog_file import load_catalog
from core.messages import pages
from tests.conftest import REPO

CATALOG = load_catalog(REPO / "data" / "catalog.toml")
BASE = "https://book.tinkertank.example"
NONCE = "n0nce-for-tests"


def make_status(**overrides: Any) -> dict[str, Any]:
    status = {
        "order_id": "ord_abc",
        "payment_status": "pending",
        "fulfillment_status": "waiting",
        "steps": [],
        "bookings": [],
    }
    status.update(overrides)
    return status


def steps_done(*names: str) -> list[dict[str, Any]]:
    return [{"name": name, "status": "done", "attempts": 1, "reason": None} for name in names]


def make_rows(student: str = "Ada", **status: Any) -> dict[str, Any]:
    """`customer_page_rows` of a paid order: one camp day for `student`, one Ignite program."""
    return {
        "status": make_status(payment_status="paid", fulfillment_status="fulfilled", **status),
        "expires_at": datetime(2026, 12, 1, 10, 30),
        "confirmation": {
            "order": {
                "order_id": "ord_abc",
                "customer_name": "Pat Parent",
                "customer_email": "pat@example.com",
            },
            "bookings": [
                (
                    student,
                    "Robotics Bootcamp (day)",
                    "camp",
                    datetime(2027, 1, 3, 22, 0),
                    datetime(2027, 1, 4, 4, 0),
                    "marrickville",
                    "confirmed",
                ),
            ],
            "programs": [("Ben", "ignite-coding-monday", "active", None, None)],
            "calendar": {"order_id": "ord_abc", "events": [], "series": []},
        },
    }


class _Tags(HTMLParser):
    """Every start tag with its attributes, and every script's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def parse(html: str) -> _Tags:
    tags = _Tags()
    tags.feed(html)
    return tags


SCHEDULED = ("record_payment", "create_bookings", "schedule_events")


@pytest.mark.parametrize(
    ("payment", "fulfillment", "done", "state"),
    [
        ("pending", "waiting", (), "processing"),
        ("paid", "in_progress", ("record_payment",), "processing"),
        ("paid", "in_progress", SCHEDULED, "confirmed"),  # the email may still be on its way
        ("paid", "fulfilled", SCHEDULED, "confirmed"),
        ("partially_refunded", "fulfilled", SCHEDULED, "confirmed"),
        ("failed", "waiting", (), "failed"),
        ("expired", "waiting", (), "expired"),
        ("paid", "needs_attention", ("record_payment",), "needs_attention"),
        ("refunded", "cancelled", SCHEDULED, "cancelled"),
        ("refunded", "fulfilled", SCHEDULED, "cancelled"),
    ],
)
def test_order_state_says_where_the_customer_goes_next(payment, fulfillment, done, state):
    status = make_status(
        payment_status=payment, fulfillment_status=fulfillment, steps=steps_done(*done)
    )

    assert pages.order_state(status) == state


def test_the_processing_page_polls_the_status_api_and_falls_back_to_a_refresh():
    html = pages.render_processing(make_status(), BASE, "help@example.com", NONCE)
    tags = parse(html)

    (body,) = [attrs for tag, attrs in tags.tags if tag == "body"]
    assert body["data-state"] == "processing"
    assert body["data-status-url"] == "/api/orders/ord_abc/status"
    assert body["data-success-url"] == "/orders/ord_abc/success"
    assert ("meta", {"http-equiv": "refresh", "content": "5"}) in tags.tags
    scripts = [attrs for tag, attrs in tags.tags if tag == "script"]
    assert scripts == [{"nonce": NONCE}]
    visible = [a["data-for"] for t, a in tags.tags if "data-for" in a and "hidden" not in a]
    assert visible == ["processing"]


@pytest.mark.parametrize("payment_status", ["failed", "expired"])
def test_a_payment_that_did_not_happen_shows_its_message_and_stops_refreshing(payment_status):
    html = pages.render_processing(
        make_status(payment_status=payment_status), BASE, "help@example.com", NONCE
    )
    tags = parse(html)

    visible = [a["data-for"] for t, a in tags.tags if "data-for" in a and "hidden" not in a]
    assert visible == [payment_status]
    assert not any(attrs.get("http-equiv") == "refresh" for _, attrs in tags.tags)


def test_the_success_page_lists_each_students_bookings_in_sydney_time_with_calendar_links():
    html = pages.render_success(make_rows(), CATALOG, BASE, "help@example.com", NONCE)

    assert "Robotics Bootcamp (day)" in html
    assert "Monday 4 January 2027, 9:00 AM to 3:00 PM" in html
    assert "TinkerTank Marrickville, Unit 3, 48 Farr Street, Marrickville NSW 2204" in html
    assert "Ignite Coding (Monday), weekly from" in html
    assert "Pack lunch" in html and "Classes run weekly" in html  # what to bring
    hrefs = {
        attrs["data-calendar"]: attrs["href"]
        for _, attrs in parse(html).tags
        if "data-calendar" in attrs and "Robotics" in (attrs["href"] or "")
    }
    assert hrefs["google"].startswith("https://calendar.google.com/calendar/render?")
    assert "dates=20270103T220000Z%2F20270104T040000Z" in hrefs["google"]
    assert hrefs["outlook"].startswith("https://outlook.live.com/calendar/0/action/compose?")
    assert "startdt=2027-01-04T09%3A00%3A00%2B11%3A00" in hrefs["outlook"]
    assert hrefs["office"].startswith("https://outlook.office.com/calendar/0/action/compose?")
    ics = f"{BASE}/orders/ord_abc/calendar.ics"
    assert (
        "a",
        {"class": "button primary", "id": "download-all", "href": ics, "download": None},
    ) in parse(html).tags
    (body,) = [attrs for tag, attrs in parse(html).tags if tag == "body"]
    assert body["data-order-id"] == "ord_abc"
    assert body["data-storefront-origin"] == BASE


def test_a_hostile_student_name_is_escaped_on_the_success_page():
    name = '<script>alert("x")</script><img src=x onerror=alert(1)>'

    html = pages.render_success(make_rows(student=name), CATALOG, BASE, "h@example.com", NONCE)

    assert name not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    tags = parse(html)
    assert [tag for tag, _ in tags.tags].count("script") == 1
    assert not any(tag == "img" for tag, _ in tags.tags)


def test_the_cancelled_page_says_until_when_the_places_are_held():
    rows = make_rows()
    rows["status"]["payment_status"] = "pending"
    now = datetime(2026, 12, 1, 10, 5, tzinfo=UTC)

    html = pages.render_cancelled(rows, CATALOG.tz, now, BASE, "help@example.com", NONCE)

    assert "No payment was taken" in html
    assert "9:30 PM on Tuesday 1 December" in html  # 10:30 UTC in Sydney summer time
    assert f'href="{BASE}/"' in html


def test_the_cancelled_page_after_the_hold_lapsed_says_the_places_were_released():
    rows = make_rows()
    rows["status"]["payment_status"] = "pending"
    now = datetime(2026, 12, 1, 10, 31, tzinfo=UTC)

    html = pages.render_cancelled(rows, CATALOG.tz, now, BASE, "help@example.com", NONCE)

    assert "have been released" in html
    assert "holding your places until" not in html


def test_origin_of_keeps_scheme_host_and_port():
    assert pages.origin_of("https://shop.example:8443/book") == "https://shop.example:8443"


def test_an_ignite_enrolment_offers_the_whole_series_not_a_single_event():
    html = pages.render_success(make_rows(), CATALOG, BASE, "help@example.com", NONCE)

    links = [attrs for _, attrs in parse(html).tags if "data-calendar" in attrs]
    series = [a for a in links if a["data-calendar"] == "series"]
    assert [a["href"] for a in series] == [f"{BASE}/orders/ord_abc/calendar.ics"]
    # Google and Outlook links hold one event: offered for the camp day only.
    assert not any("Ignite" in (a["href"] or "") for a in links)
    assert len([a for a in links if a["data-calendar"] == "google"]) == 1


def test_the_success_page_of_an_overbooked_place_says_we_are_checking_it():
    rows = make_rows()
    rows["confirmation"]["bookings"][0] = (*rows["confirmation"]["bookings"][0][:6], "conflict")
    rows["confirmation"]["programs"] = []

    html = pages.render_success(rows, CATALOG, BASE, "help@example.com", NONCE)

    assert "<h1>We are checking your place</h1>" in html
    assert "booked in" not in html and "is confirmed" not in html
    assert 'data-calendar="google"' not in html


def test_the_success_page_thanks_a_nameless_parent_without_calling_them_there():
    rows = make_rows()
    rows["confirmation"]["order"]["customer_name"] = None

    html = pages.render_success(rows, CATALOG, BASE, "help@example.com", NONCE)

    assert "Thanks there" not in html and "Thank you there" not in html
    assert "Thank you, your booking is confirmed" in html

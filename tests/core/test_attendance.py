"""Check-in at the door, as pure functions: a child's standing at an injected `now`, who may
collect them, the day's attendance figures, and the contacts a parent gives at checkout."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from core.attendance import may_collect, standing, who_may_collect
from core.cart import Contact, InvalidCart
from core.cart_metadata import encode_metadata_cart, parse_metadata_cart
from core.cart_rules import validate_checkout
from core.summary import attendance_figures, summary_text
from tests.core.test_cart import CATALOG, TODAY, camp_item, make_body, student

# A camp day session, 09:00-15:00 Sydney, in naive UTC as the store keeps it.
STARTS = datetime(2027, 1, 5, 22, 0)
ENDS = datetime(2027, 1, 6, 4, 0)
MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("now", "state", "flags"),
    [
        (STARTS - 30 * MINUTE, "expected", []),
        (STARTS + 14 * MINUTE, "expected", []),
        (STARTS + 15 * MINUTE, "not_arrived", ["not_arrived"]),
        (ENDS + 60 * MINUTE, "not_arrived", ["not_arrived"]),
    ],
    ids=["before-start", "14-min-in", "15-min-in", "after-end"],
)
def test_a_child_not_checked_in_is_flagged_15_minutes_after_the_start(now, state, flags):
    where = standing(STARTS, ENDS, None, None, now)

    assert (where.state, where.flags) == (state, flags)


@pytest.mark.parametrize(
    ("now", "state", "flags"),
    [
        (ENDS, "checked_in", []),
        (ENDS + MINUTE, "late_pickup", ["late_pickup"]),
    ],
    ids=["at-the-end", "a-minute-after"],
)
def test_a_child_still_in_after_the_end_is_a_late_pickup(now, state, flags):
    where = standing(STARTS, ENDS, STARTS + 5 * MINUTE, None, now)

    assert (where.state, where.flags) == (state, flags)


def test_a_child_collected_after_the_end_stays_flagged_late_and_one_collected_on_time_not():
    late = standing(STARTS, ENDS, STARTS, ENDS + 20 * MINUTE, ENDS + 60 * MINUTE)
    on_time = standing(STARTS, ENDS, STARTS, ENDS - MINUTE, ENDS + 60 * MINUTE)

    assert (late.state, late.flags) == ("checked_out", ["late_pickup"])
    assert (on_time.state, on_time.flags) == ("checked_out", [])


def test_the_parent_and_the_named_adults_may_collect_whatever_the_case_and_spacing():
    collectors = ["Grace Chen", "Uncle Bob"]

    assert may_collect("alex  CHEN", "Alex Chen", collectors)
    assert may_collect(" grace chen ", "Alex Chen", collectors)
    assert not may_collect("Stranger Danger", "Alex Chen", collectors)
    assert not may_collect("Alex Chen", None, [])
    assert who_may_collect("Alex Chen", ["alex chen", *collectors]) == [
        "Alex Chen", "Grace Chen", "Uncle Bob",
    ]  # fmt: skip


def test_the_day_at_the_door_counts_arrivals_no_shows_and_late_pickups():
    now = ENDS + 60 * MINUTE
    rows = [
        (STARTS, ENDS, STARTS, ENDS - MINUTE),  # in and out on time
        (STARTS, ENDS, STARTS, None),  # never checked out: late
        (STARTS, ENDS, STARTS, ENDS + 5 * MINUTE),  # collected late
        (STARTS, ENDS, None, None),  # never came
    ]

    figures = attendance_figures(rows, now)

    assert figures == {"booked": 4, "arrived": 3, "no_shows": 1, "late_pickups": 2}


def test_the_summary_text_says_how_the_day_went_at_the_door():
    figures = {
        "date": "2027-01-06", "timezone": "Australia/Sydney", "currency": "aud",
        "orders": {"created": 0, "paid": 0},
        "revenue": {"total": 0, "gross": 0, "refunded": 0, "by_kind": {}},
        "refunds": {"count": 0, "amount": 0}, "bookings": {"total": 0, "by_kind": {}},
        "tomorrow": {"date": "2027-01-07", "events": []},
        "errors": {"new": 0, "by_category": {}, "by_severity": {}, "open": 0},
        "tickets": {"new": 0, "open": 0}, "webhooks": {},
        "attendance": {"booked": 4, "arrived": 3, "no_shows": 1, "late_pickups": 2},
    }  # fmt: skip

    assert "At the door: 3 of 4 arrived, 1 no-show(s), 2 late pickup(s)" in summary_text(figures)


# --- what the parent gives at checkout ---------------------------------------------------------


def test_checkout_keeps_each_childs_emergency_contacts_and_authorised_collectors():
    body = make_body(
        items=[
            camp_item(
                student=student(
                    emergency_contacts=[{"name": " Wei Chen ", "phone": "+61 412 345 678"}],
                    authorised_collectors=[{"name": "Grace Chen"}, {"name": "Bob", "phone": None}],
                )
            )
        ]
    )

    (item,) = validate_checkout(body, CATALOG, TODAY).items

    assert item.student.emergency_contacts == (Contact("Wei Chen", "+61 412 345 678"),)
    assert item.student.authorised_collectors == (Contact("Grace Chen", None), Contact("Bob", None))


def test_contacts_are_optional():
    (item,) = validate_checkout(make_body(), CATALOG, TODAY).items

    assert item.student.emergency_contacts == ()
    assert item.student.authorised_collectors == ()


def test_every_problem_with_the_contacts_is_reported_at_its_path():
    body = make_body(
        items=[
            camp_item(
                student=student(
                    emergency_contacts=[
                        {"name": "Wei Chen"},
                        {"name": "", "phone": "call me"},
                        {"name": "Ann", "phone": "1234", "email": "a@example.com"},
                        "Grace",
                    ],
                    authorised_collectors={"name": "Grace"},
                )
            ),
            camp_item(
                date="2027-01-05",
                student=student(
                    authorised_collectors=[{"name": "x" * 101}] + [{"name": "A"}] * 6,
                ),
            ),
        ]
    )

    with pytest.raises(InvalidCart) as caught:
        validate_checkout(body, CATALOG, TODAY)
    problems = [(p.path, p.message) for p in caught.value.problems]

    path = "items[0].student.emergency_contacts"
    assert problems == [
        (f"{path}", "at most 3 people, got 4"),
        ("items[0].student.authorised_collectors", "expected a list, got an object"),
        ("items[1].student.authorised_collectors", "at most 6 people, got 7"),
    ]
    body["items"][0]["student"]["emergency_contacts"].pop()
    body["items"][1]["student"]["authorised_collectors"] = [{"name": "x" * 101}]
    with pytest.raises(InvalidCart) as caught:
        validate_checkout(body, CATALOG, TODAY)
    problems = [(p.path, p.message) for p in caught.value.problems]

    assert problems == [
        (f"{path}[0].phone", "missing (required)"),
        (f"{path}[1].name", "must not be empty"),
        (f"{path}[1].phone", "'call me' is not a phone number (digits, spaces, +, ( ) and -)"),
        (f"{path}[2].email", "unknown key 'email'; allowed: name, phone"),
        (f"{path}[2].phone", "'1234' has fewer than 8 digits"),
        ("items[0].student.authorised_collectors", "expected a list, got an object"),
        (
            "items[1].student.authorised_collectors[0].name",
            "must be at most 100 characters, got 101",
        ),
    ]  # fmt: skip


def test_contacts_never_go_to_stripe_and_a_metadata_cart_with_them_is_still_fulfilled():
    contacts = {"emergency_contacts": [{"name": "Wei", "phone": "0412 345 678"}],
                "authorised_collectors": [{"name": "Grace"}]}  # fmt: skip
    items = [camp_item(student=student(**contacts))]

    metadata = encode_metadata_cart(items, {"email": "p@example.com", "name": "P"})
    # A storefront that put them in Stripe anyway: dropped, not refused.
    leaked = {"tt_items": json.dumps([camp_item(student=student(**contacts))])}

    assert "0412" not in "".join(metadata.values())
    assert items[0]["student"]["emergency_contacts"]  # the caller's body is untouched
    (item,) = parse_metadata_cart(leaked, CATALOG, "p@example.com", "P").items
    assert item.student.emergency_contacts == ()

"""Tests for core.cart: checkout bodies and Stripe metadata carts, against the shipped catalog.

Bodies are built by `make_body` and the item factories, which start from a valid cart and apply
overrides, so each test shows only what it changes. Most rules are one row in a table of
(body, path, message) cases that must produce exactly that one problem.
"""

from __future__ import annotations

import json
import pickle
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest

from core.cart import (
    Cart,
    CartItem,
    CartProblem,
    Customer,
    InvalidCart,
    Student,
)
from core.cart_metadata import encode_metadata_cart, parse_metadata_cart
from core.cart_rules import validate_checkout
from core.catalog_file import load_catalog

REPO_ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(REPO_ROOT / "data" / "catalog.toml")
TODAY = date(2026, 12, 1)

REMOVE = object()  # override value meaning "delete this key"


def _with(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        if value is REMOVE:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def student(**overrides: Any) -> dict[str, Any]:
    return _with({"name": "Mia", "age": 8}, overrides)


def camp_item(**overrides: Any) -> dict[str, Any]:
    """Robotics Bootcamp (ages 7-12, day 8900, all_day 11900) on Monday 4 January 2027."""
    base = {
        "product_id": "summer-robotics",
        "date": "2027-01-04",
        "session": "day",
        "student": student(),
    }
    return _with(base, overrides)


def party_item(**overrides: Any) -> dict[str, Any]:
    """Robot Rampage Party (49500; Sat/Sun 10:00, 13:00, 15:30) on Saturday 9 January 2027."""
    base = {
        "product_id": "robot-rampage-party",
        "date": "2027-01-09",
        "start_time": "10:00",
        "student": student(name="Leo", age=9),
    }
    return _with(base, overrides)


def ignite_item(**overrides: Any) -> dict[str, Any]:
    """Ignite Coding (Monday): 14900 a month, ages 7-12."""
    return _with({"product_id": "ignite-coding-monday", "student": student()}, overrides)


def make_body(**overrides: Any) -> dict[str, Any]:
    base = {
        "customer": {"email": "parent@example.com", "name": "Jane Citizen"},
        "items": [camp_item()],
    }
    return _with(base, overrides)


def customer(**overrides: Any) -> dict[str, Any]:
    return _with({"email": "parent@example.com", "name": "Jane Citizen"}, overrides)


def checkout_problems(body: object, today: date = TODAY) -> list[tuple[str, str]]:
    with pytest.raises(InvalidCart) as caught:
        validate_checkout(body, CATALOG, today)
    return [(problem.path, problem.message) for problem in caught.value.problems]


def metadata_problems(
    metadata: dict[str, Any],
    fallback_email: str | None = "payer@example.com",
    fallback_name: str | None = "Pat Payer",
) -> list[tuple[str, str]]:
    with pytest.raises(InvalidCart) as caught:
        parse_metadata_cart(metadata, CATALOG, fallback_email, fallback_name)
    return [(problem.path, problem.message) for problem in caught.value.problems]


def many_camp_items(count: int) -> list[dict[str, Any]]:
    """Distinct students, so none of them is booked twice."""
    return [camp_item(student=student(name=f"Student {n}")) for n in range(count)]


# --- A valid cart --------------------------------------------------------------------------------


def test_a_mixed_cart_is_priced_from_the_catalog_as_a_subscription():
    body = make_body(
        items=[
            camp_item(session="day"),
            camp_item(date="2027-01-05", session="all_day"),
            party_item(),
            ignite_item(),
        ]
    )

    cart = validate_checkout(body, CATALOG, TODAY)

    assert [item.unit_amount for item in cart.items] == [8900, 11900, 49500, 14900]
    assert cart.amount_total == 85200
    assert cart.mode == "subscription"
    assert cart.currency == "aud"
    assert cart.customer == Customer(email="parent@example.com", name="Jane Citizen")


def test_a_mixed_cart_keeps_each_item_in_order_with_its_parsed_fields():
    body = make_body(items=[camp_item(), party_item(), ignite_item()])

    camp, party, ignite = validate_checkout(body, CATALOG, TODAY).items

    assert camp == CartItem(
        position=0,
        product_id="summer-robotics",
        kind="camp",
        date=date(2027, 1, 4),
        session="day",
        start_time=None,
        student=Student(name="Mia", age=8, date_of_birth=None, notes=None),
        unit_amount=8900,
        description="Robotics Bootcamp — 4 Jan 2027, day session",
    )
    assert (party.position, party.kind, party.date, party.start_time, party.session) == (
        1,
        "party",
        date(2027, 1, 9),
        time(10, 0),
        None,
    )
    assert (ignite.position, ignite.kind, ignite.date, ignite.session, ignite.start_time) == (
        2,
        "ignite",
        None,
        None,
        None,
    )


def test_a_cart_without_ignite_is_a_one_off_payment():
    cart = validate_checkout(make_body(items=[camp_item(), party_item()]), CATALOG, TODAY)

    assert cart.mode == "payment"
    assert cart.amount_total == 8900 + 49500


@pytest.mark.parametrize(
    ("item", "description"),
    [
        (camp_item(), "Robotics Bootcamp — 4 Jan 2027, day session"),
        (camp_item(session="all_day"), "Robotics Bootcamp — 4 Jan 2027, all-day session"),
        (party_item(), "Robot Rampage Party — Sat 9 Jan 2027, 10:00"),
        (ignite_item(), "Ignite Coding (Monday) — weekly class, billed monthly"),
    ],
    ids=["camp day", "camp all day", "party", "ignite"],
)
def test_an_item_description_names_product_and_day_but_never_the_student(item, description):
    (cart_item,) = validate_checkout(make_body(items=[item]), CATALOG, TODAY).items

    assert cart_item.description == description
    assert item["student"]["name"] not in cart_item.description


def test_student_details_are_trimmed_and_kept_with_their_notes():
    body = make_body(
        items=[
            camp_item(
                student={"name": "  Mia  ", "date_of_birth": "2018-05-02", "notes": " nut allergy "}
            )
        ]
    )

    (item,) = validate_checkout(body, CATALOG, TODAY).items

    assert item.student == Student(
        name="Mia", age=None, date_of_birth=date(2018, 5, 2), notes="nut allergy"
    )


@pytest.mark.parametrize("notes", [None, "", "   "], ids=["null", "empty", "blank"])
def test_empty_notes_are_stored_as_none(notes):
    body = make_body(items=[camp_item(student=student(notes=notes))])

    (item,) = validate_checkout(body, CATALOG, TODAY).items

    assert item.student.notes is None


def test_a_price_in_the_body_is_an_unknown_key_and_never_used():
    body = make_body(items=[camp_item(price=1), ignite_item(unit_amount=1)])

    problems = checkout_problems(body)

    assert problems == [
        ("items[0].price", "unknown key 'price'; allowed: product_id, date, session, student"),
        ("items[1].unit_amount", "unknown key 'unit_amount'; allowed: product_id, student"),
    ]


# --- One rule, one problem -----------------------------------------------------------------------

SINGLE_PROBLEM_CASES = [
    # customer
    pytest.param(
        make_body(customer=customer(email="parent.example.com")),
        "customer.email",
        "'parent.example.com' is not an email address",
        id="email without @",
    ),
    pytest.param(
        make_body(customer=customer(email="parent@home@example.com")),
        "customer.email",
        "'parent@home@example.com' is not an email address",
        id="email with two @",
    ),
    pytest.param(
        make_body(customer=customer(email="parent@localhost")),
        "customer.email",
        "'parent@localhost' is not an email address",
        id="email without a dot in the domain",
    ),
    pytest.param(
        make_body(customer=customer(email="a" * 245 + "@example.com")),
        "customer.email",
        "must be at most 254 characters, got 257",
        id="email too long",
    ),
    pytest.param(
        make_body(customer=customer(email=5)),
        "customer.email",
        "expected text, got number 5",
        id="email not text",
    ),
    pytest.param(
        make_body(customer=customer(email=REMOVE)),
        "customer.email",
        "missing (required)",
        id="email missing",
    ),
    pytest.param(
        make_body(customer=customer(name="   ")),
        "customer.name",
        "must not be empty",
        id="customer name blank",
    ),
    pytest.param(
        make_body(customer=customer(name="J" * 101)),
        "customer.name",
        "must be at most 100 characters, got 101",
        id="customer name too long",
    ),
    pytest.param(
        make_body(customer=REMOVE), "customer", "missing (required)", id="customer missing"
    ),
    pytest.param(
        make_body(customer="jane@example.com"),
        "customer",
        "expected an object with email and name, got text 'jane@example.com'",
        id="customer not an object",
    ),
    pytest.param(
        make_body(customer=customer(address="1 Farr St")),
        "customer.address",
        "unknown key 'address'; allowed: email, name, phone",
        id="unknown customer key",
    ),
    # items
    pytest.param(make_body(items=REMOVE), "items", "missing (required)", id="items missing"),
    pytest.param(
        make_body(items=camp_item()),
        "items",
        "expected a list of items, got an object",
        id="items not a list",
    ),
    pytest.param(make_body(items=[]), "items", "must contain at least one item", id="no items"),
    pytest.param(
        make_body(items=many_camp_items(21)),
        "items",
        "at most 20 items per order, got 21",
        id="21 items",
    ),
    pytest.param(
        make_body(items=["summer-robotics"]),
        "items[0]",
        "expected an object, got text 'summer-robotics'",
        id="item not an object",
    ),
    pytest.param(
        make_body(items=[camp_item(product_id=REMOVE)]),
        "items[0].product_id",
        "missing (required)",
        id="product_id missing",
    ),
    pytest.param(
        make_body(items=[camp_item(product_id="summer-robotix")]),
        "items[0].product_id",
        "unknown product 'summer-robotix'; did you mean 'summer-robotics'?",
        id="product_id misspelt",
    ),
    pytest.param(
        make_body(items=[camp_item(product_id="chess")]),
        "items[0].product_id",
        "unknown product 'chess'",
        id="product_id unknown",
    ),
    pytest.param(
        make_body(items=[camp_item(product_id=7)]),
        "items[0].product_id",
        "expected text, got number 7",
        id="product_id not text",
    ),
    # camps
    pytest.param(
        make_body(items=[camp_item(date=REMOVE)]),
        "items[0].date",
        "missing (required)",
        id="camp date missing",
    ),
    pytest.param(
        make_body(items=[camp_item(date="4/1/2027")]),
        "items[0].date",
        "'4/1/2027' is not a date (YYYY-MM-DD)",
        id="camp date in another format",
    ),
    pytest.param(
        make_body(items=[camp_item(date="20270104")]),
        "items[0].date",
        "'20270104' is not a date (YYYY-MM-DD)",
        id="camp date without dashes",
    ),
    pytest.param(
        make_body(items=[camp_item(date="2027-02-30")]),
        "items[0].date",
        "'2027-02-30' is not a date (YYYY-MM-DD)",
        id="camp date that does not exist",
    ),
    pytest.param(
        make_body(items=[camp_item(date=20270104)]),
        "items[0].date",
        "number 20270104 is not a date (YYYY-MM-DD)",
        id="camp date not text",
    ),
    pytest.param(
        make_body(items=[camp_item(product_id="summer-minecraft-coding", date="2027-01-26")]),
        "items[0].date",
        "2027-01-26 is not a day of Minecraft Coding Quest",
        id="camp date not a day of the camp",
    ),
    pytest.param(
        make_body(items=[camp_item(session=REMOVE)]),
        "items[0].session",
        "missing (required: day or all_day)",
        id="camp session missing",
    ),
    pytest.param(
        make_body(items=[camp_item(session="evening")]),
        "items[0].session",
        "must be 'day' or 'all_day', got text 'evening'",
        id="camp session unknown",
    ),
    pytest.param(
        make_body(items=[camp_item(start_time="09:00")]),
        "items[0].start_time",
        "Robotics Bootcamp is a camp: it takes a session (day or all_day), not a start_time",
        id="camp with a start_time",
    ),
    # parties
    pytest.param(
        make_body(items=[party_item(date="2026-12-19")]),
        "items[0].date",
        "2026-12-19 is outside Robot Rampage Party's booking period (2027-01-02 to 2027-12-18)",
        id="party before its first date",
    ),
    pytest.param(
        make_body(items=[party_item(date="2027-12-19")]),
        "items[0].date",
        "2027-12-19 is outside Robot Rampage Party's booking period (2027-01-02 to 2027-12-18)",
        id="party after its last date",
    ),
    pytest.param(
        make_body(items=[party_item(date="2027-01-04")]),
        "items[0].date",
        "2027-01-04 is a Monday; Robot Rampage Party runs on Saturdays and Sundays",
        id="party on a weekday it does not run",
    ),
    pytest.param(
        make_body(items=[party_item(date=REMOVE)]),
        "items[0].date",
        "missing (required)",
        id="party date missing",
    ),
    pytest.param(
        make_body(items=[party_item(start_time=REMOVE)]),
        "items[0].start_time",
        "missing (required: one of 10:00, 13:00, 15:30)",
        id="party start_time missing",
    ),
    pytest.param(
        make_body(items=[party_item(start_time="11:00")]),
        "items[0].start_time",
        "11:00 is not a start time of Robot Rampage Party (10:00, 13:00, 15:30)",
        id="party start_time not a slot",
    ),
    pytest.param(
        make_body(items=[party_item(start_time="25:00")]),
        "items[0].start_time",
        "'25:00' is not a time (HH:MM)",
        id="party start_time out of range",
    ),
    pytest.param(
        make_body(items=[party_item(start_time="10am")]),
        "items[0].start_time",
        "'10am' is not a time (HH:MM)",
        id="party start_time in another format",
    ),
    pytest.param(
        make_body(items=[party_item(session="day")]),
        "items[0].session",
        "Robot Rampage Party is a party: it takes a start_time, not a session",
        id="party with a session",
    ),
    # Ignite
    pytest.param(
        make_body(items=[ignite_item(date="2027-02-01")]),
        "items[0].date",
        "Ignite Coding (Monday) is a weekly subscription: it takes no date",
        id="ignite with a date",
    ),
    pytest.param(
        make_body(items=[ignite_item(session="day")]),
        "items[0].session",
        "Ignite Coding (Monday) is a weekly subscription: it takes no session",
        id="ignite with a session",
    ),
    pytest.param(
        make_body(items=[ignite_item(start_time="15:45")]),
        "items[0].start_time",
        "Ignite Coding (Monday) is a weekly subscription: it takes no start_time",
        id="ignite with a start_time",
    ),
    # students
    pytest.param(
        make_body(items=[camp_item(student=REMOVE)]),
        "items[0].student",
        "missing (required)",
        id="student missing",
    ),
    pytest.param(
        make_body(items=[camp_item(student="Mia")]),
        "items[0].student",
        "expected an object, got text 'Mia'",
        id="student not an object",
    ),
    pytest.param(
        make_body(items=[camp_item(student=student(name=REMOVE))]),
        "items[0].student.name",
        "missing (required)",
        id="student name missing",
    ),
    pytest.param(
        make_body(items=[camp_item(student=student(name=""))]),
        "items[0].student.name",
        "must not be empty",
        id="student name empty",
    ),
    pytest.param(
        make_body(items=[camp_item(student=student(name="M" * 101))]),
        "items[0].student.name",
        "must be at most 100 characters, got 101",
        id="student name too long",
    ),
    pytest.param(
        make_body(items=[camp_item(student={"name": "Mia"})]),
        "items[0].student.age",
        "missing (give age or date_of_birth)",
        id="neither age nor date_of_birth",
    ),
    pytest.param(
        make_body(items=[camp_item(student=student(date_of_birth="2018-05-02"))]),
        "items[0].student",
        "give age or date_of_birth, not both",
        id="both age and date_of_birth",
    ),
    pytest.param(
        make_body(items=[camp_item(student=student(age=True))]),
        "items[0].student.age",
        "expected a whole number, got true",
        id="age is a boolean",
    ),
    pytest.param(
        make_body(items=[camp_item(student=student(age="8"))]),
        "items[0].student.age",
        "expected a whole number, got text '8'",
        id="age is text",
    ),
    pytest.param(
        make_body(items=[camp_item(student=student(age=8.0))]),
        "items[0].student.age",
        "expected a whole number, got number 8.0",
        id="age is a float",
    ),
    pytest.param(
        make_body(items=[party_item(student=student(age=1))]),
        "items[0].student.age",
        "must be from 2 to 18, got 1",
        id="age below 2",
    ),
    pytest.param(
        make_body(items=[party_item(student=student(age=19))]),
        "items[0].student.age",
        "must be from 2 to 18, got 19",
        id="age above 18",
    ),
    pytest.param(
        make_body(items=[camp_item(student={"name": "Mia", "date_of_birth": "2018-13-01"})]),
        "items[0].student.date_of_birth",
        "'2018-13-01' is not a date (YYYY-MM-DD)",
        id="date_of_birth not a date",
    ),
    pytest.param(
        make_body(items=[camp_item(student={"name": "Mia", "date_of_birth": "2026-12-02"})]),
        "items[0].student.date_of_birth",
        "2026-12-02 is in the future",
        id="date_of_birth in the future",
    ),
    pytest.param(
        make_body(items=[camp_item(student=student(notes=5))]),
        "items[0].student.notes",
        "expected text, got number 5",
        id="notes not text",
    ),
    pytest.param(
        make_body(items=[camp_item(student=student(notes="n" * 501))]),
        "items[0].student.notes",
        "must be at most 500 characters, got 501",
        id="notes too long",
    ),
    pytest.param(
        make_body(items=[camp_item(student=student(allergies="nuts"))]),
        "items[0].student.allergies",
        "unknown key 'allergies'; allowed: name, age, date_of_birth, notes, emergency_contacts,"
        " authorised_collectors",
        id="unknown student key",
    ),
    # ages against the product
    pytest.param(
        make_body(items=[camp_item(student=student(age=4))]),
        "items[0].student.age",
        "Mia is 4; Robotics Bootcamp is for ages 7\N{EN DASH}12",
        id="too young for the camp",
    ),
    pytest.param(
        make_body(items=[camp_item(student=student(age=13))]),
        "items[0].student.age",
        "Mia is 13; Robotics Bootcamp is for ages 7\N{EN DASH}12",
        id="too old for the camp",
    ),
    pytest.param(
        make_body(items=[camp_item(student={"name": "Mia", "date_of_birth": "2020-01-05"})]),
        "items[0].student.date_of_birth",
        "Mia is 6 on 4 Jan 2027; Robotics Bootcamp is for ages 7\N{EN DASH}12",
        id="too young on the camp day by date_of_birth",
    ),
    pytest.param(
        make_body(
            items=[
                ignite_item(
                    product_id="ignite-engineering-thursday",
                    student={"name": "Mia", "date_of_birth": "2015-12-01"},
                )
            ]
        ),
        "items[0].student.date_of_birth",
        "Mia is 11 on 1 Dec 2026; Ignite Engineering (Thursday) is for ages 6\N{EN DASH}10",
        id="too old for ignite today by date_of_birth",
    ),
    pytest.param(
        make_body(items=[ignite_item(student=student(age=5))]),
        "items[0].student.age",
        "Mia is 5; Ignite Coding (Monday) is for ages 7\N{EN DASH}12",
        id="too young for ignite",
    ),
    # unknown keys
    pytest.param(
        make_body(coupon="FREE"),
        "coupon",
        "unknown key 'coupon'; allowed: customer, items",
        id="unknown body key",
    ),
]


@pytest.mark.parametrize(("body", "path", "message"), SINGLE_PROBLEM_CASES)
def test_each_rule_reports_one_problem_at_its_exact_path(body, path, message):
    problems = checkout_problems(body)

    assert problems == [(path, message)]


def test_a_misspelt_item_key_suggests_the_right_one():
    item = {**camp_item(session=REMOVE), "sesion": "day"}

    problems = checkout_problems(make_body(items=[item]))

    assert problems == [
        ("items[0].sesion", "unknown key 'sesion'; did you mean 'session'?"),
        ("items[0].session", "missing (required: day or all_day)"),
    ]


@pytest.mark.parametrize(
    ("student_fields", "product_id"),
    [
        ({"age": 7}, "summer-robotics"),
        ({"age": 12}, "summer-robotics"),
        ({"date_of_birth": "2020-01-04"}, "summer-robotics"),  # turns 7 on the camp day
        ({"date_of_birth": "2014-01-05"}, "summer-robotics"),  # still 12 on the camp day
        ({"age": 2}, "robot-rampage-party"),  # parties have no age limits of their own
        ({"age": 18}, "robot-rampage-party"),
    ],
    ids=["youngest", "oldest", "birthday on the day", "day before 13th birthday", "2", "18"],
)
def test_ages_at_the_edges_of_the_range_are_accepted(student_fields, product_id):
    item = camp_item() if product_id == "summer-robotics" else party_item()
    item["student"] = {"name": "Mia", **student_fields}

    cart = validate_checkout(make_body(items=[item]), CATALOG, TODAY)

    assert len(cart.items) == 1


@pytest.mark.parametrize(
    ("item", "today", "message"),
    [
        (camp_item(date="2027-01-04"), date(2027, 1, 5), "2027-01-04 is in the past"),
        (party_item(date="2027-01-09"), date(2027, 1, 10), "2027-01-09 is in the past"),
    ],
    ids=["camp", "party"],
)
def test_a_day_before_today_is_in_the_past(item, today, message):
    problems = checkout_problems(make_body(items=[item]), today=today)

    assert problems == [("items[0].date", message)]


def test_a_day_that_is_today_can_still_be_booked():
    body = make_body(items=[camp_item(date="2027-01-04"), party_item(date="2027-01-09")])

    cart = validate_checkout(body, CATALOG, date(2027, 1, 4))

    assert [item.date for item in cart.items] == [date(2027, 1, 4), date(2027, 1, 9)]


# --- Booked twice --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "second",
    [
        camp_item(session="all_day"),
        camp_item(session="day"),
        camp_item(student=student(name="  mia ")),
    ],
    ids=["other session", "same session", "same name in other case and spacing"],
)
def test_the_same_student_in_the_same_camp_day_is_a_problem_on_the_later_item(second):
    body = make_body(items=[camp_item(), party_item(), second])

    problems = checkout_problems(body)

    name = second["student"]["name"].strip()
    message = f"{name} is already booked into Robotics Bootcamp on 4 Jan 2027 (items[0])"
    assert problems == [("items[2].student.name", message)]


def test_the_same_student_in_the_same_ignite_program_twice_is_a_problem_on_the_later_item():
    body = make_body(items=[ignite_item(), ignite_item(), ignite_item()])

    problems = checkout_problems(body)

    message = "Mia is already enrolled in Ignite Coding (Monday) (items[0])"
    assert problems == [("items[1].student.name", message), ("items[2].student.name", message)]


@pytest.mark.parametrize(
    "items",
    [
        [camp_item(), camp_item(date="2027-01-05")],
        [camp_item(), camp_item(student=student(name="Leo"))],
        [camp_item(), camp_item(product_id="summer-space-engineers")],
        [ignite_item(), ignite_item(product_id="ignite-robotics-wednesday")],
        [party_item(), party_item()],
    ],
    ids=["other day", "other student", "other camp", "other ignite program", "parties"],
)
def test_bookings_that_differ_in_day_student_or_product_are_not_booked_twice(items):
    cart = validate_checkout(make_body(items=items), CATALOG, TODAY)

    assert len(cart.items) == len(items)


# --- Many problems, odd bodies -------------------------------------------------------------------


def test_every_problem_in_a_body_is_reported_at_once_in_body_order():
    body = make_body(
        customer=customer(email="not-an-email", name=""),
        items=[
            camp_item(product_id="summer-robotix"),
            camp_item(product_id="summer-minecraft-coding", date="2027-01-26", session="night"),
            party_item(start_time="11:00", price=0),
            ignite_item(date="2027-02-01", student={"name": "Mia"}),
        ],
        coupon="FREE",
    )

    problems = checkout_problems(body)

    assert [path for path, _ in problems] == [
        "coupon",
        "customer.email",
        "customer.name",
        "items[0].product_id",
        "items[1].date",
        "items[1].session",
        "items[2].price",
        "items[2].start_time",
        "items[3].date",
        "items[3].student.age",
    ]


@pytest.mark.parametrize("body", [[], "x", None, 5, True], ids=repr)
def test_a_body_that_is_not_an_object_is_one_problem_about_the_body(body):
    problems = checkout_problems(body)

    assert len(problems) == 1
    assert problems[0][0] == ""
    assert problems[0][1].startswith("expected a JSON object with customer and items, got ")


ODD_VALUES = [None, True, 0, -1, 1.5, "", "x", [], {}, [None], {"x": None}]


def _place(body: dict[str, Any], where: str, value: Any) -> None:
    """Put ``value`` at a dotted path in ``body``; "0" steps into a list."""
    *parents, last = where.split(".")
    target: Any = body
    for step in parents:
        target = target[int(step)] if step.isdigit() else target[step]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
@pytest.mark.parametrize(
    "where",
    [
        "customer",
        "customer.email",
        "customer.name",
        "items",
        "items.0",
        "items.0.product_id",
        "items.0.date",
        "items.0.session",
        "items.1.start_time",
        "items.0.student",
        "items.0.student.name",
        "items.0.student.age",
        "items.0.student.date_of_birth",
        "items.0.student.notes",
    ],
)
def test_any_json_value_anywhere_gives_a_cart_or_invalid_cart_never_a_crash(where, value):
    body = make_body(items=[camp_item(), party_item()])
    _place(body, where, value)

    try:
        result = validate_checkout(body, CATALOG, TODAY)
    except InvalidCart as err:
        assert err.problems
    else:
        assert isinstance(result, Cart)


def test_invalid_cart_lists_its_problems_as_text_and_as_the_422_body():
    error = InvalidCart([CartProblem("items[0].date", "missing (required)"), CartProblem("", "x")])

    assert (
        str(error) == "cart has 2 problems:\n  - items[0].date: missing (required)\n  - (body): x"
    )
    assert error.as_dict() == {
        "error": "invalid_cart",
        "problems": [
            {"path": "items[0].date", "message": "missing (required)"},
            {"path": "", "message": "x"},
        ],
    }
    assert isinstance(error, ValueError)


def test_invalid_cart_survives_pickling():
    with pytest.raises(InvalidCart) as caught:
        validate_checkout(make_body(items=[]), CATALOG, TODAY)

    copy = pickle.loads(pickle.dumps(caught.value))

    assert copy.problems == caught.value.problems


# --- Stripe metadata -----------------------------------------------------------------------------


def test_a_short_cart_round_trips_through_one_metadata_value():
    items = [camp_item(), party_item()]
    expected = validate_checkout(make_body(items=items), CATALOG, TODAY)

    metadata = encode_metadata_cart(items, customer())
    cart = parse_metadata_cart(metadata, CATALOG, None, None)

    assert set(metadata) == {"tt_items", "tt_customer"}
    assert metadata["tt_items"] == json.dumps(items, separators=(",", ":"))
    assert cart == expected


def test_a_long_cart_is_chunked_within_stripe_limits_and_round_trips():
    items = [*many_camp_items(8), party_item(), ignite_item()]
    expected = validate_checkout(make_body(items=items), CATALOG, TODAY)

    metadata = encode_metadata_cart(items, customer())
    cart = parse_metadata_cart(metadata, CATALOG, None, None)

    chunk_keys = [key for key in metadata if key.startswith("tt_items")]
    assert "tt_items" not in metadata
    assert chunk_keys == [f"tt_items_{n}" for n in range(len(chunk_keys))]
    assert len(chunk_keys) > 1
    assert all(len(value) <= 500 for value in metadata.values())
    assert all(len(key) <= 40 for key in metadata)
    assert "".join(metadata[key] for key in chunk_keys) == json.dumps(items, separators=(",", ":"))
    assert cart == expected


def test_items_of_exactly_500_characters_fit_in_one_value_and_501_do_not():
    def items_of_length(length: int) -> list[dict[str, Any]]:
        short = json.dumps([camp_item(student=student(name="M"))], separators=(",", ":"))
        return [camp_item(student=student(name="M" * (1 + length - len(short))))]

    assert list(encode_metadata_cart(items_of_length(500))) == ["tt_items"]
    assert list(encode_metadata_cart(items_of_length(501))) == ["tt_items_0", "tt_items_1"]


def test_encoding_leaves_notes_out_of_stripe_without_touching_the_callers_items():
    items = [camp_item(student=student(notes="nut allergy"))]

    metadata = encode_metadata_cart(items)

    assert "notes" not in metadata["tt_items"]
    assert "tt_customer" not in metadata
    assert items[0]["student"]["notes"] == "nut allergy"


def test_encoding_a_cart_needing_more_than_40_chunks_is_refused():
    items = [camp_item(student=student(name="M" * 100)) for _ in range(200)]

    with pytest.raises(ValueError, match="at most 40 fit in Stripe metadata"):
        encode_metadata_cart(items)


@pytest.mark.parametrize(
    ("metadata", "problems"),
    [
        pytest.param(
            {"order_id": "ord_1"},
            [("metadata.tt_items", "missing (neither tt_items nor tt_items_0 is present)")],
            id="no items at all",
        ),
        pytest.param(
            {"tt_items_0": "[", "tt_items_2": "]"},
            [("metadata.tt_items_1", "missing: chunks 0 and 2 are present")],
            id="gap in the middle",
        ),
        pytest.param(
            {"tt_items_1": "[]"},
            [("metadata.tt_items_0", "missing: chunk 1 is present")],
            id="first chunk missing",
        ),
        pytest.param(
            {"tt_items_0": "[", "tt_items_3": "]", "tt_items_1": ""},
            [("metadata.tt_items_2", "missing: chunks 0, 1 and 3 are present")],
            id="gap with chunks out of order",
        ),
        pytest.param(
            {"tt_items_0": "[", "tt_items_3": "]"},
            [
                ("metadata.tt_items_1", "missing: chunks 0 and 3 are present"),
                ("metadata.tt_items_2", "missing: chunks 0 and 3 are present"),
            ],
            id="two chunks missing",
        ),
        pytest.param(
            {"tt_items": "[]", "tt_items_0": "[]"},
            [
                (
                    "metadata.tt_items",
                    "both tt_items and tt_items_0 are present; expected one or the other",
                )
            ],
            id="both spellings",
        ),
        pytest.param(
            {"tt_items": json.dumps(camp_item())},
            [("metadata.tt_items", "expected a JSON array of items, got an object")],
            id="an object, not an array",
        ),
        pytest.param(
            {"tt_items_0": '{"a":', "tt_items_1": "1}"},
            [
                (
                    "metadata.tt_items",
                    "expected a JSON array of items (joined from tt_items_0 to tt_items_1), "
                    "got an object",
                )
            ],
            id="chunks joining to an object",
        ),
        pytest.param(
            {"tt_items": "[]"},
            [("metadata.tt_items", "must contain at least one item")],
            id="empty array",
        ),
    ],
)
def test_missing_or_malformed_metadata_items_say_exactly_what_is_wrong(metadata, problems):
    assert metadata_problems(metadata) == problems


@pytest.mark.parametrize(
    ("metadata", "source"),
    [
        ({"tt_items": '[{"product_id":'}, ""),
        (
            {"tt_items_0": '[{"product_id":', "tt_items_1": '"x"'},
            " (joined from tt_items_0 to tt_items_1)",
        ),
    ],
    ids=["one value", "chunks"],
)
def test_metadata_items_that_are_not_json_are_reported_with_the_parser_error(metadata, source):
    ((path, message),) = metadata_problems(metadata)

    assert path == "metadata.tt_items"
    assert message.startswith(f"not valid JSON{source}: Expecting")


def test_a_truncated_chunked_cart_is_not_valid_json():
    metadata = encode_metadata_cart([*many_camp_items(8)])
    last = max(key for key in metadata if key.startswith("tt_items_"))
    del metadata[last]

    ((path, message),) = metadata_problems(metadata)

    assert path == "metadata.tt_items"
    assert message.startswith("not valid JSON (joined from tt_items_0 to ")


def test_metadata_item_problems_use_the_same_rules_with_metadata_paths():
    items = [
        camp_item(date="2027-01-09"),
        camp_item(product_id="chess"),
        party_item(start_time="11:00"),
        ignite_item(student=student(age=5)),
    ]

    problems = metadata_problems(encode_metadata_cart(items))

    assert problems == [
        ("metadata.tt_items[0].date", "2027-01-09 is not a day of Robotics Bootcamp"),
        ("metadata.tt_items[1].product_id", "unknown product 'chess'"),
        (
            "metadata.tt_items[2].start_time",
            "11:00 is not a start time of Robot Rampage Party (10:00, 13:00, 15:30)",
        ),
        (
            "metadata.tt_items[3].student.age",
            "Mia is 5; Ignite Coding (Monday) is for ages 7\N{EN DASH}12",
        ),
    ]


def test_notes_in_metadata_are_dropped_rather_than_holding_up_a_paid_booking():
    metadata = {"tt_items": json.dumps([camp_item(student=student(notes="nut allergy"))])}

    cart = parse_metadata_cart(metadata, CATALOG, "p@example.com", "P")

    assert cart.items[0].student.notes is None


def test_past_days_are_accepted_from_metadata_but_rejected_at_checkout():
    items = [camp_item(date="2027-01-04"), party_item(date="2027-01-09")]
    long_after = date(2027, 6, 1)

    checkout = checkout_problems(make_body(items=items), today=long_after)
    cart = parse_metadata_cart(encode_metadata_cart(items), CATALOG, "p@example.com", "P")

    assert checkout == [
        ("items[0].date", "2027-01-04 is in the past"),
        ("items[1].date", "2027-01-09 is in the past"),
    ]
    assert [item.date for item in cart.items] == [date(2027, 1, 4), date(2027, 1, 9)]


def test_control_and_zero_width_characters_are_refused_in_every_typed_field_at_checkout():
    body = make_body(
        customer=customer(name="Jane\u202eCitizen"),
        items=[
            camp_item(student=student(name="Mia\u200bLee", notes="nut\x00allergy")),
            party_item(student=student(name="Leo", age=9, notes="no nuts\nno eggs")),
        ],
    )

    assert checkout_problems(body) == [
        ("customer.name", "must not contain control characters (U+202E)"),
        ("items[0].student.name", "must not contain control characters (U+200B)"),
        (
            "items[0].student.notes",
            "must not contain control characters other than line breaks and tabs (U+0000)",
        ),
    ]


def test_a_cart_stored_in_metadata_before_the_character_rules_is_still_fulfilled():
    # The payment has been taken: fulfilment must not fail on a cart the storefront stored
    # under older rules. The rules are for what is typed at checkout.
    items = [camp_item(student=student(name="Mia\u200bLee"))]
    customer_json = json.dumps({"name": "Jane\u202eCitizen"})
    metadata = {**encode_metadata_cart(items), "tt_customer": customer_json}

    cart = parse_metadata_cart(metadata, CATALOG, "p@example.com", None)

    assert cart.customer.name == "Jane\u202eCitizen"
    assert cart.items[0].student.name == "Mia\u200bLee"


def test_a_metadata_date_of_birth_after_the_booked_day_is_a_problem():
    items = [camp_item(student={"name": "Mia", "date_of_birth": "2027-02-01"})]

    problems = metadata_problems(encode_metadata_cart(items))

    assert problems == [
        ("metadata.tt_items[0].student.date_of_birth", "2027-02-01 is after 2027-01-04")
    ]


# --- Customers from metadata ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tt_customer", "fallback_email", "fallback_name", "expected"),
    [
        pytest.param(
            {"email": "parent@example.com", "name": "Jane Citizen"},
            "payer@example.com",
            "Pat Payer",
            Customer("parent@example.com", "Jane Citizen"),
            id="tt_customer wins over the payment's fields",
        ),
        pytest.param(
            None,
            "payer@example.com",
            "Pat Payer",
            Customer("payer@example.com", "Pat Payer"),
            id="no tt_customer: the payment's fields",
        ),
        pytest.param(
            {"name": "Jane Citizen"},
            "payer@example.com",
            "Pat Payer",
            Customer("payer@example.com", "Jane Citizen"),
            id="tt_customer without email: the payment's email",
        ),
        pytest.param(
            None,
            "payer@example.com",
            None,
            Customer("payer@example.com", ""),
            id="no name anywhere: still fulfilled",
        ),
    ],
)
def test_the_metadata_customer_comes_from_tt_customer_then_the_payment(
    tt_customer, fallback_email, fallback_name, expected
):
    metadata = encode_metadata_cart([camp_item()], tt_customer)

    cart = parse_metadata_cart(metadata, CATALOG, fallback_email, fallback_name)

    assert cart.customer == expected


@pytest.mark.parametrize(
    ("tt_customer", "fallback_email", "problems"),
    [
        pytest.param(
            None,
            None,
            [("customer.email", "missing (not in metadata.tt_customer, and the payment has none)")],
            id="no email at all",
        ),
        pytest.param(
            None,
            "  ",
            [("customer.email", "missing (not in metadata.tt_customer, and the payment has none)")],
            id="blank payment email",
        ),
        pytest.param(
            json.dumps({"email": "nope", "name": "Jane"}),
            "payer@example.com",
            [("metadata.tt_customer.email", "'nope' is not an email address")],
            id="bad email in tt_customer",
        ),
        pytest.param(
            json.dumps({"email": "parent@example.com", "address": "1 Farr St"}),
            "payer@example.com",
            [
                (
                    "metadata.tt_customer.address",
                    "unknown key 'address'; allowed: email, name, phone",
                )
            ],
            id="unknown key in tt_customer",
        ),
        pytest.param(
            json.dumps(["parent@example.com"]),
            "payer@example.com",
            [("metadata.tt_customer", "expected a JSON object with email and name, got a list")],
            id="tt_customer not an object",
        ),
        pytest.param(
            None,
            "payer-at-example.com",
            [("customer.email", "'payer-at-example.com' is not an email address")],
            id="bad payment email",
        ),
    ],
)
def test_metadata_customer_problems_name_where_the_bad_value_came_from(
    tt_customer, fallback_email, problems
):
    metadata = encode_metadata_cart([camp_item()])
    if tt_customer is not None:
        metadata["tt_customer"] = tt_customer

    assert metadata_problems(metadata, fallback_email, "Pat Payer") == problems


def test_a_tt_customer_that_is_not_json_is_reported_with_the_parser_error():
    metadata = {**encode_metadata_cart([camp_item()]), "tt_customer": "{email"}

    ((path, message),) = metadata_problems(metadata)

    assert path == "metadata.tt_customer"
    assert message.startswith("not valid JSON: Expecting")

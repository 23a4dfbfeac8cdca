from __future__ import annotations

import re
from typing import Any

import pytest

from core.support import (
    CATEGORIES,
    MAX_MESSAGE_LENGTH,
    BookingIssue,
    ClientLimiter,
    InvalidRequest,
    TicketUpdate,
    new_ticket_id,
    validate_booking_issue,
    validate_ticket_update,
)


def make_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "order_id": "ord_Zq3x-9kLmN0pQrStUvWxYz",
        "email": "Jane.Citizen@Example.com",
        "category": "wrong_date",
        "message": "  We booked the 7th but meant the 8th. Can we move Mia?  ",
        "name": "Jane Citizen",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not _DROP}


_DROP: Any = object()


def problems_of(body: object) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as caught:
        validate_booking_issue(body)
    return {p.path: p.message for p in caught.value.problems}


def test_a_valid_report_is_trimmed_and_its_address_lower_cased():
    issue = validate_booking_issue(make_body())

    assert issue == BookingIssue(
        order_reference="ord_Zq3x-9kLmN0pQrStUvWxYz",
        email="jane.citizen@example.com",
        category="wrong_date",
        message="We booked the 7th but meant the 8th. Can we move Mia?",
        name="Jane Citizen",
    )


@pytest.mark.parametrize(
    "reference", ["cs_test_a1B2c3D4e5F6", "pi_3MtwBwLkdIwHu7ix28a3tqPa", "ord_x_y-z"]
)
def test_checkout_session_and_payment_intent_ids_are_accepted_as_references(reference):
    assert validate_booking_issue(make_body(order_id=reference)).order_reference == reference


@pytest.mark.parametrize("name", [_DROP, None, "", "   "])
def test_the_name_is_optional(name):
    assert validate_booking_issue(make_body(name=name)).name is None


def test_every_problem_is_reported_at_once_with_its_path():
    body = make_body(
        order_id="12345",
        email="jane.example.com",
        category="refund_please",
        message=" ",
        name=7,
        phone="0400 000 000",
    )

    found = problems_of(body)

    assert set(found) == {"order_id", "email", "category", "message", "name", "phone"}
    assert "ord_" in found["order_id"] and "cs_" in found["order_id"]
    assert found["email"] == (
        "expected one email address, such as jane@example.com: "
        "An email address must have an @-sign."
    )
    assert found["category"].startswith("expected one of wrong_date, child_details")
    assert found["message"] == "must not be empty"
    assert found["name"] == "expected text, got a number"
    assert found["phone"].startswith("unknown key")


def test_missing_fields_are_each_named():
    assert problems_of({}) == {
        "order_id": "missing (required)",
        "email": "missing (required)",
        "category": "missing (required)",
        "message": "missing (required)",
    }


def test_a_message_over_the_limit_is_refused_and_one_at_the_limit_is_taken():
    at_limit = "x" * MAX_MESSAGE_LENGTH

    assert validate_booking_issue(make_body(message=at_limit)).message == at_limit
    assert problems_of(make_body(message=at_limit + "y")) == {
        "message": f"must be at most {MAX_MESSAGE_LENGTH} characters, got {MAX_MESSAGE_LENGTH + 1}"
    }


def test_line_breaks_are_kept_in_a_message_but_control_characters_are_refused():
    assert validate_booking_issue(make_body(message="one\r\ntwo\tthree")).message == (
        "one\r\ntwo\tthree"
    )
    found = problems_of(make_body(message="bell\x07", name="Jane\nEvil", email="a\x00@b.co"))
    assert set(found) == {"message", "name", "email"}
    assert "control characters" in found["message"]


def test_a_lone_surrogate_is_refused_rather_than_failing_to_store():
    assert "message" in problems_of(make_body(message="broken \ud800 text"))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ([], "expected a JSON object, got a list"),
        ("text", "expected a JSON object, got text 'text'"),
        (None, "expected a JSON object, got null"),
        (10**100, "expected a JSON object, got a number"),
    ],
)
def test_a_body_that_is_not_an_object_is_one_problem(body, expected):
    assert problems_of(body) == {"": expected}


@pytest.mark.parametrize("category", [["wrong_date"], {"a": 1}, True, 1e308, None])
def test_a_category_of_the_wrong_type_is_a_problem_not_a_crash(category):
    assert problems_of(make_body(category=category))["category"].startswith("expected one of")


def test_every_category_has_a_label_and_is_accepted():
    for category in CATEGORIES:
        assert validate_booking_issue(make_body(category=category)).category == category
    assert "accessibility_or_medical" in CATEGORIES and "other" in CATEGORIES


def test_the_invalid_request_body_lists_problems_like_the_checkout():
    with pytest.raises(InvalidRequest) as caught:
        validate_booking_issue(make_body(email=""))

    assert caught.value.as_dict() == {
        "error": "invalid_request",
        "problems": [{"path": "email", "message": "must not be empty"}],
    }


def test_ticket_references_use_unambiguous_characters():
    references = {new_ticket_id() for _ in range(200)}

    assert len(references) == 200
    for reference in references:
        assert re.fullmatch(r"TT-[2-9A-HJKMNP-Z]{8}", reference)


def test_a_ticket_update_takes_a_status_a_note_or_both():
    assert validate_ticket_update({"status": "resolved"}) == TicketUpdate("resolved", None)
    assert validate_ticket_update({"staff_note": " Called them "}) == TicketUpdate(
        None, "Called them"
    )
    assert validate_ticket_update({"staff_note": ""}) == TicketUpdate(None, "")


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, ""),
        ({"status": "closed"}, "status"),
        ({"status": ["open"]}, "status"),
        ({"staff_note": 5}, "staff_note"),
        ({"status": "open", "by": "sam"}, "by"),
        ([], ""),
    ],
)
def test_a_bad_ticket_update_is_refused(body, path):
    with pytest.raises(InvalidRequest) as caught:
        validate_ticket_update(body)
    assert [p.path for p in caught.value.problems] == [path]


def test_the_client_limiter_allows_the_limit_per_window_then_says_how_long_to_wait():
    limiter = ClientLimiter(limit=3, window=60)

    assert [limiter.check("198.51.100.7", t) for t in (0, 1, 2)] == [0, 0, 0]
    assert limiter.check("198.51.100.7", 10) == 50  # until the first request leaves the window
    assert limiter.check("203.0.113.9", 10) == 0  # another client is not affected
    assert limiter.check("198.51.100.7", 60) == 0


def test_a_refused_request_does_not_extend_the_wait():
    limiter = ClientLimiter(limit=1, window=60)
    limiter.check("a", 0)

    for t in range(1, 59):
        limiter.check("a", t)

    assert limiter.check("a", 60) == 0


def test_the_client_limiter_forgets_idle_clients_when_it_is_full():
    limiter = ClientLimiter(limit=1, window=10, max_clients=3)
    for client in ("a", "b", "c"):
        limiter.check(client, 0)

    assert limiter.check("d", 20) == 0
    assert len(limiter._seen) == 1

"""core/validation.py: the shared rules for values from outside, and what customers type."""

from __future__ import annotations

from datetime import date, time

import pytest

from core import validation
from core.validation import (
    Invalid,
    InvalidAddress,
    Problems,
    address_key,
    forbidden_characters,
    is_plain_name,
    parse_address,
)


@pytest.mark.parametrize(
    ("given", "parsed"),
    [
        ("jane@example.com", "jane@example.com"),
        ("Jane.Doe+camps@Example.COM", "Jane.Doe+camps@example.com"),
        ("bob@münchen.de", "bob@xn--mnchen-3ya.de"),
    ],
)
def test_one_address_is_taken_with_its_domain_lower_cased_in_ascii(given: str, parsed: str):
    assert parse_address(given) == parsed


@pytest.mark.parametrize(
    "given",
    [
        "a@example.com,me@evil.example",
        "a@example.com me@evil.example",
        "Jane <jane@example.com>",
        "jane\u200b@example.com",
        "jane\u00a0@example.com",
        "jane@example.com\r\nBcc: x@evil.example",
        '"quoted"@example.com',
        "jane@localhost",
        "jane.example.com",
        "a" * 250 + "@example.com",
    ],
)
def test_anything_but_one_address_is_refused(given: str):
    with pytest.raises(InvalidAddress):
        parse_address(given)


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("Jane.Doe+camps@GMail.com", "janedoe@gmail.com"),
        ("j.a.n.e.d.o.e@googlemail.com", "janedoe@gmail.com"),
        ("jane.doe+x@example.com", "jane.doe@example.com"),
        ("+only@example.com", "+only@example.com"),
    ],
)
def test_the_key_of_an_address_is_its_mailbox(address: str, key: str):
    assert address_key(address) == key


@pytest.mark.parametrize(
    ("name", "plain"),
    [
        ("Jane", True),
        ("Mary-Jane O'Brien", True),
        ("José Núñez", True),
        ("Jane\u00a0please\u00a0pay", False),
        ("Jane  Doe", False),
        ("Jane: visit evil.example", False),
        ("J" * 61, False),
        ("", False),
    ],
)
def test_a_plain_name_is_letters_spaces_hyphens_and_apostrophes(name: str, plain: bool):
    assert is_plain_name(name) is plain


def test_forbidden_characters_are_named_once_each_and_allowed_ones_kept():
    assert forbidden_characters("a\x00b\x00\u202ec\n") == ["U+0000", "U+202E", "U+000A"]
    assert forbidden_characters("line\nbreak\ttab", allowed="\n\t") == []
    assert forbidden_characters("José Núñez, 東京, مريم") == []


def test_zero_width_characters_are_refused_too():
    # The strict rule, the same in every typed field: a zero-width space hides inside a name
    # or an address, and joiners (U+200C, U+200D) go with it, at the price of emoji sequences
    # and of names in scripts that use joiners.
    assert forbidden_characters("Mia\u200bLee \u200c\u200d\u2060\ufeff") == [
        "U+200B",
        "U+200C",
        "U+200D",
        "U+2060",
        "U+FEFF",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5, "expected text, got number 5"),
        ("   ", "must not be empty"),
        ("x" * 11, "must be at most 10 characters, got 11"),
        ("Mia\x07", "must not contain control characters (U+0007)"),
        ("Mia\u200bLee", "must not contain control characters (U+200B)"),
        ("two\nlines", "must not contain control characters (U+000A)"),
    ],
)
def test_typed_text_is_refused_with_its_reason(value, message):
    with pytest.raises(Invalid) as raised:
        validation.text(value, max_length=10)
    assert str(raised.value) == message


def test_text_read_back_from_a_payment_is_not_held_to_the_typed_rules():
    assert validation.text(" Mia\u200bLee\x07 ", typed=False) == "Mia\u200bLee\x07"
    assert validation.text("line\nbreak\ttab", multiline=True) == "line\nbreak\ttab"


@pytest.mark.parametrize(
    ("check", "value", "expected"),
    [
        (validation.whole_number, 7, 7),
        (validation.date_value, "2027-01-04", date(2027, 1, 4)),
        (validation.time_value, "09:30", time(9, 30)),
    ],
)
def test_numbers_dates_and_times_have_one_spelling_each(check, value, expected):
    assert check(value) == expected


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (validation.whole_number, True, "expected a whole number, got true"),
        (validation.whole_number, 8.0, "expected a whole number, got number 8.0"),
        (validation.date_value, "20270104", "'20270104' is not a date (YYYY-MM-DD)"),
        (validation.date_value, 20270104, "number 20270104 is not a date (YYYY-MM-DD)"),
        (validation.time_value, "9:30", "'9:30' is not a time (HH:MM)"),
        (validation.time_value, "24:00", "'24:00' is not a time (HH:MM)"),
    ],
)
def test_numbers_dates_and_times_in_another_spelling_are_refused(check, value, message):
    with pytest.raises(Invalid) as raised:
        check(value)
    assert str(raised.value) == message


def test_problems_are_collected_in_order_with_their_paths():
    problems = Problems()
    assert problems.check("a", "2027-01-04", validation.date_value) == date(2027, 1, 4)
    assert problems.check("b", validation.MISSING, validation.date_value) is None
    assert problems.check("c", "soon", validation.date_value) is None
    problems.reject_unknown_keys({"nmae": 1}, ["name"], "d")

    assert [(p.path, p.message) for p in problems.found] == [
        ("b", "missing (required)"),
        ("c", "'soon' is not a date (YYYY-MM-DD)"),
        ("d.nmae", "unknown key 'nmae'; did you mean 'name'?"),
    ]

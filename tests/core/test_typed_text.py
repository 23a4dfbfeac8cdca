"""core/typed_text.py: the rules for what customers type."""

from __future__ import annotations

import pytest

from core.typed_text import (
    InvalidAddress,
    address_key,
    control_characters,
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


def test_control_characters_are_named_once_each_and_allowed_ones_kept():
    assert control_characters("a\x00b\x00\u202ec\n") == ["U+0000", "U+202E", "U+000A"]
    assert control_characters("line\nbreak\ttab", allowed="\n\t") == []
    assert control_characters("emoji \U0001f468\u200d\U0001f467 and \u200c") == []

"""Signed unsubscribe links (core/unsubscribe.py)."""

from __future__ import annotations

from core import unsubscribe

KEY = unsubscribe.key_from("test-admin-token-0123456789")


def test_a_link_names_its_address_and_list_and_reads_back():
    token = unsubscribe.token(KEY, " Jane@Example.com ")
    assert unsubscribe.read(KEY, token) == ("jane@example.com", "reminders")
    assert unsubscribe.url("https://book.example", KEY, "jane@example.com") == (
        f"https://book.example/unsubscribe/{token}"
    )


def test_a_changed_address_a_changed_key_or_garbage_is_refused():
    token = unsubscribe.token(KEY, "jane@example.com")
    _, _, mac = token.split(".")
    other = unsubscribe.token(KEY, "kim@example.com").split(".")[1]
    assert unsubscribe.read(KEY, f"reminders.{other}.{mac}") is None
    assert unsubscribe.read(unsubscribe.key_from("another-admin-token-000"), token) is None
    for junk in ("", "reminders", "confirmations.x.y", "reminders.!!.x", "a" * 700):
        assert unsubscribe.read(KEY, junk) is None

"""Manage-booking links: only the secret makes one, and each stops at its expiry."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core.manage_links import manage_token, manage_url, read_manage_token
from core.validation import Invalid

SECRET = "a-manage-link-secret-of-32-characters"
NOW = datetime(2026, 11, 25, 23, 0)  # naive UTC
EXPIRES = NOW + timedelta(days=30)


def test_a_link_reads_back_its_order_until_it_expires():
    token = manage_token("ord_abc-123_XY", EXPIRES, SECRET)

    assert read_manage_token(token, SECRET, NOW) == "ord_abc-123_XY"
    assert read_manage_token(token, SECRET, EXPIRES - timedelta(seconds=1)) == "ord_abc-123_XY"
    with pytest.raises(Invalid, match="expired"):
        read_manage_token(token, SECRET, EXPIRES)
    assert manage_url("https://book.example/", token) == f"https://book.example/manage/{token}"


def _later(token: str) -> str:
    order_id, expiry, signature = token.split(".")
    return f"{order_id}.{int(expiry) + 86400}.{signature}"


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.replace("ord_abc", "ord_abd", 1),  # another order
        lambda t: _later(t),  # the same signature with a later expiry
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # a forged signature
        lambda t: manage_token("ord_abc", EXPIRES, "another secret of enough length"),
        lambda t: "not a token",
        lambda t: t + "x" * 300,
    ],
)
def test_a_changed_or_foreign_token_is_refused(change):
    token = change(manage_token("ord_abc", EXPIRES, SECRET))

    with pytest.raises(Invalid, match="not a manage-booking link"):
        read_manage_token(token, SECRET, NOW)

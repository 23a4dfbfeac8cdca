from __future__ import annotations

import pytest

from core.slack_text import escape


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Jane & Sam", "Jane &amp; Sam"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
        ("&lt; already", "&amp;lt; already"),  # an entity typed by a customer stays as typed
        ("plain *bold* _it_", "plain *bold* _it_"),
    ],
)
def test_slack_escape_keeps_ampersand_and_angle_brackets_literal(text: str, shown: str):
    assert escape(text) == shown

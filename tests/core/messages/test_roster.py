"""Messages to a roster (core/messages/roster.py): validation and the templates' text."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.messages import roster
from core.support import InvalidRequest

SYDNEY = ZoneInfo("Australia/Sydney")
EVENT = {"title": "Robotics Bootcamp — day session",
         "starts_at": datetime(2027, 1, 6, 22, 0, tzinfo=UTC),
         "ends_at": datetime(2027, 1, 7, 4, 0, tzinfo=UTC)}  # fmt: skip


def test_a_template_message_renders_the_events_local_day_and_the_note():
    message = roster.validate({"message_id": "form-12345678", "template": "weather_closure",
                               "note": "Make-up day: 14 January.", "by": "Priya"})  # fmt: skip
    subject, text = roster.render(message, EVENT, "Marrickville", SYDNEY, "hello@tt.example")
    assert (
        subject == "Closed: Robotics Bootcamp — day session on Thursday 7 January (severe weather)"
    )
    assert "Thursday 7 January 2027, 9:00 AM to 3:00 PM" in text
    assert "Make-up day: 14 January." in text and "hello@tt.example" in text


def test_own_text_and_template_together_is_refused_with_each_path():
    with pytest.raises(InvalidRequest) as refused:
        roster.validate({"message_id": "form-12345678", "template": "heatwave_closure",
                         "subject": "x", "body": "y", "by": "Priya"})  # fmt: skip
    assert [p.path for p in refused.value.problems] == ["subject", "body"]
    with pytest.raises(InvalidRequest) as missing:
        roster.validate({"message_id": "form-12345678", "by": "Priya"})
    assert [p.path for p in missing.value.problems] == ["subject", "body"]
    with pytest.raises(InvalidRequest):
        roster.validate(["not", "an", "object"])

"""Messages to a roster (core/messages/roster.py): validation and the templates' text."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.messages import roster
from core.messages.sms import SEGMENT, is_gsm
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


def test_sms_is_refused_with_its_path_where_sms_is_not_configured():
    body = {"message_id": "form-12345678", "template": "heatwave_closure", "by": "Priya",
            "channels": ["email", "sms"]}  # fmt: skip
    with pytest.raises(InvalidRequest) as refused:
        roster.validate(body)
    [problem] = refused.value.problems
    assert problem.path == "channels.1" and "SMS is not configured" in problem.message
    assert roster.validate(body, sms_enabled=True).channels == ("email", "sms")


def test_the_text_of_a_template_is_one_gsm_message_with_the_note():
    message = roster.validate({"message_id": "form-12345678", "template": "heatwave_closure",
                               "note": "Make-up day: 14 Jan.", "by": "Priya",
                               "channels": ["sms"]}, sms_enabled=True)  # fmt: skip
    text = roster.sms_text(message, EVENT, SYDNEY)
    assert text == (
        "TinkerTank: Robotics Bootcamp - day session, Thu 7 Jan: closed (extreme heat)."
        " Make-up day: 14 Jan. Reply STOP to opt out."
    )
    assert is_gsm(text) and len(text) <= SEGMENT


def test_a_long_own_text_is_cut_to_one_message_pointing_to_the_email():
    message = roster.validate({"message_id": "form-12345678", "subject": "Room change",
                               "body": "We are in room 2 today. " * 20, "by": "Priya"})  # fmt: skip
    text = roster.sms_text(message, EVENT, SYDNEY)
    assert len(text) <= SEGMENT and is_gsm(text)
    assert text.startswith("TinkerTank: Robotics Bootcamp - day session, Thu 7 Jan: Room change."
                           " We are in room 2 today.")  # fmt: skip
    assert text.endswith("... More in your email. Reply STOP to opt out.")
    long_title = {**EVENT, "title": "A very long event title " * 8}
    cut = roster.sms_text(message, long_title, SYDNEY)
    assert len(cut) <= SEGMENT and cut.endswith("More in your email. Reply STOP to opt out.")

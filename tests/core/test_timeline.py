"""An order's timeline, from the rows the store read."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.timeline import order_timeline

T0 = datetime(2027, 1, 17, 1, 0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_timeline_interleaves_every_source_in_time_order():
    events = [{"type": "checkout.session.completed", "status": "processed",
               "received_at": at(0), "last_error": None}]  # fmt: skip
    steps = [
        {"step": "record_payment", "status": "done", "attempts": 1, "finished_at": at(1),
         "updated_at": at(1), "last_error": None},
        {"step": "schedule_events", "status": "failed", "attempts": 4, "finished_at": None,
         "updated_at": at(9), "last_error": "calendar down"},
        {"step": "notify_staff", "status": "pending", "attempts": 0, "finished_at": None,
         "updated_at": at(1), "last_error": None},
    ]  # fmt: skip
    messages = [{"channel": "email", "dedupe_key": "confirmation:ord_1", "recipient": "a@b.c",
                 "status": "sent", "attempts": 1, "created_at": at(2), "sent_at": at(3),
                 "last_error": None}]  # fmt: skip
    errors = [{"severity": "high", "category": "calendar", "message": "schedule_events failed",
               "created_at": at(9), "resolved_at": at(60), "resolved_by": "Sam"}]  # fmt: skip

    timeline = order_timeline(events, steps, messages, errors)

    assert [(e["at"], e["source"], e["text"]) for e in timeline] == [
        (at(0), "stripe", "checkout.session.completed received: processed"),
        (at(1), "step", "record_payment done"),
        (at(2), "message", "email confirmation:ord_1 queued to a@b.c"),
        (at(3), "message", "email confirmation:ord_1 sent"),
        (at(9), "step", "schedule_events failed after 4 attempts: calendar down"),
        (at(9), "error", "high calendar error: schedule_events failed"),
        (at(60), "error", "resolved by Sam: schedule_events failed"),
    ]


def test_a_failed_message_and_a_retrying_step_say_why():
    steps = [{"step": "send_confirmation", "status": "pending", "attempts": 2,
              "finished_at": None, "updated_at": at(5), "last_error": "SMTP down"}]  # fmt: skip
    messages = [{"channel": "email", "dedupe_key": "confirmation:ord_1", "recipient": None,
                 "status": "failed", "attempts": 4, "created_at": at(2), "sent_at": None,
                 "last_error": "mailbox unavailable"}]  # fmt: skip

    texts = [e["text"] for e in order_timeline([], steps, messages, [])]

    assert texts == [
        "email confirmation:ord_1 queued",
        "email confirmation:ord_1 failed after 4 attempts: mailbox unavailable",
        "send_confirmation pending, retrying after 2 attempts: SMTP down",
    ]

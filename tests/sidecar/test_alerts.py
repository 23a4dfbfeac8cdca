"""Emails and alerts through the outbox: a real SMTP server (aiosmtpd) and a local Slack."""

from __future__ import annotations

import email.policy
import secrets
import time
from collections.abc import Callable
from email import message_from_bytes
from pathlib import Path

from runtime.sidecar_process import free_port
from tests.conftest import Sidecar, SlackHook, email_calendar, make_event, storefront_payment


def wait_for(predicate: Callable[[], bool], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def dispute_event() -> dict:
    dispute = {
        "id": f"dp_{secrets.token_hex(8)}",
        "object": "dispute",
        "amount": 8900,
        "currency": "aud",
        "charge": f"ch_{secrets.token_hex(8)}",
        "payment_intent": f"pi_{secrets.token_hex(8)}",
        "reason": "fraudulent",
        "status": "needs_response",
        # Stripe's deadline for the evidence: 12 Jan 2027 10:59 UTC.
        "evidence_details": {"due_by": 1799751540, "has_evidence": False},
    }
    return make_event(type="charge.dispute.created", data={"object": dispute})


def test_a_dispute_alerts_slack_and_the_alert_emails_once(
    start_sidecar_process, slack: SlackHook, smtp
):
    inbox, port = smtp
    sidecar: Sidecar = start_sidecar_process(
        SLACK_WEBHOOK_URL=slack.url,
        ALERT_EMAILS="ops@tinkertank.example,owner@tinkertank.example",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(port),
        SMTP_SECURITY="none",
    )
    event = dispute_event()

    for _ in range(3):  # Stripe redelivers
        assert sidecar.deliver(event).status_code == 200

    assert wait_for(lambda: len(slack.posts) >= 1 and len(inbox.messages) >= 2)
    time.sleep(1)  # time for any duplicate to show up
    assert len(slack.posts) == 1
    text = slack.posts[0][1]["text"]
    assert "dispute opened (fraudulent) for $89.00, evidence due 12 Jan 2027 10:59 UTC" in text
    recipients = sorted(rcpt for rcpts, _ in inbox.messages for rcpt in rcpts)
    assert recipients == ["ops@tinkertank.example", "owner@tinkertank.example"]
    subject = inbox.messages[0][1]["Subject"]
    assert subject == "[TinkerTank] critical payment alert"


def test_slack_rate_limit_is_honoured_before_the_retry(start_sidecar_process, slack: SlackHook):
    slack.script = [(429, {"Retry-After": "1"})]
    sidecar = start_sidecar_process(SLACK_WEBHOOK_URL=slack.url, FULFILMENT_RETRY_SECONDS="0.05")

    sidecar.deliver(dispute_event())

    assert wait_for(lambda: len(slack.posts) >= 2)
    (first, _), (second, payload) = slack.posts[:2]
    assert second - first >= 1.0
    assert payload["text"].startswith("Critical (payment)")


def test_without_a_mail_server_the_alert_email_is_written_as_an_eml_file(
    start_sidecar_process, tmp_path: Path
):
    sidecar = start_sidecar_process(ALERT_EMAILS="ops@tinkertank.example")

    sidecar.deliver(dispute_event())

    outbox = tmp_path / "outbox"
    assert wait_for(lambda: outbox.is_dir() and any(outbox.glob("*.eml")))
    (path,) = outbox.glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "ops@tinkertank.example"
    assert "dispute opened" in message.get_content()


def test_a_mail_server_down_for_good_fails_the_message_with_an_error_entry(
    start_sidecar_process,
):
    sidecar = start_sidecar_process(
        ALERT_EMAILS="ops@tinkertank.example",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(free_port()),  # nothing listens there
        SMTP_SECURITY="none",
        FULFILMENT_RETRY_SECONDS="0.05",
    )

    sidecar.deliver(dispute_event())

    def email_failed() -> bool:
        errors = sidecar.staff_get("/api/errors").json()["errors"]
        return any(e["category"] == "email" for e in errors)

    assert wait_for(email_failed)
    entry = next(e for e in sidecar.staff_get("/api/errors").json()["errors"]
                 if e["category"] == "email")  # fmt: skip
    assert "not sent after 4 attempt(s)" in entry["message"]


def test_a_paid_order_gets_one_confirmation_with_both_parts_links_and_its_calendar(
    start_sidecar_process, smtp
):
    inbox, port = smtp
    sidecar = start_sidecar_process(
        SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), SMTP_SECURITY="none",
        PUBLIC_BASE_URL="https://book.tinkertank.example",
    )  # fmt: skip
    items = [
        {"product_id": "summer-robotics", "date": "2027-01-07", "session": "day",
         "student": {"name": "Mia", "age": 8}},
        {"product_id": "robot-rampage-party", "date": "2027-01-23", "start_time": "10:00",
         "student": {"name": "Leo", "age": 7}},
    ]  # fmt: skip
    paid = storefront_payment(items, {"email": "jane@example.com", "name": "Jane Citizen"}, 58400)

    for _ in range(2):  # a redelivery must not send a second email
        assert sidecar.deliver(paid).status_code == 200

    assert wait_for(lambda: len(inbox.messages) >= 1)
    time.sleep(1)
    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    message = message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert recipients == ["jane@example.com"]
    assert message["Subject"] == "Your TinkerTank booking is confirmed"
    assert message["Message-ID"].endswith("@tinkertank.example>")
    assert message["Date"].datetime.tzinfo is not None
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert message.get_body(("plain",)).get_content_charset() == "utf-8"
    assert "Hi Jane" in text and "Mia" in text and "Leo" in text
    assert "Thursday 7 January 2027, 9:00 AM to 3:00 PM" in text
    assert "Unit 3, 48 Farr Street, Marrickville NSW 2204" in text
    for link in ("calendar.google.com", "outlook.live.com", "outlook.office.com"):
        assert link in text and link in html
    assert "https://book.tinkertank.example/orders/" in html
    calendar = email_calendar(message)
    assert str(calendar["METHOD"]) == "REQUEST"
    events = sorted(calendar.walk("VEVENT"), key=lambda e: e["DTSTART"].dt)
    starts = [e["DTSTART"].dt.isoformat() for e in events]
    assert starts == ["2027-01-07T09:00:00+11:00", "2027-01-23T10:00:00+11:00"]
    assert [str(e["SUMMARY"]) for e in events] == [
        "Robotics Bootcamp — day session (Mia)", "Robot Rampage Party (Leo)"]  # fmt: skip
    for event in events:  # RFC 5546 REQUEST: the business organizes, the parent attends
        assert str(event["ORGANIZER"]) == "mailto:hello@tinkertank.example"
        assert event["ORGANIZER"].params["CN"] == "TinkerTank"
        assert str(event["ATTENDEE"]) == "mailto:jane@example.com"
        assert event["ATTENDEE"].params["CN"] == "Jane Citizen"
        assert str(event["UID"]).startswith("booking.")


def test_staff_hear_of_each_order_on_slack_without_any_childs_name(
    start_sidecar_process, slack: SlackHook
):
    sidecar = start_sidecar_process(SLACK_WEBHOOK_URL=slack.url)
    items = [
        {"product_id": "summer-robotics", "date": "2027-01-08", "session": "all_day",
         "student": {"name": "Matilda", "age": 9}},
        {"product_id": "summer-robotics", "date": "2027-01-18", "session": "day",
         "student": {"name": "Matilda", "age": 9}},
    ]  # fmt: skip
    paid = storefront_payment(items, {"email": "kim@example.com", "name": "Kim Lee"}, 20800)

    sidecar.deliver(paid)

    assert wait_for(lambda: len(slack.posts) >= 1)
    text = slack.posts[0][1]["text"]
    assert "Robotics Bootcamp x 2" in text
    assert "$208.00" in text
    assert "Matilda" not in text and "Kim" not in text and "kim@example.com" not in text


def test_a_confirmation_refused_twice_is_sent_on_the_third_attempt_exactly_once(
    start_sidecar_process, smtp
):
    inbox, port = smtp
    inbox.refusals = 2
    sidecar = start_sidecar_process(
        SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), SMTP_SECURITY="none",
        FULFILMENT_RETRY_SECONDS="0.2",
    )  # fmt: skip
    items = [{"product_id": "summer-robotics", "date": "2027-01-19", "session": "day",
              "student": {"name": "Ada", "age": 9}}]  # fmt: skip
    paid = storefront_payment(items, {"email": "sam@example.com", "name": "Sam Ng"}, 8900)

    sidecar.deliver(paid)

    assert wait_for(lambda: len(inbox.messages) >= 1)
    time.sleep(1)
    assert len(inbox.refused) == 2
    assert inbox.refused[1] - inbox.refused[0] >= 0.2  # backed off before retrying
    ((recipients, message),) = inbox.messages
    assert recipients == ["sam@example.com"]
    assert message["Subject"] == "Your TinkerTank booking is confirmed"
    assert sidecar.staff_get("/api/errors").json()["errors"] == []


def test_without_slack_configured_staff_notices_are_dropped_without_errors(
    start_sidecar_process,
):
    sidecar = start_sidecar_process(FULFILMENT_RETRY_SECONDS="0.01")
    items = [{"product_id": "summer-robotics", "date": "2027-01-20", "session": "day",
              "student": {"name": "Ada", "age": 9}}]  # fmt: skip
    paid = storefront_payment(items, {"email": "sam@example.com", "name": "Sam Ng"}, 8900)
    intent = paid["data"]["object"]

    sidecar.deliver(paid)

    status_url = f"{sidecar.url}/api/orders/{intent['id']}/status"
    assert wait_for(
        lambda: (
            sidecar.session.get(status_url, timeout=10).json().get("fulfillment_status")
            == "fulfilled"
        )
    )
    time.sleep(1)  # four attempts at 0.01 s backoff would long have failed by now
    assert sidecar.staff_get("/api/errors").json()["errors"] == []


def test_a_failed_step_alerts_once_with_its_amount_and_the_orders_link(
    start_sidecar_process, slack: SlackHook, smtp
):
    inbox, port = smtp
    sidecar = start_sidecar_process(
        SLACK_WEBHOOK_URL=slack.url, ALERT_EMAILS="ops@tinkertank.example",
        SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), SMTP_SECURITY="none",
        FAULT_DRILL="schedule_events=4", FULFILMENT_RETRY_SECONDS="0.05",
        DASHBOARD_URL="https://ops.tinkertank.example",
    )  # fmt: skip
    items = [{"product_id": "summer-robotics", "date": "2027-01-21", "session": "day",
              "student": {"name": "Ada", "age": 9}}]  # fmt: skip
    paid = storefront_payment(items, {"email": "sam@example.com", "name": "Sam Ng"}, 8900)

    sidecar.deliver(paid)

    def alerts() -> list[str]:
        return [p["text"] for _, p in slack.posts if p["text"].startswith("High (")]

    def alert_emails() -> list:
        return [m for rcpts, m in inbox.messages if rcpts == ["ops@tinkertank.example"]]

    assert wait_for(lambda: alerts() and alert_emails())
    time.sleep(1)  # time for any duplicate to show up
    (text,) = alerts()
    assert "schedule_events failed after 4 attempt(s)" in text
    assert "$89.00" in text
    assert "<https://ops.tinkertank.example/orders?order=ord_" in text
    (message,) = alert_emails()
    assert message["Subject"] == "[TinkerTank] high calendar alert"
    (entry,) = sidecar.staff_get("/api/errors").json()["errors"]
    body = message_from_bytes(message.as_bytes(), policy=email.policy.default).get_content()
    assert f"https://ops.tinkertank.example/orders?order={entry['order_id']}" in body

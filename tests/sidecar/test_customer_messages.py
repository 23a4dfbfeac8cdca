"""Cancellations, reminders and staff resends, through a real sidecar and SMTP server."""

from __future__ import annotations

import email.policy
import math
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import requests

from core import clock
from tests.conftest import (
    ADMIN_TOKEN,
    REPO,
    Sidecar,
    email_calendar,
    sidecar_env,
    storefront_payment,
)
from tests.sidecar.test_alerts import wait_for
from tests.sidecar.test_fulfilment import charge_refunded_event

SYDNEY = ZoneInfo("Australia/Sydney")


def paid_order(sidecar: Sidecar, items: list[dict], amount: int) -> tuple[str, dict]:
    """A storefront payment carrying its cart; the order id once it is fulfilled."""
    paid = storefront_payment(items, {"email": "jane@example.com", "name": "Jane Citizen"}, amount)
    intent = paid["data"]["object"]
    assert sidecar.deliver(paid)
    status_url = f"{sidecar.url}/api/orders/{intent['id']}/status"

    def fulfilled() -> dict | None:
        response = requests.get(status_url, timeout=10)
        if response.status_code == 200 and response.json()["fulfillment_status"] == "fulfilled":
            return response.json()
        return None

    assert wait_for(lambda: fulfilled() is not None)
    return fulfilled()["order_id"], intent


def messages(inbox) -> list:
    return [
        message_from_bytes(m.as_bytes(), policy=email.policy.default) for _, m in inbox.messages
    ]


def attached_calendar(message) -> icalendar.Calendar:
    return email_calendar(message)


def test_a_full_refund_sends_one_cancellation_that_replaces_the_invites(
    start_sidecar_process,
    smtp,
):
    inbox, port = smtp
    sidecar = start_sidecar_process(
        SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), SMTP_SECURITY="none"
    )
    items = [
        {"product_id": "summer-robotics", "date": "2027-01-07", "session": "day",
         "student": {"name": "Mia", "age": 8}},
        {"product_id": "robot-rampage-party", "date": "2027-01-23", "start_time": "10:00",
         "student": {"name": "Leo", "age": 7}},
    ]  # fmt: skip
    order_id, intent = paid_order(sidecar, items, 58400)
    assert wait_for(lambda: len(inbox.messages) >= 1)
    confirmation = attached_calendar(messages(inbox)[0])
    assert str(confirmation["METHOD"]) == "REQUEST"
    sent = {str(e["UID"]): int(e["SEQUENCE"]) for e in confirmation.walk("VEVENT")}
    assert len(sent) == 2  # Mia's camp day and Leo's party, each under a UID of its own

    refund = charge_refunded_event(intent["id"], order_id, 58400, 58400)
    for _ in range(2):  # a redelivered refund cancels once
        assert sidecar.deliver(refund).status_code == 200

    assert wait_for(lambda: len(inbox.messages) >= 2)
    time.sleep(1)
    assert len(inbox.messages) == 2
    cancellation = messages(inbox)[1]
    assert cancellation["Subject"] == "Your TinkerTank booking is cancelled"
    text = cancellation.get_body(("plain",)).get_content()
    assert "Mia" in text and "Leo" in text and "Thursday 7 January 2027" in text
    assert "refund" in cancellation.get_body(("html",)).get_content()
    calendar = attached_calendar(cancellation)
    assert str(calendar["METHOD"]) == "CANCEL"
    events = list(calendar.walk("VEVENT"))
    assert {str(e["UID"]) for e in events} == set(sent)
    for event in events:
        assert str(event["STATUS"]) == "CANCELLED"
        assert int(event["SEQUENCE"]) > sent[str(event["UID"])]
        # RFC 5546: a CANCEL names its organizer; mail programs ignore one that does not.
        assert str(event["ORGANIZER"]) == "mailto:hello@tinkertank.example"
        assert str(event["ATTENDEE"]).lower() == "mailto:jane@example.com"
    download = icalendar.Calendar.from_ical(
        requests.get(f"{sidecar.url}/orders/{order_id}/calendar.ics", timeout=10).content
    )
    assert {str(e["STATUS"]) for e in download.walk("VEVENT")} == {"CANCELLED"}


def _next_weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def test_remind_twice_sends_each_reminder_once(start_sidecar_process, smtp, tmp_path):
    inbox, port = smtp
    today = clock.now().astimezone(SYDNEY).date()
    soon = _next_weekday(today + timedelta(days=1))
    later = _next_weekday(soon + timedelta(days=7))
    catalog = (REPO / "data" / "catalog.toml").read_text()
    original = 'date_ranges = [["2027-01-04", "2027-01-08"], ["2027-01-18", "2027-01-22"]]'
    assert original in catalog
    path = tmp_path / "catalog.toml"
    path.write_text(catalog.replace(original, f'date_ranges = [["{soon}", "{later}"]]'))
    sidecar = start_sidecar_process(
        SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), SMTP_SECURITY="none", CATALOG_PATH=str(path)
    )
    items = [
        {"product_id": "summer-robotics", "date": str(soon), "session": "day",
         "student": {"name": "Mia", "age": 8}},
        {"product_id": "summer-robotics", "date": str(later), "session": "day",
         "student": {"name": "Mia", "age": 8}},
    ]  # fmt: skip
    paid_order(sidecar, items, 17800)
    assert wait_for(lambda: len(inbox.messages) >= 1)  # the confirmation
    starts = datetime.combine(soon, datetime.min.time().replace(hour=9), SYDNEY)
    hours = math.ceil((starts - clock.now()).total_seconds() / 3600) + 1
    env = {**os.environ, **sidecar_env(tmp_path), "SIDECAR_URL": sidecar.url}

    runs = [
        subprocess.run(
            [sys.executable, "-m", "cli.main", "remind", "--window-hours", str(hours)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        for _ in range(2)
    ]

    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert runs[0].stdout.startswith("1 reminder(s) queued")
    assert runs[1].stdout.startswith("0 reminder(s) queued")
    assert wait_for(lambda: len(inbox.messages) >= 2)
    time.sleep(1)
    assert len(inbox.messages) == 2
    reminder = messages(inbox)[1]
    assert reminder["Subject"] == (
        f"Reminder: Robotics Bootcamp — day session on {soon:%A %-d %B} at 9:00 AM"
    )
    assert "Mia" in reminder.get_body(("plain",)).get_content()


def test_remind_says_so_when_the_sidecar_is_down(tmp_path: Path):
    env = {**os.environ, **sidecar_env(tmp_path), "SIDECAR_URL": "http://127.0.0.1:9"}

    run = subprocess.run(
        [sys.executable, "-m", "cli.main", "remind"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert run.returncode == 3
    assert "did not answer" in run.stderr


def test_staff_can_resend_a_confirmation(start_sidecar_process, smtp):
    inbox, port = smtp
    sidecar = start_sidecar_process(
        SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), SMTP_SECURITY="none"
    )
    items = [{"product_id": "summer-robotics", "date": "2027-01-05", "session": "day",
              "student": {"name": "Mia", "age": 8}}]  # fmt: skip
    order_id, _ = paid_order(sidecar, items, 8900)
    assert wait_for(lambda: len(inbox.messages) >= 1)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    url = f"{sidecar.url}/api/orders/{order_id}/resend-confirmation"

    response = requests.post(url, headers=headers, timeout=10)

    assert response.status_code == 200, response.text
    assert response.json()["queued"] is True
    assert wait_for(lambda: len(inbox.messages) >= 2)
    assert [m["Subject"] for m in messages(inbox)] == ["Your TinkerTank booking is confirmed"] * 2
    assert requests.post(url, timeout=10).status_code == 401
    missing = requests.post(
        f"{sidecar.url}/api/orders/ord_nobody/resend-confirmation", headers=headers, timeout=10
    )
    assert missing.status_code == 404


def test_reminders_refuse_a_bad_window(sidecar: Sidecar):
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for body in ({"window_hours": 0}, {"window_hours": "48"}, {"window_hours": 10_000}):
        response = requests.post(
            f"{sidecar.url}/api/reminders/run", json=body, headers=headers, timeout=10
        )
        assert response.status_code == 422, body
    not_json = requests.post(
        f"{sidecar.url}/api/reminders/run", data=b"{", headers=headers, timeout=10
    )
    assert not_json.status_code == 422

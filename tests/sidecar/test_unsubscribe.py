"""List-Unsubscribe on reminders (RFC 2369, one-click RFC 8058): a real sidecar and aiosmtpd."""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests

from core import clock
from tests.conftest import ADMIN_TOKEN, REPO
from tests.sidecar.test_alerts import wait_for
from tests.sidecar.test_customer_messages import _next_weekday, messages
from tests.sidecar.test_roster_messages import pay

SYDNEY = ZoneInfo("Australia/Sydney")
STAFF = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_one_click_unsubscribe_stops_later_reminders_but_not_confirmations(
    start_sidecar_process, smtp, tmp_path
):
    inbox, port = smtp
    today = clock.now().astimezone(SYDNEY).date()
    soon = _next_weekday(today + timedelta(days=1))
    later = _next_weekday(soon + timedelta(days=7))
    catalog = (REPO / "data" / "catalog.toml").read_text()
    original = 'date_ranges = [["2027-01-04", "2027-01-08"], ["2027-01-18", "2027-01-22"]]'
    path = tmp_path / "catalog.toml"
    path.write_text(catalog.replace(original, f'date_ranges = [["{soon}", "{later}"]]'))
    sidecar = start_sidecar_process(
        SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), SMTP_SECURITY="none",
        CATALOG_PATH=str(path), PUBLIC_BASE_URL="https://book.tinkertank.example",
    )  # fmt: skip

    def camp(day) -> dict:
        return {"product_id": "summer-robotics", "date": str(day), "session": "day",
                "student": {"name": "Mia", "age": 8}}  # fmt: skip

    def remind(day) -> int:
        starts = datetime.combine(day, datetime.min.time().replace(hour=9), SYDNEY)
        hours = math.ceil((starts - clock.now()).total_seconds() / 3600) + 1
        answer = requests.post(f"{sidecar.url}/api/reminders/run", json={"window_hours": hours},
                               headers=STAFF, timeout=10)  # fmt: skip
        return answer.json()["queued"]

    pay(sidecar, [camp(soon)], "jane@example.com", "Jane Citizen", 8900)
    assert remind(soon) == 1
    assert wait_for(lambda: len(inbox.messages) >= 2)  # confirmation, reminder
    reminder = messages(inbox)[1]
    assert reminder["Subject"].startswith("Reminder:")
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    (link,) = re.fullmatch(r"<(\S+)>", reminder["List-Unsubscribe"]).groups()
    assert link.startswith("https://book.tinkertank.example/unsubscribe/reminders.")
    assert link in reminder.get_body(("plain",)).get_content()
    confirmation = messages(inbox)[0]
    assert confirmation["List-Unsubscribe"] is None  # transactional: no unsubscribe
    local = sidecar.url + link.removeprefix("https://book.tinkertank.example")

    page = requests.get(local, timeout=10)  # a link scanner's visit changes nothing
    assert page.status_code == 200
    assert '<form method="post"' in page.text and "jane@example.com" in page.text
    assert "form-action 'self'" in page.headers["Content-Security-Policy"]
    forged = requests.post(local[:-3] + "AAA", timeout=10)
    assert forged.status_code == 404 and "doesn't work" in forged.text
    # The mail program's one-click POST (RFC 8058), then a second click.
    for _ in range(2):
        done = requests.post(local, data={"List-Unsubscribe": "One-Click"}, timeout=10)
        assert done.status_code == 200 and "unsubscribed from reminders" in done.text

    pay(sidecar, [camp(later)], "Jane@Example.com", "Jane Citizen", 8900)
    assert wait_for(lambda: len(inbox.messages) >= 3)  # the confirmation still comes
    assert messages(inbox)[2]["Subject"] == "Your TinkerTank booking is confirmed"
    assert remind(later) == 1

    def skipped() -> list[dict]:
        rows = sidecar.staff_get("/api/outbox", channel="email").json()["messages"]
        return [
            r for r in rows if r["dedupe_key"].startswith("reminder:") and r["status"] == "skipped"
        ]

    assert wait_for(lambda: len(skipped()) == 1)
    assert (
        skipped()[0]["last_error"]
        .lower()
        .startswith("jane@example.com unsubscribed from reminders")
    )
    time.sleep(1)
    assert len(inbox.messages) == 3

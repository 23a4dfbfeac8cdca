"""Staff reply to a support ticket (issue 13): the parent gets it threaded to the ticket, the
ticket's status follows, the reply stays on its history. A real sidecar and aiosmtpd."""

from __future__ import annotations

import time

import requests

from tests.conftest import ADMIN_TOKEN
from tests.sidecar.test_alerts import wait_for
from tests.sidecar.test_customer_messages import messages

STAFF = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_a_reply_is_threaded_to_the_ticket_and_moves_its_status(start_sidecar_process, smtp):
    inbox, port = smtp
    sidecar = start_sidecar_process(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port),
                                    SMTP_SECURITY="none")  # fmt: skip
    opened = requests.post(sidecar.url + "/api/support/booking-issue", json={
        "order_id": "ord_abcdefgh12345678", "email": "jane@example.com", "category": "wrong_date",
        "message": "We booked Tuesday but meant Wednesday.", "name": "Jane Citizen"},
        timeout=10)  # fmt: skip
    ticket_id = opened.json()["ticket_id"]
    assert wait_for(lambda: len(inbox.messages) >= 1)
    first = messages(inbox)[0]
    url = f"{sidecar.url}/api/tickets/{ticket_id}/replies"
    body = {"reply_id": "reply-7c1d9e2a", "by": "Priya",
            "body": "Done: Mia is now booked for Wednesday.\nSee you then!"}  # fmt: skip

    answers = [requests.post(url, json=body, headers=STAFF, timeout=10) for _ in range(2)]

    assert [a.status_code for a in answers] == [201, 200]  # the double submit sends nothing
    assert answers[0].json()["ticket"]["status"] == "in_progress"
    assert wait_for(lambda: len(inbox.messages) >= 2)
    time.sleep(1)
    assert len(inbox.messages) == 2
    reply = messages(inbox)[1]
    assert reply["To"] == "jane@example.com"
    assert reply["Subject"] == f"Re: We've received your request [{ticket_id}]"
    assert reply["In-Reply-To"] == first["Message-ID"]
    assert reply["References"] == first["Message-ID"]
    text = reply.get_body(("plain",)).get_content()
    assert text.startswith("Hi Jane,") and "Mia is now booked for Wednesday." in text

    closing = {"reply_id": "reply-7c1d9e2b", "by": "Priya", "body": "Closing this.",
               "close": True}  # fmt: skip
    closed = requests.post(url, json=closing, headers=STAFF, timeout=10).json()["ticket"]
    assert closed["status"] == "resolved" and closed["resolved_at"]
    ticket = sidecar.staff_get(f"/api/tickets/{ticket_id}").json()
    assert [(r["sent_by"], r["status"]) for r in ticket["replies"]] == [
        ("Priya", "in_progress"), ("Priya", "resolved")]  # fmt: skip
    assert ticket["replies"][0]["body"].startswith("Done: Mia")
    assert wait_for(lambda: len(inbox.messages) == 3)  # the closing reply went out too
    assert messages(inbox)[2]["In-Reply-To"] == first["Message-ID"]


def test_a_bad_reply_lists_every_problem_and_an_unknown_ticket_is_404(start_sidecar_process):
    sidecar = start_sidecar_process()
    url = f"{sidecar.url}/api/tickets/TT-UNKNOWN1/replies"
    bad = requests.post(url, json={"reply_id": "x", "close": "yes", "extra": 1},
                        headers=STAFF, timeout=10)  # fmt: skip
    assert bad.status_code == 422
    assert [p["path"] for p in bad.json()["problems"]] == ["extra", "reply_id", "body", "close",
                                                           "by"]  # fmt: skip
    good = {"reply_id": "reply-00000001", "body": "Hello", "by": "Priya"}
    assert requests.post(url, json=good, headers=STAFF, timeout=10).status_code == 404

"""Staff message every family booked on an event (issue 13): a real sidecar, aiosmtpd and,
for the texts, the local fake of Twilio's Messages API."""

from __future__ import annotations

import time

import requests

from core.messages.sms import SEGMENT, is_gsm
from tests.conftest import ADMIN_TOKEN, Sidecar, storefront_payment
from tests.fakes.twilio import FakeTwilio
from tests.sidecar.test_alerts import wait_for
from tests.sidecar.test_customer_messages import messages

STAFF = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def camp_day(name: str) -> dict:
    return {"product_id": "summer-robotics", "date": "2027-01-07", "session": "day",
            "student": {"name": name, "age": 8}}  # fmt: skip


def pay(
    sidecar: Sidecar, items: list[dict], email: str, name: str, amount: int,
    phone: str | None = None,
) -> str:  # fmt: skip
    customer = {"email": email, "name": name, **({"phone": phone} if phone else {})}
    paid = storefront_payment(items, customer, amount)
    assert sidecar.deliver(paid).status_code == 200
    status_url = f"{sidecar.url}/api/orders/{paid['data']['object']['id']}/status"

    def fulfilled() -> bool:
        response = requests.get(status_url, timeout=10)
        return response.status_code == 200 and response.json()["fulfillment_status"] == "fulfilled"

    assert wait_for(fulfilled)
    return requests.get(status_url, timeout=10).json()["order_id"]


def the_event_id(sidecar: Sidecar) -> str:
    events = sidecar.staff_get("/api/events", start="2027-01-07", end="2027-01-08").json()
    # Catalog slots nobody booked are listed too, without an event id.
    (event,) = [e for e in events["events"]
                if e["product_id"] == "summer-robotics" and e["event_id"]]  # fmt: skip
    return event["event_id"]


def send(sidecar: Sidecar, event_id: str, body: dict) -> requests.Response:
    return requests.post(f"{sidecar.url}/api/events/{event_id}/messages", json=body,
                         headers=STAFF, timeout=10)  # fmt: skip


def test_a_heatwave_closure_reaches_each_family_once_even_when_sent_twice(
    start_sidecar_process, smtp
):
    inbox, port = smtp
    sidecar = start_sidecar_process(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port),
                                    SMTP_SECURITY="none")  # fmt: skip
    # Two siblings in one family, one child in another.
    pay(sidecar, [camp_day("Mia"), camp_day("Noah")], "jane@example.com", "Jane Citizen", 17800)
    pay(sidecar, [camp_day("Leo")], "Kim@Example.com", "Kim Lee", 8900)
    assert wait_for(lambda: len(inbox.messages) >= 2)  # the two confirmations
    event_id = the_event_id(sidecar)
    body = {"message_id": "form-3f9a2c7e", "template": "heatwave_closure",
            "note": "We will email about a make-up day by Friday.", "by": "Priya"}  # fmt: skip

    first, second = send(sidecar, event_id, body), send(sidecar, event_id, body)  # double submit

    assert first.status_code == 201, first.text
    assert first.json()["queued"] == 2 and first.json()["families"] == 2
    assert second.status_code == 201 and second.json()["queued"] == 0
    assert "already sent" in second.json()["message"]
    assert wait_for(lambda: len(inbox.messages) >= 4)
    time.sleep(1)  # time for any duplicate to show up
    closures = [m for m in messages(inbox) if m["Subject"].startswith("Closed today")]
    assert sorted(m["To"] for m in closures) == ["jane@example.com", "kim@example.com"]
    assert len(inbox.messages) == 4
    text = closures[0].get_body(("plain",)).get_content()
    assert closures[0]["Subject"] == (
        "Closed today: Robotics Bootcamp — day session on Thursday 7 January (extreme heat)"
    )
    assert "Thursday 7 January 2027, 9:00 AM to 3:00 PM" in text
    assert "We will email about a make-up day by Friday." in text

    audit = sidecar.staff_get(f"/api/events/{event_id}/messages").json()["messages"]
    assert len(audit) == 1
    assert audit[0]["sent_by"] == "Priya" and audit[0]["template"] == "heatwave_closure"
    assert audit[0]["to"] == ["jane@example.com", "kim@example.com"]
    assert audit[0]["created_at"].endswith("Z")


def test_staffs_own_text_goes_out_and_a_bad_message_lists_every_problem(
    start_sidecar_process, smtp
):
    inbox, port = smtp
    sidecar = start_sidecar_process(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port),
                                    SMTP_SECURITY="none")  # fmt: skip
    pay(sidecar, [camp_day("Mia")], "jane@example.com", "Jane Citizen", 8900)
    event_id = the_event_id(sidecar)

    bad = send(sidecar, event_id, {"message_id": "x", "template": "snow_day",
                                   "channels": ["pigeon"], "colour": "red"})  # fmt: skip
    assert bad.status_code == 422
    paths = [p["path"] for p in bad.json()["problems"]]
    assert paths == ["colour", "message_id", "template", "channels.0", "by"]
    assert send(sidecar, "evt_none", {"message_id": "form-00000001", "subject": "s",
                                      "body": "b", "by": "Priya"}).status_code == 404  # fmt: skip

    sent = send(sidecar, event_id, {"message_id": "form-00000002", "subject": "Room change",
                                    "body": "We are in room 2 today.", "by": "Priya"})  # fmt: skip
    assert sent.status_code == 201 and sent.json()["queued"] == 1
    assert wait_for(lambda: any(m["Subject"] == "Room change" for m in messages(inbox)))
    (own,) = [m for m in messages(inbox) if m["Subject"] == "Room change"]
    assert own.get_body(("plain",)).get_content().startswith("We are in room 2 today.")


def test_sms_is_refused_with_its_path_where_sms_is_off(start_sidecar_process):
    sidecar = start_sidecar_process()
    pay(sidecar, [camp_day("Mia")], "jane@example.com", "Jane Citizen", 8900, "0412 345 100")
    event_id = the_event_id(sidecar)
    assert sidecar.staff_get(f"/api/events/{event_id}/messages").json()["channels"] == {
        "email": True, "sms": False}  # fmt: skip

    refused = send(sidecar, event_id, {"message_id": "form-00000003", "template":
                   "heatwave_closure", "channels": ["email", "sms"], "by": "Priya"})  # fmt: skip

    assert refused.status_code == 422
    (problem,) = refused.json()["problems"]
    assert problem["path"] == "channels.1" and "SMS is not configured" in problem["message"]
    assert sidecar.staff_get(f"/api/events/{event_id}/messages").json()["messages"] == []


def test_a_closure_goes_by_email_and_sms_once_per_family_and_not_to_a_stopped_number(
    start_sidecar_process, smtp
):
    inbox, port = smtp
    with FakeTwilio() as twilio:
        sidecar = start_sidecar_process(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port),
                                        SMTP_SECURITY="none", **twilio.env())  # fmt: skip
        jane, sam = "+61412345101", "+61412345103"
        pay(sidecar, [camp_day("Mia"), camp_day("Noah")], "jane@example.com", "Jane Citizen",
            17800, "0412 345 101")  # fmt: skip
        pay(sidecar, [camp_day("Leo")], "kim@example.com", "Kim Lee", 8900)  # no mobile
        pay(sidecar, [camp_day("Ava")], "sam@example.com", "Sam Roe", 8900, "0412 345 103")
        twilio.unsubscribed.add(sam)  # Sam texted STOP to our number at Twilio
        event_id = the_event_id(sidecar)
        assert sidecar.staff_get(f"/api/events/{event_id}/messages").json()["channels"] == {
            "email": True, "sms": True}  # fmt: skip
        body = {"message_id": "form-5ab1c2d3", "template": "heatwave_closure", "by": "Priya",
                "note": "Make-up day by Friday.", "channels": ["email", "sms"]}  # fmt: skip

        first, second = send(sidecar, event_id, body), send(sidecar, event_id, body)

        assert first.status_code == 201, first.text
        assert first.json()["queued_by_channel"] == {"email": 3, "sms": 2}
        assert "(3 emails, 2 SMS)" in first.json()["message"]
        assert second.status_code == 201 and second.json()["queued"] == 0

        def texts() -> list[dict]:
            return sidecar.staff_get("/api/outbox", channel="sms").json()["messages"]

        assert wait_for(lambda: len(texts()) == 2 and all(
            m["status"] in ("sent", "skipped", "failed") for m in texts()))  # fmt: skip
        assert wait_for(lambda: sum(m["Subject"].startswith("Closed today")
                                    for m in messages(inbox)) >= 3)  # fmt: skip
        by_number = {m["recipient"]: m for m in texts()}
        assert by_number[jane]["status"] == "sent"
        assert by_number[sam]["status"] == "skipped"
        assert "opted out" in by_number[sam]["last_error"]
        (text,) = twilio.to(jane)
        assert text == (
            "TinkerTank: Robotics Bootcamp - day session, Thu 7 Jan: closed (extreme heat)."
            " Make-up day by Friday. Reply STOP to opt out."
        )
        assert len(text) <= SEGMENT and is_gsm(text)
        assert twilio.to(sam) == [] and len(twilio.messages) == 1
        closures = [m for m in messages(inbox) if m["Subject"].startswith("Closed today")]
        assert sorted(m["To"] for m in closures) == [
            "jane@example.com", "kim@example.com", "sam@example.com"]  # fmt: skip

        (audit,) = sidecar.staff_get(f"/api/events/{event_id}/messages").json()["messages"]
        assert audit["channels"] == "email,sms"
        assert audit["sent_by_channel"] == {"email": 3, "sms": 2}
        assert audit["to"] == ["jane@example.com", "kim@example.com", "sam@example.com"]

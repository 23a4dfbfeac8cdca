"""Dashboard forms of issue 13: a reply to a ticket (Support), a message to every family on
an event by email and SMS (Calendar's roster; the fake Twilio for the texts), and the
watchdog's banner (Live). AppTest against real sidecars."""

from __future__ import annotations

from datetime import date

import requests

from tests.conftest import CLOCK_SHIFT, make_event
from tests.dashboard.conftest import (
    AUTH,
    Seeded,
    dashboard_settings,
    log_in,
    new_dashboard,
    no_trouble,
    wait_for,
)
from tests.fakes.twilio import FakeTwilio
from tests.sidecar.test_roster_messages import camp_day, pay, the_event_id
from tests.sidecar.test_watchdog import local_minute


def test_staff_reply_to_a_ticket_and_it_is_answered_once(dashboard, seeded: Seeded):
    opened = requests.post(seeded.url + "/api/support/booking-issue", json={
        "order_id": seeded.fulfilled_orders[1], "email": "bo.parent@example.com",
        "category": "child_details", "message": "Bo is 9, not 8.", "name": "Bo Parent"},
        timeout=10)  # fmt: skip
    ticket_id = opened.json()["ticket_id"]
    at = dashboard("support")
    at.selectbox(key="support-ticket").select(ticket_id).run()

    at.text_area(key="ticket-reply").input("Thanks, we've changed Bo's age to 9.")
    at.button(key="ticket-reply-send").click().run()

    no_trouble(at)
    assert at.success[0].value.startswith(f"{ticket_id}: reply emailed; status in_progress")
    ticket = seeded.get(f"/api/tickets/{ticket_id}")
    assert ticket["status"] == "in_progress"
    (reply,) = ticket["replies"]
    assert (reply["body"], reply["sent_by"]) == ("Thanks, we've changed Bo's age to 9.", "Robin")
    outbox = seeded.get("/api/outbox", channel="email")["messages"]
    assert [m["recipient"] for m in outbox if m["dedupe_key"].startswith("ticket-reply:")
            and m["recipient"] == "bo.parent@example.com"] == ["bo.parent@example.com"]  # fmt: skip


def test_staff_message_every_family_on_an_event_from_its_roster(dashboard, seeded: Seeded):
    at = dashboard("calendar")
    at.date_input(key="calendar-month").set_value(date(2027, 1, 6)).run()
    # The camp day's entry (both sessions); Ada and Bo are in its day session.
    at.selectbox(key="calendar-roster").select("campday:summer-robotics:2027-01-06").run()
    (camp,) = [e for e in seeded.get("/api/events", start="2027-01-06", end="2027-01-07")["events"]
               if e["kind"] == "camp" and e["event_id"]]  # fmt: skip
    event_id = camp["event_id"]

    at.selectbox(key=f"roster-template-{event_id}").select("heatwave_closure")
    at.text_area(key=f"roster-note-{event_id}").input("A make-up day follows by email.")
    # The seeded sidecar has no SMS settings: the box is greyed out and says why.
    sms = at.checkbox(key=f"roster-sms-{event_id}")
    assert sms.disabled and not sms.value
    assert any("SMS is off" in c.value for c in at.caption)
    assert at.checkbox(key=f"roster-email-{event_id}").value
    at.button(key=f"roster-send-{event_id}").click().run()

    no_trouble(at)
    assert "queued for 2 families (2 emails)" in at.success[0].value
    sent = seeded.get(f"/api/events/{event_id}/messages")["messages"]
    assert len(sent) == 1 and sent[0]["sent_by"] == "Robin"
    assert sorted(sent[0]["to"]) == ["ada.parent@example.com", "bo.parent@example.com"]
    assert sent[0]["subject"].startswith("Closed today: Robotics Bootcamp")


def test_the_live_page_shows_the_watchdogs_alert(start_sidecar_process):
    first = start_sidecar_process()
    event = make_event(type="customer.created")
    assert first.deliver(event).status_code == 200
    received = local_minute(first.inbox_row(event["id"])["received_at"])
    first.server.stop()
    later = start_sidecar_process(
        CLOCK_SHIFT_SECONDS=str(CLOCK_SHIFT + 3 * 3600),
        NO_DELIVERY_ALERT_MINUTES="60",
        WATCH_EVERY_SECONDS="1",
    )
    assert wait_for(lambda: later.staff_get("/api/kpis").json()["watch"])
    at = log_in(new_dashboard(dashboard_settings(later.url)))
    at.switch_page("pages/live.py").run()

    assert not at.exception
    banners = [e.value for e in at.error if e.value.startswith("Watchdog")]
    assert len(banners) == 1
    assert banners[0].startswith(f"Watchdog, no delivery since {received:%a %d %b %Y %H:%M}: ")
    assert f"no Stripe webhook delivery since {received:%a %d %b %H:%M}" in banners[0]


def test_staff_message_every_family_by_email_and_sms_from_the_roster(start_sidecar_process):
    with FakeTwilio() as twilio:
        sidecar = start_sidecar_process(**twilio.env())
        pay(sidecar, [camp_day("Mia")], "jane@example.com", "Jane Citizen", 8900, "0412 345 201")
        pay(sidecar, [camp_day("Leo")], "kim@example.com", "Kim Lee", 8900, "0412 345 202")
        pay(sidecar, [camp_day("Ava")], "sam@example.com", "Sam Roe", 8900)  # no mobile
        event_id = the_event_id(sidecar)
        at = log_in(new_dashboard(dashboard_settings(sidecar.url)))
        at.switch_page("pages/calendar.py").run()
        at.date_input(key="calendar-month").set_value(date(2027, 1, 7)).run()
        at.selectbox(key="calendar-roster").select("campday:summer-robotics:2027-01-07").run()

        sms = at.checkbox(key=f"roster-sms-{event_id}")
        assert not sms.disabled
        sms.check()
        at.selectbox(key=f"roster-template-{event_id}").select("weather_closure")
        at.button(key=f"roster-send-{event_id}").click().run()

        no_trouble(at)
        assert "queued for 3 families (3 emails, 2 SMS)" in at.success[0].value
        (sent,) = requests.get(f"{sidecar.url}/api/events/{event_id}/messages",
                               headers=AUTH, timeout=10).json()["messages"]  # fmt: skip
        assert sent["channels"] == "email,sms" and sent["sent_by"] == "Robin"
        assert sent["sent_by_channel"] == {"email": 3, "sms": 2}
        assert wait_for(lambda: len(twilio.messages) == 2)
        assert sorted(m["To"] for m in twilio.messages) == ["+61412345201", "+61412345202"]
        assert all("closed (severe weather)" in m["Body"] for m in twilio.messages)

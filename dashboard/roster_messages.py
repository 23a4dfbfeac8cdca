"""The calendar roster's "message every family" form (a heatwave closure, a room change),
kept apart from the calendar page's layout, which calls `roster_message_form`.

Each form gets its own message id, kept until the message is sent: a double click or a
resubmit sends nothing twice (the API's unique key per event, message and family)."""

from __future__ import annotations

import secrets

import streamlit as st

from client.staff_api import StaffApi
from core.messages.roster import TEMPLATES
from dashboard import formatting as fmt
from dashboard import session, ui

OWN_TEXT = "own text"
SMS_OFF = "SMS is off: the sidecar needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and SMS_FROM."


def _labels(name: str) -> str:
    return name if name == OWN_TEXT else name.replace("_", " ").capitalize()


def roster_message_form(api: StaffApi, event_id: str, families: int, label: str = "") -> None:
    """Below an event's roster: the form, then what was sent already. `label` names the
    event where the roster shows more than one (a camp day's sessions)."""
    id_key = f"roster-message-id-{event_id}"
    st.session_state.setdefault(id_key, f"dash-{secrets.token_hex(8)}")
    with st.expander(f"Message every family booked{' in the ' + label.lower() if label else ''}"
                     f" ({families})"):  # fmt: skip
        answer = api.roster_messages(event_id)
        # Which channels the sidecar can send (a sidecar before 2026-12 only email).
        sms_on = bool((answer.get("channels") or {}).get("sms"))
        with st.form(f"roster-message-{event_id}"):
            template = st.selectbox("Message", [*TEMPLATES, OWN_TEXT], format_func=_labels,
                                    key=f"roster-template-{event_id}")  # fmt: skip
            note = st.text_area("Add a line (templates)", key=f"roster-note-{event_id}")
            subject = st.text_input("Subject (own text)", key=f"roster-subject-{event_id}")
            body = st.text_area("Message (own text)", key=f"roster-body-{event_id}")
            by_email, by_sms = st.columns(2)
            email = by_email.checkbox("Email", value=True, key=f"roster-email-{event_id}")
            sms = by_sms.checkbox(
                "SMS", value=False, disabled=not sms_on, key=f"roster-sms-{event_id}",
                help="A short text to each family with a mobile (numbers that texted STOP"
                " are skipped)." if sms_on else SMS_OFF,
            )  # fmt: skip
            if not sms_on:
                by_sms.caption(SMS_OFF)
            send = st.form_submit_button("Send to every family", type="primary",
                                         key=f"roster-send-{event_id}")  # fmt: skip
        if send:
            channels = [name for name, on in (("email", email), ("sms", sms and sms_on)) if on]
            message: dict = {"message_id": st.session_state[id_key], "channels": channels,
                             "by": session.staff_name()}  # fmt: skip
            if template == OWN_TEXT:
                message.update(subject=subject, body=body)
            else:
                message["template"] = template
                if note.strip():
                    message["note"] = note

            def call() -> dict:
                answer = api.message_roster(event_id, message)
                st.session_state.pop(id_key, None)  # the next message is a new one
                return answer

            ui.act(call, "Message queued.")
        with ui.section():
            sent = answer["messages"]
            ui.table(
                fmt.table_times(sent, session.settings().tz, "created_at"),
                {"created_at": "Sent", "sent_by": "By", "subject": "Subject",
                 "families": "Families", "channels": "Channels"},
            )  # fmt: skip

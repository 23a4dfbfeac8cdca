"""Support: problems customers reported; staff move each along, leave a note, and reply to
the parent by email (threaded to the ticket; the ticket becomes answered or resolved)."""

from __future__ import annotations

import secrets

import streamlit as st

from core.vocabulary import TICKET_STATUSES
from dashboard import formatting as fmt
from dashboard import session, ui

PAGE_SIZE = 50

api, tz = session.api(), session.settings().tz
ui.page_title("Support")

status = st.segmented_control("Status", [*TICKET_STATUSES, "all"], default="open") or "all"
pager_key = ui.page_key("tickets", status)

tickets: list[dict] = []
with ui.section():
    listing = api.tickets(
        status=None if status == "all" else status,
        limit=PAGE_SIZE,
        offset=ui.page_offset(pager_key, PAGE_SIZE),
    )
    tickets = listing["tickets"]
    ui.table(
        [
            {
                **t,
                "status": (t.get("status") or "").replace("_", " "),
                "category": (t.get("category") or "").replace("_", " "),
            }
            for t in fmt.table_times(tickets, tz, "created_at", "updated_at", "resolved_at")
        ],
        # What was reported and by whom first; the references after.
        {
            "created_at": "Reported",
            "status": "Status",
            "category": "Category",
            "name": "Name",
            "message": "Message",
            "staff_note": "Staff note",
            "email": "Email",
            "order_id": "Order",
            "order_reference": "Order reference",
            "updated_at": "Updated",
            "ticket_id": "Ticket",
        },
        empty="No tickets here. What families report with the booking-issue form appears "
        "here as soon as they send it.",
        column_config={
            "Reported": st.column_config.TextColumn(width=165),
            "Status": st.column_config.TextColumn(width=95),
            "Category": st.column_config.TextColumn(width=110),
            "Name": st.column_config.TextColumn(width=120, pinned=True),
            "Message": st.column_config.TextColumn(width=320),
            "Staff note": st.column_config.TextColumn(width=200),
        },
    )
    ui.pager(listing["total"], PAGE_SIZE, pager_key)

labels = {t["ticket_id"]: f"{t['ticket_id']} · {t['email']} · {t['message'][:60]}" for t in tickets}
chosen = st.selectbox(
    "Work on a ticket", list(labels), index=None, format_func=labels.get, key="support-ticket"
)
if chosen:
    ticket = next(t for t in tickets if t["ticket_id"] == chosen)
    # What the customer typed is shown as text, never read as Markdown.
    sender = f"{ticket['name']} <{ticket['email']}>" if ticket.get("name") else ticket["email"]
    st.text(f"{ticket['category']} from {sender}")
    st.text(ticket["message"])
    with st.form(f"ticket-{chosen}"):
        new_status = st.selectbox(
            "Status",
            TICKET_STATUSES,
            index=TICKET_STATUSES.index(ticket["status"]),
            key="ticket-status",
        )
        note = st.text_area("Staff note", value=ticket.get("staff_note") or "", key="ticket-note")
        save = st.form_submit_button("Save", type="primary", key="ticket-save")
    if save:
        ui.act(
            lambda: api.update_ticket(chosen, new_status, note),
            f"Ticket {chosen} is now {new_status}.",
            "support-actions",
        )
ui.result("support-actions")  # under the form (the ticket may have left this filtered list)

if chosen:
    reply_key = f"ticket-reply-id-{chosen}"  # one id per reply: a double click sends one
    st.session_state.setdefault(reply_key, f"dash-{secrets.token_hex(8)}")
    with st.form(f"ticket-reply-{chosen}"):
        st.caption(f"Reply to {ticket['email']} by email, in the thread of {chosen}")
        reply_text = st.text_area("Reply", key="ticket-reply")
        close = st.checkbox("This answers it: close the ticket", key="ticket-reply-close")
        send = st.form_submit_button("Send reply", type="primary", key="ticket-reply-send")
    if send:

        def reply() -> dict:
            answer = api.reply_to_ticket(
                chosen, st.session_state[reply_key], reply_text, close, session.staff_name()
            )
            st.session_state.pop(reply_key, None)
            return answer

        ui.act(reply, f"Reply to {chosen} sent.", "support-reply")
    with ui.section():
        history = api.ticket(chosen).get("replies", [])
        st.caption("Replies sent")
        ui.table(
            fmt.table_times(history, tz, "created_at"),
            {"created_at": "Sent", "sent_by": "By", "status": "Status after", "body": "Reply"},
        )
ui.result("support-reply")  # by the reply's form (the ticket may have left this filtered list)

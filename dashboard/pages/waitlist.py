"""Waitlist: the events with families waiting; an event's list, in the order places are
offered; reorder it, take a family off it, and offer free places now."""

from __future__ import annotations

import streamlit as st

from dashboard import formatting as fmt
from dashboard import session, ui

STATUS = {
    "waiting": "Waiting",
    "offered": "Offered a place",
    "converted": "Booked",
    "lapsed": "Offer lapsed",
    "removed": "Removed",
}

api, tz = session.api(), session.settings().tz
ui.page_title("Waitlist")

events: list[dict] = []
with ui.section():
    events = api.waitlist()["events"]
    ui.table(events, {"label": "Event", "waiting": "Waiting", "offered": "Holding an offer",
                      "event": "Event key"})  # fmt: skip

if st.button("Offer free places now", key="waitlist-run"):
    ui.act(
        lambda: {**(done := api.run_waitlist()),
                 "message": f"{done['offered']} offered, {done['lapsed']} lapsed,"
                            f" {done['converted']} booked."},
        "Done.",
    )  # fmt: skip

labels = {e["event"]: f"{e['label']} · {e['waiting']} waiting" for e in events}
event = st.selectbox("An event's list", list(labels), index=None, format_func=labels.get,
                     key="waitlist-event")  # fmt: skip
if event:
    entries = api.waitlist(event)["entries"]
    shown = [{**e, "status": STATUS.get(e["status"], e["status"])} for e in entries]
    ui.table(
        fmt.table_times(shown, tz, "offer_expires_at", "created_at", "closed_at"),
        {"position": "#", "email": "Family", "status": "Status",
         "offer_expires_at": "Offer held until", "created_at": "Joined",
         "closed_reason": "Why closed", "entry_id": "Entry"},
    )  # fmt: skip
    open_entries = {e["entry_id"]: f"{e['position']}. {e['email']}" for e in entries
                    if e["status"] in ("waiting", "offered")}  # fmt: skip
    with st.form("waitlist-reorder"):
        first = st.multiselect(
            "Offer first, in this order (the rest keep their order after them)",
            list(open_entries), format_func=open_entries.get, key="waitlist-first",
        )  # fmt: skip
        save = st.form_submit_button("Save order", key="waitlist-save")
    if save and first:
        ui.act(
            lambda: api.reorder_waitlist(event, first, session.staff_name()),
            "The waitlist is in its new order.",
        )
    with st.form("waitlist-remove"):
        gone = st.selectbox("Take off the list", list(open_entries), index=None,
                            format_func=open_entries.get, key="waitlist-remove-entry")  # fmt: skip
        reason = st.text_input("Why", key="waitlist-remove-reason")
        remove = st.form_submit_button("Remove", key="waitlist-remove-submit")
    if remove and gone:
        ui.act(
            lambda: api.remove_from_waitlist(gone, session.staff_name(), reason.strip()),
            f"{open_entries[gone]} is off the list.",
        )

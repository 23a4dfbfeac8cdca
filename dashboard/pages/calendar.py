"""Calendar: every event of a month with its fill (18/24), a colour per kind; clicking an
event (or choosing it below) shows its roster."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st
from streamlit_calendar import calendar

from core import clock
from core.vocabulary import KINDS
from dashboard import formatting as fmt
from dashboard import session, ui

VIEWS = {"Month": "dayGridMonth", "Week": "timeGridWeek", "List": "listWeek"}
ROSTER_KEY = "calendar-roster"

api, tz = session.api(), session.settings().tz
ui.page_title("Calendar")

month_field, view_field, kind_field = st.columns([1, 2, 1])
month = month_field.date_input(
    "Month of", value=clock.now().astimezone(tz).date(), format="YYYY-MM-DD", key="calendar-month"
)
view = view_field.segmented_control("View", list(VIEWS), default="Month") or "Month"
kind = kind_field.selectbox("Kind", KINDS, index=None, placeholder="all kinds")
legend = " ".join(
    f":{colour}[■] {name}"
    for name, colour in (("camp", "blue"), ("party", "red"), ("ignite", "green"))
)
st.caption(f"{legend} · title shows booked/capacity")

# The whole month plus the days a month grid shows around it.
first = month.replace(day=1)
start = first - timedelta(days=7)
end = (first + timedelta(days=32)).replace(day=1) + timedelta(days=14)

events: list[dict] = []
with ui.section():
    events = api.events(start, end, kind)["events"]
    if not events:
        st.info(f"No events between {start} and {end}.")
        # The API takes at most 400 days a call: look a year ahead for the next one.
        later = api.events(end, end + timedelta(days=365), kind)["events"]
        if later:
            upcoming = fmt.parse_instant(min(e["starts_at"] for e in later)).astimezone(tz)
            st.button(
                f"Go to the next events, {upcoming:%B %Y}",
                key="calendar-next",
                on_click=st.session_state.update,
                args=({"calendar-month": upcoming.date()},),
            )
    clicked = calendar(
        events=fmt.calendar_entries(events, tz),
        options={
            "initialView": VIEWS[view],
            "initialDate": max(month, first).isoformat(),
            "timeZone": session.settings().timezone,
            # The month above chooses what is fetched, so no paging inside the calendar.
            "headerToolbar": {"left": "", "center": "title", "right": ""},
            "slotMinTime": "07:00:00",
            "slotMaxTime": "20:00:00",
            "firstDay": 1,
            "eventDisplay": "block",
            "displayEventTime": False,
            "height": 720,
        },
        callbacks=["eventClick"],
        key=f"calendar-{view}-{first}-{kind}",
    )
    if clicked and clicked.get("callback") == "eventClick":
        # The component repeats its last value on every rerun: act on a new click only.
        click = clicked["eventClick"]["event"]["id"]
        if click != st.session_state.get("calendar-last-click"):
            st.session_state["calendar-last-click"] = st.session_state[ROSTER_KEY] = click

by_id = {e["event_id"]: e for e in events}
labels = {
    e["event_id"]: f"{fmt.local_time(e['starts_at'], tz)} · {e['title']} · "
    f"{fmt.fill(e['booked'], e['capacity'])}"
    for e in sorted(events, key=lambda e: e["starts_at"])
}
if st.session_state.get(ROSTER_KEY) not in labels:
    st.session_state.pop(ROSTER_KEY, None)
chosen = st.selectbox(
    "Roster of", list(labels), index=None, format_func=labels.get, key=ROSTER_KEY,
    placeholder="click an event, or choose one",
)  # fmt: skip

if chosen:
    with ui.section():
        answer = api.roster(chosen)
        event = answer["event"]
        st.subheader(
            f"{event['title']}, {fmt.local_time(event['starts_at'], tz)}—"
            f"{fmt.local_time(event['ends_at'], tz, with_date=False)}"
        )
        booked, capacity, place = st.columns(3)
        booked.metric("Booked", fmt.fill(event["booked"], event["capacity"]))
        capacity.metric("Places left", max(0, (event["capacity"] or 0) - event["booked"]))
        place.metric("Venue", event["venue_id"], help=f"room: {event.get('room_id') or '—'}")
        ui.table(
            [{**row, **fmt.contact_columns(row)} for row in answer["roster"]],
            {
                "student": "Student",
                "age": "Age",
                "notes": "Notes",
                "emergency": "Emergency contacts",
                "collectors": "May also collect",
                "customer_name": "Parent",
                "customer_email": "Email",
                "order_id": "Order",
                "status": "Status",
            },
        )

"""Check-in: a day's events at the door, one row per child, for a tablet. Tick a child in,
hand them over to an adult allowed to collect them (anyone else needs a reason), undo a
mistaken tick; children not arrived 15 minutes after the start and late pickups are
flagged. What each button did shows next to it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from client.staff_api import ApiError, NotAvailable, message_of
from core import clock
from dashboard import formatting as fmt
from dashboard import session, ui

SOMEONE_ELSE = "Someone else…"
RESULTS_KEY = "checkin-results"
STATE_LABELS = {
    "expected": ":grey[Expected]",
    "not_arrived": ":orange[:material/schedule: **Not arrived**]",
    "checked_in": ":green[:material/check_circle: **In**]",
    "late_pickup": ":red[:material/alarm: **Late pickup**]",
    "checked_out": ":blue[:material/logout: **Out**]",
}
# Big targets for a finger on a tablet.
TABLET_STYLE = """<style>
div[data-testid="stButton"] button {min-height: 3.2rem; font-size: 1.1rem;}
</style>"""

api, tz = session.api(), session.settings().tz
ui.page_title("Check-in")
st.markdown(TABLET_STYLE, unsafe_allow_html=True)

day_field, name_field = st.columns([1, 2])
day = day_field.date_input(
    "Day", value=clock.now().astimezone(tz).date(), format="DD/MM/YYYY", key="checkin-day"
)
staff = name_field.text_input(
    "Your name", value=session.staff_name(), key="checkin-staff",
    help="Recorded with every check-in and check-out you make.",
).strip()  # fmt: skip
results: dict[str, tuple[str, str]] = st.session_state.setdefault(RESULTS_KEY, {})


def act(booking_id: str, call, done: str) -> None:
    """Run a row's button; its result is kept for that row (shown next to the button)."""
    try:
        results[booking_id] = ("success", message_of(call(), done))
    except NotAvailable as exc:
        results[booking_id] = ("error", str(exc))
    except ApiError as exc:
        results[booking_id] = ("error", exc.message)
    st.rerun()


def local(text: str | None) -> str:
    return fmt.local_time(text, tz, with_date=False)


def who_may_collect(child: dict[str, Any]) -> str:
    collectors = {c["name"]: c.get("phone") for c in child["authorised_collectors"]}
    names = []
    for name in child["may_collect"]:
        phone = collectors.get(name)
        parent = " (parent)" if name == child["customer_name"] else ""
        names.append(f"{name}{parent}" + (f" {phone}" if phone else ""))
    return ", ".join(names) or "—"


def child_row(event: dict[str, Any], child: dict[str, Any]) -> None:
    booking = child["booking_id"]
    with st.container(border=True):
        about, state, actions = st.columns([3, 2, 3], vertical_alignment="center")
        age = f", {child['age']}" if child.get("age") is not None else ""
        about.markdown(f"### {fmt.literal(child['student'])}{age}")
        if child.get("notes"):
            about.markdown(f":red[:material/warning: **Notes:** {fmt.literal(child['notes'])}]")
        about.caption(f"May collect: {fmt.literal(who_may_collect(child))}")
        if child["emergency_contacts"]:
            contacts = ", ".join(f"{c['name']} {c['phone']}" for c in child["emergency_contacts"])
            about.caption(f"Emergency: {fmt.literal(contacts)}")

        state.markdown(STATE_LABELS.get(child["state"], child["state"]))
        if child["checked_in_at"]:
            state.caption(
                f"In {local(child['checked_in_at'])} by {fmt.literal(child['checked_in_by'])}"
            )
        if child["checked_out_at"]:
            override = child.get("collection_override")
            state.caption(
                f"Out {local(child['checked_out_at'])} to {fmt.literal(child['collected_by'])},"
                f" by {fmt.literal(child['checked_out_by'])}"
                + (f" (override: {fmt.literal(override)})" if override else "")
            )

        with actions:
            buttons(child, booking)
            if booking in results:
                kind, message = results[booking]
                (st.success if kind == "success" else st.error)(message)


def buttons(child: dict[str, Any], booking: str) -> None:
    by = staff or None
    if not child["checked_in_at"]:
        if st.button("Check in", key=f"checkin-in-{booking}", type="primary", width="stretch"):
            act(booking, lambda: api.check_in(booking, by), "checked in")
        return
    if not child["checked_out_at"]:
        choices = [*child["may_collect"], SOMEONE_ELSE]
        collector = st.selectbox("Collected by", choices, key=f"checkin-collector-{booking}")
        reason = None
        if collector == SOMEONE_ELSE:
            collector = st.text_input("Their name", key=f"checkin-other-{booking}").strip()
            reason = st.text_input(
                "Why they may collect (override)", key=f"checkin-reason-{booking}"
            ).strip()
        if st.button("Check out", key=f"checkin-out-{booking}", type="primary", width="stretch"):
            act(booking, lambda: api.check_out(booking, collector, by, reason), "checked out")
        if st.button("Undo check-in", key=f"checkin-undo-in-{booking}", width="stretch"):
            act(booking, lambda: api.undo_attendance(booking, "check_in", by), "undone")
        return
    if st.button("Undo check-out", key=f"checkin-undo-out-{booking}", width="stretch"):
        act(booking, lambda: api.undo_attendance(booking, "check_out", by), "undone")


with ui.section():
    answer = api.attendance(day)
    events = answer["events"]
    if not events:
        st.info(
            f"No events on {day:%d/%m/%Y}. Events appear here once a place in them is booked; "
            "choose another day above."
        )
    for event in events:
        counts = event["counts"]
        st.subheader(
            f"{local(event['starts_at'])} to {local(event['ends_at'])} · "
            f"{fmt.literal(event['title'])}",
            divider="gray",
        )
        st.caption(
            # Names as staff know them (a sidecar before 2026-12 sends only the ids).
            f"{event.get('venue_name', event['venue_id'])} · "
            f"{event.get('room_name', event['room_id'])} · {counts['booked']} booked · "
            f"{counts['checked_in'] + counts['late_pickup']} in · {counts['checked_out']} out"
        )
        if counts["not_arrived"]:
            st.warning(
                f"{counts['not_arrived']} not arrived 15 minutes after the start.",
                icon=":material/schedule:",
            )
        if counts["late_pickup"]:
            st.warning(
                f"{counts['late_pickup']} still here after the end: late pickup.",
                icon=":material/alarm:",
            )
        if event["status"] == "cancelled":
            st.warning("This event is cancelled.")
        if not event["children"]:
            st.caption("Nobody is booked into this event.")
        for child in event["children"]:
            child_row(event, child)

"""Calendar: every slot the catalog sells in a day, week, month or chosen range, booked or
not, with its fill (a camp day's two sessions counted together), venue and room names, a
colour per kind and a border per fill; choosing one shows its roster, to print or download."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st
from streamlit_calendar import calendar

from core import clock
from core.vocabulary import KINDS
from dashboard import calendar_view as view_of
from dashboard import formatting as fmt
from dashboard import roster, session, ui
from dashboard.order_actions import capacity_form
from dashboard.roster_messages import roster_message_form

ROSTER_KEY = "calendar-roster"
DAY_KEY = "calendar-month"  # the chosen day (named for the month it used to choose)

api, settings = session.api(), session.settings()
tz = settings.tz
ui.page_title("Calendar")

day_field, until_field, view_field, kind_field = st.columns([1, 1, 2, 1])
chosen_day = day_field.date_input(
    "Day", value=clock.now().astimezone(tz).date(), format="DD/MM/YYYY", key=DAY_KEY
)
view = (
    view_field.segmented_control("View", list(view_of.VIEWS), default="Month", key="calendar-view")
    or "Month"
)
until = until_field.date_input(
    "List until", value=None, format="DD/MM/YYYY", key="calendar-until",
    disabled=view != "List", help="The list shows the chosen day's month, or up to this day.",
)  # fmt: skip
kind = kind_field.selectbox("Kind", KINDS, index=None, placeholder="all kinds", key="calendar-kind")
free_parties = kind_field.toggle(
    "Free party slots", value=True, key="calendar-free-parties",
    help="Party rooms nobody has booked yet (0/1). Turn off to see booked parties only.",
)  # fmt: skip
first, end = view_of.visible_range(view, chosen_day, until)
legend = " ".join(
    f":{colour}[■] {name}"
    for name, colour in (("camp", "blue"), ("party", "red"), ("ignite", "green"))
)
st.caption(
    f"{legend} · border: :gray[grey] nobody yet, :green[green] places free, "
    ":orange[amber] ¾ booked, :red[red] full · a camp day counts both sessions together · "
    f"{first:%a} {first.day} {first:%b %Y} to {end - timedelta(days=1):%a} "
    f"{(end - timedelta(days=1)).day} {(end - timedelta(days=1)):%b %Y}"
)

slots: list[dict] = []
with ui.section():
    slots = view_of.slots(api.events(first, end, kind)["events"])
    if not free_parties:
        slots = [s for s in slots if s["kind"] != "party" or s["booked"]]
    elif view in ("Month", "Week"):
        slots = view_of.free_parties_by_day(slots, tz, by_time=view == "Week")
    if not slots:
        st.info(
            f"Nothing on sale between {first.day} {first:%b} and {end.day} {end:%b %Y}: camps, "
            "parties and Ignite classes appear here as soon as the catalog has them."
        )
        # The API takes at most 400 days a call: look a year ahead for the next one.
        later = api.events(end, end + timedelta(days=365), kind)["events"]
        if later:
            upcoming = fmt.parse_instant(min(e["starts_at"] for e in later)).astimezone(tz)
            st.button(
                f"Go to the next events, {upcoming:%B %Y}",
                key="calendar-next",
                on_click=st.session_state.update,
                args=({DAY_KEY: upcoming.date()},),
            )
    clicked = calendar(
        events=view_of.entries(slots, tz),
        options=view_of.options(view, first, end, settings.timezone),
        custom_css=view_of.CSS,
        callbacks=["eventClick"],
        key=f"calendar-{view}-{first}-{end}-{kind}",
    )
    if clicked and clicked.get("callback") == "eventClick":
        # The component repeats its last value on every rerun: act on a new click only.
        click = clicked["eventClick"]["event"]["id"]
        if click != st.session_state.get("calendar-last-click"):
            st.session_state["calendar-last-click"] = st.session_state[ROSTER_KEY] = click

by_id = {s["id"]: s for s in slots}
labels = {
    s["id"]: f"{fmt.local_day(s['starts_at'], tz)} · {view_of.label(s, tz)} · {s['venue_name']}, "
    f"{s['room_name']}"
    for s in slots
}
if st.session_state.get(ROSTER_KEY) not in labels:
    st.session_state.pop(ROSTER_KEY, None)
chosen = st.selectbox(
    "Roster of", list(labels), index=None, format_func=labels.get, key=ROSTER_KEY,
    placeholder="click an event, or choose one",
)  # fmt: skip


def show_free_parties(slot: dict) -> None:
    """A day's party rooms nobody has booked yet."""
    st.subheader(f"Party rooms free, {fmt.local_day(slot['starts_at'], tz)}")
    ui.table(
        [{"at": view_of.start_time(s["starts_at"], tz), "title": s["title"],
          "venue": s["venue_name"], "room": s["room_name"]} for s in slot["free"]],
        {"at": "Starts", "title": "Party", "venue": "Venue", "room": "Room"},
    )  # fmt: skip


def show_roster(slot: dict) -> None:
    """The children of a camp day (both sessions) or of one event, to read, print or save."""
    if "free" in slot:
        show_free_parties(slot)
        return
    camp_day = slot["id"].startswith("campday:")
    if camp_day:
        _, product_id, on = slot["id"].split(":")
        answer = api.camp_day_roster(product_id, date.fromisoformat(on))
        booked, capacity = answer["camp"]["booked"], answer["camp"]["capacity"]
    elif slot["event_ids"]:
        answer = api.roster(slot["event_ids"][0])
        booked = answer["event"]["day_booked"]
        capacity = answer["event"]["day_capacity"]
    else:
        answer, booked, capacity = {"roster": []}, 0, slot["capacity"]
    when = (
        f"{fmt.local_day(slot['starts_at'], tz)}, {view_of.start_time(slot['starts_at'], tz)} to "
        f"{view_of.start_time(slot['ends_at'], tz)}"
    )
    place = f"{slot['venue_name']}, {slot['room_name']}"
    st.subheader(f"{slot['title']}, {when}")
    booked_field, left_field, place_field = st.columns([1, 1, 2])
    booked_field.metric("Booked", fmt.fill(booked, capacity))
    left_field.metric("Places left", max(0, (capacity or 0) - booked))
    place_field.metric("Where", slot["venue_name"], help=f"room: {slot['room_name']}")
    if slot["event_ids"]:  # an override is kept per camp day, party slot or class
        capacity_form(api, {"event_id": slot["event_ids"][0], "capacity": capacity})
    people = answer["roster"]
    if not people:
        st.info("Nobody is booked yet: children appear here as soon as their order is paid.")
        return
    message_forms(answer, people)
    table = roster.frame(people, with_session=camp_day)
    st.dataframe(
        table, hide_index=True, width="stretch",
        column_config={"Notes": st.column_config.TextColumn("Notes", width="large"),
                       "Age": st.column_config.NumberColumn("Age", width="small")},
    )  # fmt: skip
    noted = sum(1 for n in table["Notes"] if n)
    if noted:
        st.warning(f"{noted} child{'ren' if noted > 1 else ''} with notes (⚠): read them first.")
    if not roster.has_mobiles(people):
        st.caption("No mobile number given at checkout (—).")
    name = f"roster-{slot['id'].replace(':', '-')}"
    csv_button, print_button = st.columns(2)
    csv_button.download_button(
        "Download CSV", roster.csv(table), file_name=f"{name}.csv", mime="text/csv",
        key="calendar-roster-csv", icon=":material/download:",
    )  # fmt: skip
    printable = roster.print_page(
        f"{slot['title']}, {when}", f"{place} · booked {fmt.fill(booked, capacity)}", table
    )
    print_button.download_button(
        "Print view (open, then print)",
        printable,
        file_name=f"{name}.html",
        mime="text/html",
        key="calendar-roster-print",
        icon=":material/print:",
    )


def message_forms(answer: dict, people: list[dict]) -> None:
    """A "message every family" form per event shown: a camp day's two sessions each."""
    events = answer.get("events") or [answer["event"]]
    for event in events:
        families = {p["customer_email"] for p in people if p["status"] != "cancelled"
                    and p.get("event_id", event["event_id"]) == event["event_id"]}  # fmt: skip
        session_name = (event.get("slot_key") or "").rsplit(":", 1)[-1]
        label = roster.SESSIONS.get(session_name, "") if len(events) > 1 else ""
        roster_message_form(api, event["event_id"], len(families), label)


if chosen:
    with ui.section():
        show_roster(by_id[chosen])

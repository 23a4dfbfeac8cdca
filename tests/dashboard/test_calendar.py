"""Calendar page: every catalog slot with its day's fill, Australian formats, each view's range,
and a camp day's roster across both sessions, to download and print."""

from __future__ import annotations

import json
from datetime import date

from tests.dashboard.conftest import Seeded, no_trouble


def _component(at) -> dict:
    """The arguments passed to streamlit-calendar (a custom component: AppTest sees only
    what it was given)."""
    (component,) = at.get("component_instance")
    return json.loads(component.proto.json_args)


def _calendar_events(at) -> list[dict]:
    return _component(at)["events"]


def _camp_day(events: list[dict], day: str) -> dict:
    """The Robotics Bootcamp's entry on `day` (both sessions in one)."""
    (camp,) = [e for e in events if e["id"] == f"campday:summer-robotics:{day}"]
    return camp


def test_the_month_shows_every_camp_day_once_with_its_days_fill_time_and_room(
    dashboard, seeded: Seeded
):
    at = dashboard("calendar")
    at.date_input(key="calendar-month").set_value(date(2027, 1, 6)).run()

    no_trouble(at)
    events = _calendar_events(at)
    ada_and_bo = _camp_day(events, "2027-01-06")
    assert ada_and_bo["title"] == "9:00 Robotics Bootcamp 2/24 · The Workshop"
    assert ada_and_bo["start"] == "2027-01-06T09:00:00+11:00"
    # Cy all day and Di in the day session: one entry, the day's places counted once.
    both = _camp_day(events, seeded.both_sessions_day)
    assert both["title"] == "9:00 Robotics Bootcamp 2/24 · The Workshop"
    assert both["end"] == "2027-01-07T17:00:00+11:00"
    assert not [e for e in events if "1/24" in e["title"] and "2027-01-07" in e["start"]
                and e["extendedProps"]["kind"] == "camp" and "Robotics" in e["title"]]  # fmt: skip
    # A camp day nobody has booked is there too, at 0, shaded as empty.
    empty = _camp_day(events, "2027-01-08")
    assert "0/24" in empty["title"] and empty["classNames"] == ["fill-empty"]
    party = next(e for e in events if e["title"].startswith("10:00 Robot Rampage Party 1/1"))
    # A month shows a day's free party rooms as one count, not nine empty slots.
    free = next(e for e in events if e["id"] == "partyday:2027-01-16")
    assert free["title"] == "Party rooms free: 8"  # 3 times x 3 rooms, one of them Dee's
    assert party["backgroundColor"] != ada_and_bo["backgroundColor"]
    shown = [(e["title"], e["extendedProps"]["venue"], e["extendedProps"]["room"]) for e in events]
    assert "marrickville" not in json.dumps(shown)  # names, never raw ids
    assert ("TinkerTank Marrickville", "Party Room") in {s[1:] for s in shown}
    options = _component(at)["options"]
    assert options["locale"] == "en-au"
    assert options["views"]["timeGrid"]["dayHeaderFormat"]["month"] == "short"  # Mon 11 Jan
    assert options["height"] == "auto"


def test_the_week_view_shows_business_hours_and_the_list_shows_the_chosen_range(
    dashboard, seeded: Seeded
):
    at = dashboard("calendar")
    at.date_input(key="calendar-month").set_value(date(2027, 1, 6)).run()
    at.segmented_control(key="calendar-view").set_value("Week").run()

    no_trouble(at)
    options = _component(at)["options"]
    assert options["initialView"] == "timeGridWeek"
    assert (options["slotMinTime"], options["slotMaxTime"]) == ("08:00:00", "18:00:00")
    assert {e["start"][:10] for e in _calendar_events(at)} <= {
        f"2027-01-{d:02}" for d in range(4, 11)
    }

    at.segmented_control(key="calendar-view").set_value("List").run()
    at.date_input(key="calendar-until").set_value(date(2027, 2, 20)).run()

    no_trouble(at)
    options = _component(at)["options"]
    assert options["visibleRange"] == {"start": "2027-01-06", "end": "2027-02-21"}
    starts = {e["start"][:7] for e in _calendar_events(at)}
    assert starts == {"2027-01", "2027-02"}


def test_a_camp_days_roster_has_both_sessions_flags_notes_and_downloads(dashboard, seeded: Seeded):
    at = dashboard("calendar")
    at.date_input(key="calendar-month").set_value(date(2027, 1, 7)).run()

    at.selectbox(key="calendar-roster").select(
        f"campday:summer-robotics:{seeded.both_sessions_day}"
    ).run()

    no_trouble(at)
    roster = at.dataframe[0].value
    assert sorted(zip(roster["Child"], roster["Session"], strict=True)) == [
        ("Cy", "All-day session"),
        ("Di", "Day session"),
    ]
    assert set(roster["Notes"]) == {"⚠ nut allergy"}
    assert set(roster["Parent"]) == {"Cy Parent"}
    assert set(roster["Mobile"]) == {"—"}  # the slot for the parent's mobile
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Booked"] == "2/24"
    assert metrics["Places left"] == "22"
    assert metrics["Where"] == "TinkerTank Marrickville"
    assert any("with notes" in w.value for w in at.warning)
    downloads = at.get("download_button")
    assert len(downloads) == 2


def test_an_unbooked_slot_says_nobody_is_booked_yet(dashboard, seeded: Seeded):
    at = dashboard("calendar")
    at.date_input(key="calendar-month").set_value(date(2027, 1, 8)).run()

    at.selectbox(key="calendar-roster").select("campday:summer-robotics:2027-01-08").run()

    no_trouble(at)
    assert {m.label: m.value for m in at.metric}["Booked"] == "0/24"
    assert any("Nobody is booked yet" in i.value for i in at.info)


def test_an_empty_month_offers_to_go_to_the_next_events(dashboard, seeded: Seeded):
    at = dashboard("calendar")
    at.date_input(key="calendar-month").set_value(date(2026, 11, 26)).run()
    assert _calendar_events(at) == []
    assert any("appear here" in i.value for i in at.info)

    at.button(key="calendar-next").click().run()

    no_trouble(at)
    assert at.date_input(key="calendar-month").value.year == 2027
    assert _calendar_events(at)

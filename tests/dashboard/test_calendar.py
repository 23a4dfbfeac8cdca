"""Calendar page: the month's events handed to the calendar with their fill, and a roster."""

from __future__ import annotations

import json
from datetime import date

from tests.dashboard.conftest import Seeded, no_trouble


def _calendar_events(at) -> list[dict]:
    """The events passed to streamlit-calendar (a custom component: AppTest sees only the
    arguments it was given)."""
    (component,) = at.get("component_instance")
    return json.loads(component.proto.json_args)["events"]


def _camp_day(events: list[dict]) -> dict:
    """The Robotics Bootcamp day session of 6 January (Ada's and Bo's)."""
    (camp,) = [
        e for e in events
        if e["extendedProps"]["kind"] == "camp" and e["start"] == "2027-01-06T09:00:00+11:00"
    ]  # fmt: skip
    return camp


def test_the_month_shows_each_event_with_its_fill_and_a_colour_per_kind(dashboard, seeded: Seeded):
    at = dashboard("calendar")
    at.date_input(key="calendar-month").set_value(date(2027, 1, 6)).run()

    no_trouble(at)
    events = _calendar_events(at)
    camp = _camp_day(events)
    assert camp["title"].startswith("2/24 Robotics Bootcamp")  # Ada and Bo on 6 January
    assert camp["end"] == "2027-01-06T15:00:00+11:00"
    party = next(e for e in events if e["extendedProps"]["kind"] == "party")
    assert party["start"] == "2027-01-16T10:00:00+11:00"
    assert party["backgroundColor"] != camp["backgroundColor"]


def test_choosing_an_event_shows_its_roster(dashboard, seeded: Seeded):
    at = dashboard("calendar")
    at.date_input(key="calendar-month").set_value(date(2027, 1, 6)).run()
    camp = _camp_day(_calendar_events(at))

    at.selectbox(key="calendar-roster").select(camp["id"]).run()

    no_trouble(at)
    roster = at.dataframe[0].value
    assert sorted(roster["Student"]) == ["Ada", "Bo"]
    assert set(roster["Notes"]) == {"nut allergy"}
    assert {m.label: m.value for m in at.metric}["Booked"] == "2/24"


def test_an_empty_month_offers_to_go_to_the_next_events(dashboard, seeded: Seeded):
    at = dashboard("calendar")
    at.date_input(key="calendar-month").set_value(date(2026, 11, 26)).run()
    assert _calendar_events(at) == []

    at.button(key="calendar-next").click().run()

    no_trouble(at)
    assert at.date_input(key="calendar-month").value.year == 2027
    assert _calendar_events(at)

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


def test_the_month_shows_each_event_with_its_fill_and_a_colour_per_kind(dashboard, seeded: Seeded):
    at = dashboard("calendar")
    at.date_input(key="calendar-month").set_value(date(2027, 1, 6)).run()

    no_trouble(at)
    events = _calendar_events(at)
    titles = {e["title"] for e in events}
    assert "Robotics Bootcamp 2/24" in titles  # Ada and Bo on 6 January
    camp = next(e for e in events if e["title"] == "Robotics Bootcamp 2/24")
    assert camp["start"] == "2027-01-06T09:00:00+11:00"
    party = next(e for e in events if e["extendedProps"]["kind"] == "party")
    assert party["start"] == "2027-01-16T10:00:00+11:00"
    assert party["backgroundColor"] != camp["backgroundColor"]


def test_choosing_an_event_shows_its_roster(dashboard, seeded: Seeded):
    at = dashboard("calendar")
    at.date_input(key="calendar-month").set_value(date(2027, 1, 6)).run()
    camp = next(e for e in _calendar_events(at) if e["title"] == "Robotics Bootcamp 2/24")

    at.selectbox(key="calendar-roster").select(camp["id"]).run()

    no_trouble(at)
    roster = at.dataframe[0].value
    assert sorted(roster["Student"]) == ["Ada", "Bo"]
    assert set(roster["Notes"]) == {"nut allergy"}
    assert {m.label: m.value for m in at.metric}["Booked"] == "2/24"

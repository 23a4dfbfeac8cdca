"""Every slot the catalog sells in a range, booked or not, and a camp day's shared fill."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from core.calendar_slots import fill_key, place_names, planned_between, with_day_fill
from core.catalog_file import load_catalog

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "data" / "catalog.toml")


def test_a_camp_week_has_both_sessions_of_each_camp_day_and_nothing_on_the_weekend():
    planned = planned_between(CATALOG, date(2027, 1, 18), date(2027, 1, 25), "camp")

    keys = {p.slot_key for p in planned}
    assert "camp:summer-robotics:2027-01-18:day" in keys
    assert "camp:summer-robotics:2027-01-18:all_day" in keys
    per_day = Counter(p.local_date for p in planned)
    assert date(2027, 1, 23) not in per_day and date(2027, 1, 24) not in per_day
    assert len(keys) == len(planned)  # each slot once


def test_a_weekend_has_each_party_room_at_each_start_time_and_ranges_are_half_open():
    planned = planned_between(CATALOG, date(2027, 1, 16), date(2027, 1, 17), "party")

    # Robot Rampage in two rooms and Slime Lab in one, at three start times each.
    assert len(planned) == 9
    assert {p.local_date for p in planned} == {date(2027, 1, 16)}
    assert planned_between(CATALOG, date(2027, 1, 18), date(2027, 1, 18)) == []


def test_ignite_classes_are_planned_in_term_only():
    term = planned_between(CATALOG, date(2027, 2, 1), date(2027, 2, 8), "ignite")
    holidays = planned_between(CATALOG, date(2027, 1, 4), date(2027, 1, 11), "ignite")

    assert term and {p.kind for p in term} == {"ignite"}
    assert holidays == []


def test_a_camp_days_sessions_share_one_fill_and_other_slots_keep_their_own():
    events = [
        {"slot_key": "camp:robotics:2027-01-18:day", "booked": 10, "capacity": 24},
        {"slot_key": "camp:robotics:2027-01-18:all_day", "booked": 8, "capacity": 24},
        {"slot_key": "camp:robotics:2027-01-19:day", "booked": 1, "capacity": 24},
        {"slot_key": "party:marrickville:party-room:2027-01-16:10:00", "booked": 1, "capacity": 1},
    ]

    filled = with_day_fill(events)

    assert [e["day_booked"] for e in filled] == [18, 18, 1, 1]
    assert fill_key("camp:robotics:2027-01-18:all_day") == "camp:robotics:2027-01-18"
    assert fill_key("ignite:coding:2027-02-01") == "ignite:coding:2027-02-01"


def test_venue_and_room_names_come_from_the_catalog():
    assert place_names(CATALOG, "marrickville", "party-room") == (
        "TinkerTank Marrickville",
        "Party Room",
    )
    assert place_names(CATALOG, "gone", "room") == ("gone", "room")

"""Tests for core.schedule: catalog entries turned into dated, time-zoned calendar events.

The rules are tested against the small catalog below, so each test can be checked by hand
against a 2027 calendar; two tests at the end run over the shipped catalog.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from core.catalog import Catalog
from core.catalog_file import load_catalog, parse_catalog
from core.schedule import (
    PlannedEvent,
    ScheduleError,
    camp_event,
    ignite_class_dates,
    ignite_classes_in_period,
    ignite_events,
    ignite_recurrence,
    overlaps,
    party_event,
    party_room_candidates,
)
from core.slot_keys import camp_capacity_key, event_uid

SHIPPED_CATALOG = Path(__file__).resolve().parents[2] / "data" / "catalog.toml"
SYDNEY = ZoneInfo("Australia/Sydney")

CATALOG_TOML = """
timezone = "Australia/Sydney"
currency = "aud"
public_holidays = ["2027-01-26", "2027-03-29", "2027-06-14"]

[camp_sessions]
day = { start = "09:00", end = "15:00" }
all_day = { start = "09:00", end = "17:00" }

[[venues]]
id = "marrickville"
name = "TinkerTank Marrickville"
address = "1 Test Street, Marrickville NSW 2204"
rooms = [
  { id = "workshop", name = "The Workshop" },
  { id = "party-room", name = "Party Room" },
  { id = "code-studio", name = "Code Studio" },
]

[[terms]]
id = "2027-t1"
name = "Term 1 2027"
start = "2027-02-02"
end = "2027-04-09"

[[terms]]
id = "2027-t2"
name = "Term 2 2027"
start = "2027-04-27"
end = "2027-07-02"

[[camps]]
id = "summer-robotics"
name = "Summer Robotics Camp"
venue = "marrickville"
room = "workshop"
date_ranges = [["2027-01-11", "2027-01-15"], ["2027-01-25", "2027-01-29"]]
capacity = 24
prices = { day = 8900, all_day = 11900 }
min_age = 7
max_age = 12
description = "Build a robot."

[[parties]]
id = "robot-rampage-party"
name = "Robot Rampage Party"
venue = "marrickville"
rooms = ["party-room", "workshop"]
weekdays = ["saturday", "sunday"]
slots = ["10:00", "13:00", "15:30"]
duration_minutes = 120
price = 49500
max_guests = 16
first_date = "2027-01-02"
last_date = "2027-12-18"
description = "Battle robots."

[[ignite]]
id = "ignite-coding-monday"
name = "Ignite Coding (Monday)"
venue = "marrickville"
room = "code-studio"
weekday = "monday"
start = "15:45"
duration_minutes = 75
capacity = 14
terms = ["2027-t1", "2027-t2"]
excluded_dates = ["2027-03-01"]
stripe_price_id = "price_ignite_coding_monday"
price = 14900
billing_interval = "month"
min_age = 7
max_age = 12
description = "Weekly coding."

[[ignite]]
id = "ignite-makers-saturday"
name = "Ignite Makers (Saturday)"
venue = "marrickville"
room = "workshop"
weekday = "saturday"
start = "09:00"
duration_minutes = 90
capacity = 10
terms = ["2027-t1"]
stripe_price_id = "price_ignite_makers_saturday"
price = 3900
billing_interval = "week"
min_age = 6
max_age = 10
description = "Weekend making."
"""


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return parse_catalog(CATALOG_TOML)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def sydney(*args: int) -> datetime:
    return datetime(*args, tzinfo=SYDNEY)


# --- Camps ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("session", "ends_at"),
    [("day", utc(2027, 1, 12, 4, 0)), ("all_day", utc(2027, 1, 12, 6, 0))],
)
def test_a_january_camp_day_starts_at_22_00_utc_the_day_before_because_sydney_is_utc_plus_11(
    catalog, session, ends_at
):
    event = camp_event(catalog, "summer-robotics", date(2027, 1, 12), session)

    assert event.starts_at == utc(2027, 1, 11, 22, 0)
    assert event.ends_at == ends_at
    assert event.local_date == date(2027, 1, 12)
    assert event.starts_at.astimezone(SYDNEY).time() == time(9, 0)


def test_a_camp_event_carries_the_camps_room_capacity_title_slot_key_and_uid(catalog):
    event = camp_event(catalog, "summer-robotics", date(2027, 1, 12), "all_day")

    assert event == PlannedEvent(
        slot_key="camp:summer-robotics:2027-01-12:all_day",
        kind="camp",
        product_id="summer-robotics",
        title="Summer Robotics Camp — all-day session",
        venue_id="marrickville",
        room_id="workshop",
        local_date=date(2027, 1, 12),
        starts_at=utc(2027, 1, 11, 22, 0),
        ends_at=utc(2027, 1, 12, 6, 0),
        capacity=24,
        uid="camp.summer-robotics.20270112.all_day@tinkertank.com.au",
    )


def test_a_planned_event_gives_naive_utc_times_for_the_store(catalog):
    event = camp_event(catalog, "summer-robotics", date(2027, 1, 12), "day")

    assert event.starts_at_naive_utc == datetime(2027, 1, 11, 22, 0)
    assert event.ends_at_naive_utc == datetime(2027, 1, 12, 4, 0)
    assert event.starts_at_naive_utc.tzinfo is None


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (date(2027, 1, 26), "public holiday"),
        (date(2027, 1, 16), "Saturday"),
        (date(2027, 1, 20), "between 2027-01-11 and 2027-01-29"),
        (date(2027, 2, 1), "between 2027-01-11 and 2027-01-29"),
    ],
)
def test_a_camp_event_on_a_day_the_camp_does_not_run_is_refused_naming_the_date(
    catalog, day, reason
):
    with pytest.raises(ScheduleError) as caught:
        camp_event(catalog, "summer-robotics", day, "day")

    assert str(caught.value).startswith(f"{day} is not a day of camp summer-robotics")
    assert reason in str(caught.value)


def test_an_unknown_camp_session_is_refused_naming_the_date_and_the_sessions(catalog):
    with pytest.raises(ScheduleError, match=r"2027-01-12: unknown session 'half' .*day, all_day"):
        camp_event(catalog, "summer-robotics", date(2027, 1, 12), "half")


@pytest.mark.parametrize(
    ("product_id", "message"),
    [
        ("robot-rampage-party", "'robot-rampage-party' is a party, not a camp"),
        ("winter-robotics", "unknown camp 'winter-robotics'"),
    ],
)
def test_only_a_camp_in_the_catalog_can_be_scheduled_as_a_camp(catalog, product_id, message):
    with pytest.raises(ScheduleError, match=message):
        camp_event(catalog, product_id, date(2027, 1, 12), "day")


def test_a_datetime_is_refused_where_a_camp_day_is_expected(catalog):
    with pytest.raises(TypeError, match="expected a date"):
        camp_event(catalog, "summer-robotics", datetime(2027, 1, 12, 9, 0), "day")


def test_both_sessions_of_a_camp_day_share_one_capacity_key_but_are_separate_events(catalog):
    day = date(2027, 1, 12)

    school_hours = camp_event(catalog, "summer-robotics", day, "day")
    late_pickup = camp_event(catalog, "summer-robotics", day, "all_day")

    assert camp_capacity_key("summer-robotics", day) == "camp:summer-robotics:2027-01-12"
    assert school_hours.slot_key.startswith(camp_capacity_key("summer-robotics", day) + ":")
    assert late_pickup.slot_key.startswith(camp_capacity_key("summer-robotics", day) + ":")
    assert school_hours.slot_key != late_pickup.slot_key
    assert school_hours.uid != late_pickup.uid
    assert camp_capacity_key("summer-robotics", date(2027, 1, 13)) != camp_capacity_key(
        "summer-robotics", day
    )


# --- Parties -------------------------------------------------------------------------------------


def test_a_party_takes_its_room_for_120_minutes_from_the_slot(catalog):
    event = party_event(catalog, "robot-rampage-party", date(2027, 1, 9), time(13, 0), "workshop")

    assert event.starts_at == utc(2027, 1, 9, 2, 0)
    assert event.ends_at - event.starts_at == timedelta(minutes=120)
    assert event.slot_key == "party:marrickville:workshop:2027-01-09:13:00"
    assert event.uid == "party.marrickville.workshop.20270109.1300@tinkertank.com.au"
    assert (event.kind, event.title, event.room_id, event.capacity) == (
        "party",
        "Robot Rampage Party",
        "workshop",
        1,
    )


def test_the_same_party_slot_in_another_room_is_another_slot(catalog):
    day, start = date(2027, 1, 9), time(10, 0)

    party_room = party_event(catalog, "robot-rampage-party", day, start, "party-room")
    workshop = party_event(catalog, "robot-rampage-party", day, start, "workshop")

    assert party_room.slot_key != workshop.slot_key
    assert overlaps(party_room.starts_at, party_room.ends_at, workshop.starts_at, workshop.ends_at)


@pytest.mark.parametrize(
    ("day", "start", "room", "reason"),
    [
        (date(2027, 1, 11), time(10, 0), "workshop", "2027-01-11 is a Monday; it runs on Saturday"),
        (date(2027, 1, 9), time(11, 0), "workshop", "11:00 is not one of its start times"),
        (date(2026, 12, 26), time(10, 0), "workshop", "outside its booking window 2027-01-02"),
        (date(2027, 12, 19), time(10, 0), "workshop", "outside its booking window"),
        (date(2027, 1, 9), time(10, 0), "code-studio", "room 'code-studio' is not one of its"),
        (date(2027, 1, 9), time(10, 0), "ballroom", "room 'ballroom' is not one of its rooms"),
    ],
)
def test_a_party_the_package_does_not_allow_is_refused_saying_why(
    catalog, day, start, room, reason
):
    with pytest.raises(ScheduleError) as caught:
        party_event(catalog, "robot-rampage-party", day, start, room)

    assert str(caught.value).startswith(f"cannot book party robot-rampage-party on {day}")
    assert reason in str(caught.value)


def test_every_problem_with_a_party_request_is_reported_at_once(catalog):
    with pytest.raises(ScheduleError) as caught:
        party_event(catalog, "robot-rampage-party", date(2027, 1, 11), time(11, 0), "ballroom")

    assert str(caught.value).count(";") >= 2


def test_a_camp_cannot_be_booked_as_a_party(catalog):
    with pytest.raises(ScheduleError, match="'summer-robotics' is a camp, not a party"):
        party_event(catalog, "summer-robotics", date(2027, 1, 9), time(10, 0), "workshop")


def test_party_room_candidates_are_the_party_rooms_in_catalog_order(catalog):
    assert party_room_candidates(catalog, "robot-rampage-party") == ("party-room", "workshop")


A_START, A_END = utc(2027, 1, 9, 2, 0), utc(2027, 1, 9, 4, 0)


@pytest.mark.parametrize(
    ("b_start", "b_end", "expected"),
    [
        pytest.param(utc(2027, 1, 9, 4, 0), utc(2027, 1, 9, 6, 0), False, id="starts-as-a-ends"),
        pytest.param(utc(2027, 1, 9, 0, 0), utc(2027, 1, 9, 2, 0), False, id="ends-as-a-starts"),
        pytest.param(utc(2027, 1, 9, 5, 0), utc(2027, 1, 9, 6, 0), False, id="after"),
        pytest.param(utc(2027, 1, 9, 3, 59), utc(2027, 1, 9, 6, 0), True, id="one-minute-overlap"),
        pytest.param(utc(2027, 1, 9, 1, 0), utc(2027, 1, 9, 3, 0), True, id="overlaps-start"),
        pytest.param(utc(2027, 1, 9, 2, 30), utc(2027, 1, 9, 3, 0), True, id="inside"),
        pytest.param(utc(2027, 1, 9, 1, 0), utc(2027, 1, 9, 5, 0), True, id="around"),
        pytest.param(A_START, A_END, True, id="identical"),
    ],
)
def test_two_events_overlap_only_if_each_starts_before_the_other_ends(b_start, b_end, expected):
    assert overlaps(A_START, A_END, b_start, b_end) is expected
    assert overlaps(b_start, b_end, A_START, A_END) is expected


# --- Ignite --------------------------------------------------------------------------------------


def test_ignite_classes_fall_on_the_programs_weekday_within_its_terms(catalog):
    days = ignite_class_dates(catalog, "ignite-coding-monday")

    assert days == sorted(days)
    assert {day.weekday() for day in days} == {0}
    assert days[0] == date(2027, 2, 8)  # term 1 starts on Tuesday 2 February
    assert days[-1] == date(2027, 6, 28)
    assert all(
        date(2027, 2, 2) <= day <= date(2027, 4, 9) or date(2027, 4, 27) <= day <= date(2027, 7, 2)
        for day in days
    )
    assert len(days) == 15  # 9 + 9 Mondays in the terms, less three skipped


@pytest.mark.parametrize(
    "skipped",
    [
        pytest.param(date(2027, 3, 29), id="easter-monday"),
        pytest.param(date(2027, 6, 14), id="kings-birthday"),
        pytest.param(date(2027, 3, 1), id="excluded-date"),
        pytest.param(date(2027, 4, 12), id="school-holidays"),
    ],
)
def test_ignite_skips_public_holidays_excluded_dates_and_school_holidays(catalog, skipped):
    assert skipped not in ignite_class_dates(catalog, "ignite-coding-monday")
    assert skipped - timedelta(weeks=1) in ignite_class_dates(catalog, "ignite-coding-monday")


def test_an_ignite_class_keeps_15_45_sydney_time_when_daylight_saving_ends_in_april(catalog):
    # Term 1 spans Sunday 4 April, when Sydney's clocks go back from UTC+11 to UTC+10.
    before, after = ignite_events(
        catalog, "ignite-coding-monday", date(2027, 3, 22), date(2027, 4, 9)
    )

    assert (before.local_date, after.local_date) == (date(2027, 3, 22), date(2027, 4, 5))
    assert before.starts_at == utc(2027, 3, 22, 4, 45)
    assert after.starts_at == utc(2027, 4, 5, 5, 45)
    assert before.starts_at.astimezone(SYDNEY).time() == time(15, 45)
    assert after.starts_at.astimezone(SYDNEY).time() == time(15, 45)
    assert before.ends_at - before.starts_at == after.ends_at - after.starts_at


def test_a_saturday_class_on_the_last_day_of_daylight_saving_is_still_at_utc_plus_11(catalog):
    # Sydney's clocks go back at 03:00 on Sunday 4 April 2027, the day after this class.
    (event,) = ignite_events(catalog, "ignite-makers-saturday", date(2027, 4, 3), date(2027, 4, 3))

    assert event.starts_at == utc(2027, 4, 2, 22, 0)


def test_ignite_events_are_the_class_dates_as_events_limited_to_the_dates_asked_for(catalog):
    events = ignite_events(catalog, "ignite-coding-monday", start=date(2027, 5, 1))

    assert [event.local_date for event in events] == [
        day
        for day in ignite_class_dates(catalog, "ignite-coding-monday")
        if day >= date(2027, 5, 1)
    ]
    assert events[0].slot_key == "ignite:ignite-coding-monday:2027-05-03"
    assert events[0].uid == "ignite.ignite-coding-monday.20270503@tinkertank.com.au"
    assert (events[0].kind, events[0].title, events[0].room_id, events[0].capacity) == (
        "ignite",
        "Ignite Coding (Monday)",
        "code-studio",
        14,
    )


@pytest.mark.parametrize(
    ("period_start", "period_end", "expected"),
    [
        pytest.param(
            sydney(2027, 3, 1),
            sydney(2027, 4, 1),
            [date(2027, 3, 8), date(2027, 3, 15), date(2027, 3, 22)],
            id="march-in-sydney",
        ),
        pytest.param(
            utc(2027, 3, 15, 4, 45),
            utc(2027, 3, 22, 4, 45),
            [date(2027, 3, 15)],
            id="start-is-inclusive-end-is-not",
        ),
        pytest.param(sydney(2027, 4, 10), sydney(2027, 5, 1), [], id="school-holidays"),
    ],
)
def test_ignite_classes_in_period_are_those_starting_in_the_invoice_period(
    catalog, period_start, period_end, expected
):
    classes = ignite_classes_in_period(catalog, "ignite-coding-monday", period_start, period_end)

    assert [event.local_date for event in classes] == expected


def test_ignite_classes_in_period_refuses_naive_datetimes(catalog):
    with pytest.raises(ValueError, match="timezone-aware"):
        ignite_classes_in_period(
            catalog, "ignite-coding-monday", datetime(2027, 3, 1), datetime(2027, 4, 1)
        )


def test_an_ignite_term_recurrence_starts_at_the_first_class_and_ends_with_the_term_in_utc(
    catalog,
):
    recurrence = ignite_recurrence(catalog, "ignite-coding-monday", "2027-t1")

    assert recurrence == {
        "dtstart": sydney(2027, 2, 8, 15, 45),
        # The term's last local second, 23:59:59 AEST on 9 April, written in UTC.
        "rrule": "FREQ=WEEKLY;BYDAY=MO;UNTIL=20270409T135959Z",
        "exdates": [sydney(2027, 3, 1, 15, 45), sydney(2027, 3, 29, 15, 45)],
        "duration_minutes": 75,
        "timezone": "Australia/Sydney",
    }


@pytest.mark.parametrize(
    ("program_id", "term_id", "term_start", "term_end"),
    [
        ("ignite-coding-monday", "2027-t1", date(2027, 2, 2), date(2027, 4, 9)),
        ("ignite-coding-monday", "2027-t2", date(2027, 4, 27), date(2027, 7, 2)),
        # Term 1 ends on a Friday: the Saturday after must not creep into the rule.
        ("ignite-makers-saturday", "2027-t1", date(2027, 2, 2), date(2027, 4, 9)),
    ],
)
def test_an_ignite_recurrence_expands_to_exactly_the_terms_class_events(
    catalog, program_id, term_id, term_start, term_end
):
    recurrence = ignite_recurrence(catalog, program_id, term_id)

    rule = rrulestr(recurrence["rrule"], dtstart=recurrence["dtstart"])
    expanded = [start for start in rule if start not in recurrence["exdates"]]

    events = ignite_events(catalog, program_id, term_start, term_end)
    assert [start.astimezone(UTC) for start in expanded] == [event.starts_at for event in events]


def test_an_ignite_recurrence_for_a_term_the_program_does_not_run_in_is_refused(catalog):
    with pytest.raises(ScheduleError, match="does not run in term '2027-t2'"):
        ignite_recurrence(catalog, "ignite-makers-saturday", "2027-t2")


def test_an_ignite_term_with_every_class_skipped_has_no_recurrence():
    every_monday_of_a_short_term = CATALOG_TOML.replace(
        'excluded_dates = ["2027-03-01"]',
        'excluded_dates = ["2027-02-08", "2027-02-15"]',
    ).replace('end = "2027-04-09"', 'end = "2027-02-19"')
    catalog = parse_catalog(every_monday_of_a_short_term)

    with pytest.raises(ScheduleError, match="no classes in term 2027-t1"):
        ignite_recurrence(catalog, "ignite-coding-monday", "2027-t1")


# --- UIDs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slot_key", "uid"),
    [
        (
            "camp:summer-robotics:2027-01-12:day",
            "camp.summer-robotics.20270112.day@tinkertank.com.au",
        ),
        (
            "party:marrickville:party-room:2027-01-09:15:30",
            "party.marrickville.party-room.20270109.1530@tinkertank.com.au",
        ),
        (
            "ignite:ignite-coding-monday:2027-06-21",
            "ignite.ignite-coding-monday.20270621@tinkertank.com.au",
        ),
    ],
)
def test_an_event_uid_is_a_fixed_readable_function_of_the_slot_key(slot_key, uid):
    assert event_uid(slot_key) == uid
    assert event_uid(slot_key) == event_uid(slot_key)


def test_party_uids_differ_even_when_venue_and_room_ids_split_the_same_dashes():
    assert event_uid("party:north-west:hall:2027-01-09:10:00") != event_uid(
        "party:north:west-hall:2027-01-09:10:00"
    )


@pytest.mark.parametrize(
    "slot_key",
    ["party:ord_123", "camp:summer-robotics:2027-01-12:half", "ignite:x:12/01/2027", "event:1"],
)
def test_a_string_that_is_not_a_slot_key_has_no_uid(slot_key):
    with pytest.raises(ValueError, match="is not a camp, party or Ignite slot key"):
        event_uid(slot_key)


# --- The shipped catalog -------------------------------------------------------------------------


def every_event(catalog: Catalog) -> list[PlannedEvent]:
    """Every event the catalog can produce: each camp session, party slot and room, class."""
    events = [
        camp_event(catalog, camp.id, day, session)
        for camp in catalog.camps
        for day in camp.dates
        for session in catalog.camp_sessions
    ]
    for party in catalog.parties:
        days = (
            party.first_date + timedelta(days=n)
            for n in range((party.last_date - party.first_date).days + 1)
        )
        events += [
            party_event(catalog, party.id, day, start, room)
            for day in days
            if day.weekday() in party.weekdays
            for start in party.slots
            for room in party.rooms
        ]
    for program in catalog.ignite:
        events += ignite_events(catalog, program.id)
    return events


def test_every_event_in_the_shipped_catalog_has_a_unique_slot_key_and_uid():
    events = every_event(load_catalog(SHIPPED_CATALOG))

    assert {event.kind for event in events} == {"camp", "party", "ignite"}
    assert len({event.slot_key for event in events}) == len(events)
    assert len({event.uid for event in events}) == len(events)
    assert all(event.uid == event_uid(event.slot_key) for event in events)
    assert all(
        set(event.uid) <= set("abcdefghijklmnopqrstuvwxyz0123456789-._@") for event in events
    )
    assert all(event.starts_at < event.ends_at for event in events)


def test_the_shipped_monday_coding_class_runs_every_term_monday_but_holidays():
    catalog = load_catalog(SHIPPED_CATALOG)

    events = ignite_events(catalog, "ignite-coding-monday")

    assert date(2027, 6, 14) not in [event.local_date for event in events]  # King's Birthday
    assert {event.starts_at.astimezone(SYDNEY).time() for event in events} == {time(15, 45)}
    assert {event.starts_at.time() for event in events} == {time(4, 45), time(5, 45)}
    assert all(
        ignite_recurrence(catalog, "ignite-coding-monday", term)["dtstart"].weekday() == 0
        for term in ("2027-t1", "2027-t2", "2027-t3", "2027-t4")
    )

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from core.catalog_file import load_catalog
from core.messages.invites import (
    InviteEvent,
    Mailbox,
    calendar_method,
    itip_messages,
    order_invites,
    render_calendar,
    series_ending,
)
from core.schedule import camp_event, ignite_class_dates, ignite_series
from tests.conftest import REPO

CATALOG = load_catalog(REPO / "data" / "catalog.toml")
TZ = CATALOG.tz
NOW = datetime(2026, 12, 1, tzinfo=UTC)
ORGANIZER = Mailbox("hello@tinkertank.example", "TinkerTank")
PARENT = Mailbox("jane@example.com", "Jane Citizen")


def _camp_invite(**overrides) -> InviteEvent:
    planned = camp_event(CATALOG, "summer-robotics", date(2027, 1, 5), "day")
    fields = dict(uid=planned.uid, sequence=0, title=planned.title, start=planned.starts_at,
                  end=planned.ends_at, location="TinkerTank Marrickville")  # fmt: skip
    fields.update(overrides)
    return InviteEvent(**fields)


def _series_invite(program_id: str) -> InviteEvent:
    series = ignite_series(CATALOG, program_id)
    return InviteEvent(
        uid=f"ignite.{program_id}@tinkertank.com.au",
        sequence=0,
        title="Ignite",
        start=series["dtstart"],
        end=series["dtstart"] + timedelta(minutes=series["duration_minutes"]),
        location="Marrickville",
        rrule=series["rrule"],
        exdates=tuple(series["exdates"]),
    )


def _occurrences(ics: bytes, start: date, end: date) -> list:
    calendar = icalendar.Calendar.from_ical(ics)
    return recurring_ical_events.of(calendar).between(start, end)


def test_a_camp_day_reads_back_at_9_to_3_sydney_time_with_its_uid():
    ics = render_calendar([_camp_invite()], TZ, NOW)

    (event,) = _occurrences(ics, date(2027, 1, 1), date(2027, 2, 1))

    assert event["DTSTART"].dt == datetime(2027, 1, 5, 9, 0, tzinfo=TZ)
    assert event["DTEND"].dt == datetime(2027, 1, 5, 15, 0, tzinfo=TZ)
    assert event["DTSTART"].params["TZID"] == "Australia/Sydney"
    assert str(event["UID"]) == "camp.summer-robotics.20270105.day@tinkertank.com.au"
    assert b"BEGIN:VTIMEZONE" in ics


def test_a_weekly_series_expands_to_the_class_dates_at_15_45_across_daylight_saving():
    program = "ignite-coding-monday"
    ics = render_calendar([_series_invite(program)], TZ, NOW)

    occurrences = _occurrences(ics, date(2027, 1, 1), date(2028, 1, 1))

    assert [o["DTSTART"].dt.date() for o in occurrences] == ignite_class_dates(CATALOG, program)
    assert {o["DTSTART"].dt.astimezone(TZ).time().isoformat() for o in occurrences} == {"15:45:00"}
    offsets = {o["DTSTART"].dt.utcoffset() for o in occurrences}
    assert offsets == {timedelta(hours=10), timedelta(hours=11)}  # AEST and AEDT both occur


def test_a_cancellation_keeps_the_uid_with_a_higher_sequence():
    first = icalendar.Calendar.from_ical(render_calendar([_camp_invite()], TZ, NOW))
    cancelled = icalendar.Calendar.from_ical(
        render_calendar(
            [_camp_invite(sequence=1, cancelled=True)], TZ, NOW, "CANCEL", ORGANIZER, PARENT
        )
    )

    (before,), (after,) = first.walk("VEVENT"), cancelled.walk("VEVENT")
    assert before["UID"] == after["UID"]
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after["STATUS"] == "CANCELLED"
    assert cancelled["METHOD"] == "CANCEL"


# --- cancellations -------------------------------------------------------------------------


def _series_row(ended: bool, ended_at: datetime | None, sequence: int = 1) -> tuple:
    series = ignite_series(CATALOG, "ignite-coding-monday")
    first = series["dtstart"].replace(tzinfo=None)
    excluded = json.dumps([d.date().isoformat() for d in series["exdates"]])
    return ("ignite.coding@tinkertank.com.au", sequence, "ignite-coding-monday", series["rrule"],
            first, series["duration_minutes"], excluded, ended, ended_at)  # fmt: skip


def test_a_series_ended_mid_term_keeps_the_classes_held_and_drops_the_rest():
    ended_at = datetime(2027, 3, 10, 1, 0)  # naive UTC, a Wednesday: Monday 8 March was held
    (invite,) = order_invites({"events": [], "series": [_series_row(True, ended_at)]}, CATALOG)
    ics = render_calendar([invite], TZ, NOW, calendar_method([invite]))

    classes = _occurrences(ics, date(2027, 1, 1), date(2027, 12, 31))

    assert not invite.cancelled and calendar_method([invite]) == "PUBLISH"
    assert classes[-1]["DTSTART"].dt == datetime(2027, 3, 8, 15, 45, tzinfo=TZ)
    assert len(classes) == len([d for d in ignite_class_dates(CATALOG, "ignite-coding-monday")
                                if d <= date(2027, 3, 8)])  # fmt: skip


def test_a_series_ended_before_its_first_class_is_cancelled_whole():
    ended_at = datetime(2026, 11, 26, 1, 0)
    (invite,) = order_invites({"events": [], "series": [_series_row(True, ended_at)]}, CATALOG)

    assert invite.cancelled
    assert calendar_method([invite]) == "CANCEL"
    assert b"STATUS:CANCELLED" in render_calendar([invite], TZ, NOW, "CANCEL", ORGANIZER, PARENT)


def test_ending_a_series_never_moves_its_until_later():
    rule = "FREQ=WEEKLY;BYDAY=MO;UNTIL=20270405T125959Z"

    assert series_ending(rule, datetime(2027, 3, 1, tzinfo=UTC)).endswith("UNTIL=20270301T000000Z")
    assert series_ending(rule, datetime(2028, 1, 1, tzinfo=UTC)) == rule


def test_a_file_with_anything_still_on_is_not_a_cancel():
    assert calendar_method([_camp_invite(cancelled=True), _camp_invite()]) == "PUBLISH"
    assert calendar_method([]) == "PUBLISH"


def _wall_clock_hours(tz: ZoneInfo, years: int) -> list[datetime]:
    """Every hour from 2027 on that the zone's clocks show once (not skipped or repeated by a
    clock change: what those mean is a convention, and no event is put there)."""
    hours = [datetime(2027, 1, 1) + timedelta(hours=n) for n in range(years * 365 * 24)]
    return [
        hour
        for hour in hours
        if hour.replace(tzinfo=tz, fold=0).utcoffset()
        == hour.replace(tzinfo=tz, fold=1).utcoffset()
    ]


def test_the_vtimezone_is_one_standard_and_one_daylight_rule_that_gives_sydneys_offsets():
    ics = render_calendar([_camp_invite()], TZ, NOW)
    (vtimezone,) = icalendar.Calendar.from_ical(ics).walk("VTIMEZONE")
    from_file = vtimezone.to_tz(lookup_tzid=False)  # built from the VTIMEZONE, not by its name

    assert [c.name for c in vtimezone.subcomponents] == ["STANDARD", "DAYLIGHT"]
    assert [str(c["RRULE"].to_ical().decode()) for c in vtimezone.subcomponents] == [
        "FREQ=YEARLY;BYDAY=1SU;BYMONTH=4",
        "FREQ=YEARLY;BYDAY=1SU;BYMONTH=10",
    ]
    assert "RDATE" not in ics.decode()
    # Event times are written as local wall-clock times: read every hour of five years, and
    # so both clock changes of each, both ways.
    hours = _wall_clock_hours(TZ, years=5)
    assert [hour.replace(tzinfo=from_file).utcoffset() for hour in hours] == [
        hour.replace(tzinfo=TZ).utcoffset() for hour in hours
    ]


@pytest.mark.parametrize(
    "zone", ["Europe/London", "America/New_York", "Australia/Lord_Howe", "Australia/Brisbane"]
)
def test_other_zones_get_rules_that_match_the_zoneinfo_database(zone: str):
    tz = ZoneInfo(zone)
    ics = render_calendar([_camp_invite()], tz, NOW)
    (vtimezone,) = icalendar.Calendar.from_ical(ics).walk("VTIMEZONE")
    from_file = vtimezone.to_tz(lookup_tzid=False)

    assert "RDATE" not in ics.decode()
    hours = _wall_clock_hours(tz, years=2)
    assert [hour.replace(tzinfo=from_file).utcoffset() for hour in hours] == [
        hour.replace(tzinfo=tz).utcoffset() for hour in hours
    ]


def test_a_zone_without_a_yearly_rule_gets_every_clock_change_one_a_line():
    tz = ZoneInfo("Africa/Casablanca")  # Ramadan moves its changes every year
    ics = render_calendar([_camp_invite()], tz, NOW)

    rdates = [line for line in ics.decode().splitlines() if line.startswith("RDATE")]
    assert rdates
    assert not [line for line in rdates if "," in line]


def test_an_itip_message_names_the_business_as_organizer_and_the_parent_as_attendee():
    ics = render_calendar([_camp_invite()], TZ, NOW, "REQUEST", ORGANIZER, PARENT)

    calendar = icalendar.Calendar.from_ical(ics)
    (event,) = calendar.walk("VEVENT")
    assert calendar["METHOD"] == "REQUEST"
    assert event["ORGANIZER"] == "mailto:hello@tinkertank.example"
    assert event["ORGANIZER"].params["CN"] == "TinkerTank"
    assert event["ATTENDEE"] == "mailto:jane@example.com"
    assert dict(event["ATTENDEE"].params) == {
        "CN": "Jane Citizen", "CUTYPE": "INDIVIDUAL", "ROLE": "REQ-PARTICIPANT",
        "PARTSTAT": "ACCEPTED", "RSVP": "FALSE"}  # fmt: skip


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
def test_an_itip_message_without_an_organizer_is_refused(method: str):
    with pytest.raises(ValueError, match="organizer"):
        render_calendar([_camp_invite()], TZ, NOW, method)


def test_cancelling_one_siblings_place_cancels_only_that_childs_uid():
    mia = _camp_invite(uid="booking.bk_mia@tinkertank.com.au", title="Camp (Mia)")
    leo = _camp_invite(uid="booking.bk_leo@tinkertank.com.au", title="Camp (Leo)",
                       sequence=1, cancelled=True)  # fmt: skip

    [(method, events)] = itip_messages([mia, leo], cancelling=True)
    ics = render_calendar(events, TZ, NOW, method, ORGANIZER, PARENT)

    (cancelled,) = icalendar.Calendar.from_ical(ics).walk("VEVENT")
    assert (method, str(cancelled["UID"])) == ("CANCEL", "booking.bk_leo@tinkertank.com.au")
    assert itip_messages([mia, leo], cancelling=False) == [("REQUEST", [mia])]


def test_a_series_cut_short_is_sent_again_as_a_request_beside_the_cancel():
    ended_at = datetime(2027, 3, 1, 1, 0)
    (series,) = order_invites({"events": [], "series": [_series_row(True, ended_at)]}, CATALOG)
    camp = _camp_invite(sequence=1, cancelled=True)

    assert series.ended_early and not series.cancelled
    assert itip_messages([camp, series], cancelling=True) == [
        ("CANCEL", [camp]), ("REQUEST", [series])]  # fmt: skip

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import icalendar
import recurring_ical_events

from core.catalog_file import load_catalog
from core.messages.invites import (
    InviteEvent,
    calendar_method,
    order_invites,
    render_calendar,
    series_ending,
)
from core.schedule import camp_event, ignite_class_dates, ignite_series
from tests.conftest import REPO

CATALOG = load_catalog(REPO / "data" / "catalog.toml")
TZ = CATALOG.tz
NOW = datetime(2026, 12, 1, tzinfo=UTC)


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
        render_calendar([_camp_invite(sequence=1, cancelled=True)], TZ, NOW, method="CANCEL")
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
    assert b"STATUS:CANCELLED" in render_calendar([invite], TZ, NOW, "CANCEL")


def test_ending_a_series_never_moves_its_until_later():
    rule = "FREQ=WEEKLY;BYDAY=MO;UNTIL=20270405T125959Z"

    assert series_ending(rule, datetime(2027, 3, 1, tzinfo=UTC)).endswith("UNTIL=20270301T000000Z")
    assert series_ending(rule, datetime(2028, 1, 1, tzinfo=UTC)) == rule


def test_a_file_with_anything_still_on_is_not_a_cancel():
    assert calendar_method([_camp_invite(cancelled=True), _camp_invite()]) == "PUBLISH"
    assert calendar_method([]) == "PUBLISH"


def test_the_vtimezone_alone_gives_sydneys_offsets_one_clock_change_a_line():
    ics = render_calendar([_camp_invite()], TZ, NOW)
    (vtimezone,) = icalendar.Calendar.from_ical(ics).walk("VTIMEZONE")
    from_file = vtimezone.to_tz(lookup_tzid=False)  # built from the VTIMEZONE, not by its name

    # Event times are written as local wall-clock times: read each noon of 2027 both ways.
    noons = [datetime(2027, 1, 1, 12) + timedelta(days=n) for n in range(365)]
    assert [noon.replace(tzinfo=from_file).utcoffset() for noon in noons] == [
        noon.replace(tzinfo=TZ).utcoffset() for noon in noons
    ]
    # ical.js reads only the first value of an RDATE (tests/core/messages/test_invites_icaljs.py).
    rdates = [line for line in ics.decode().splitlines() if line.startswith("RDATE")]
    assert len(rdates) > 100
    assert not [line for line in rdates if "," in line]

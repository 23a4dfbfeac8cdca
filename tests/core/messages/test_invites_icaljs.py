"""Invites read by three independent parsers: ical.js (Thunderbird's), `icalendar` with
`recurring-ical-events`, and the times the catalog says.

ical.js runs under Node (tests/js/expand_ics.mjs, installed by `make test` with `npm ci`). It
takes its time zone from the file's VTIMEZONE, where the Python readers take it from the TZID's
name, so it also checks the VTIMEZONE we write.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path

import icalendar
import pytest
import recurring_ical_events

from core.catalog_file import load_catalog
from core.messages.invites import Mailbox, order_invites, render_calendar
from core.schedule import (
    PlannedEvent,
    camp_event,
    ignite_class_dates,
    ignite_events,
    ignite_series,
    party_event,
)
from tests.conftest import REPO

CATALOG = load_catalog(REPO / "data" / "catalog.toml")
TZ = CATALOG.tz
NOW = datetime(2026, 12, 1, tzinfo=UTC)
SCRIPT = REPO / "tests" / "js" / "expand_ics.mjs"
ICAL_JS = REPO / "tests" / "js" / "node_modules" / "ical.js"
DST_ENDS = date(2027, 4, 4)  # Sydney leaves daylight saving on the first Sunday of April

# One occurrence as every reader reports it: UTC start and end, then Sydney wall-clock times.
Occurrence = tuple[datetime, datetime, datetime, datetime]


@pytest.fixture(scope="module")
def node() -> str:
    node = shutil.which("node")
    if node is None or not ICAL_JS.is_dir():
        pytest.fail(
            "these tests read invites with ical.js under Node: install Node and npm "
            "(apt-get install nodejs npm), then `make test` (or `npm ci --prefix tests/js`)"
        )
    return node


# --- The three readers ---------------------------------------------------------------------------


def read_with_icaljs(node: str, ics: bytes, tmp_path: Path) -> dict:
    path = tmp_path / "invite.ics"
    path.write_bytes(ics)
    result = subprocess.run(
        [node, str(SCRIPT), str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def icaljs_occurrences(reading: dict) -> dict[str, list[Occurrence]]:
    return {
        event["uid"]: [
            (
                datetime.fromisoformat(o["start_utc"]),
                datetime.fromisoformat(o["end_utc"]),
                datetime.fromisoformat(o["start_local"]),
                datetime.fromisoformat(o["end_local"]),
            )
            for o in event["occurrences"]
        ]
        for event in reading["events"]
    }


def python_occurrences(ics: bytes) -> dict[str, list[Occurrence]]:
    calendar = icalendar.Calendar.from_ical(ics)
    found: dict[str, list[Occurrence]] = {}
    for event in recurring_ical_events.of(calendar).between(date(2026, 1, 1), date(2029, 1, 1)):
        start, end = event["DTSTART"].dt, event["DTEND"].dt
        found.setdefault(str(event["UID"]), []).append(
            (start.astimezone(UTC), end.astimezone(UTC), _wall_clock(start), _wall_clock(end))
        )
    return found


def catalog_occurrences(events: list[PlannedEvent]) -> dict[str, list[Occurrence]]:
    """What the catalog says, through core.schedule: the times every reader must show."""
    found: dict[str, list[Occurrence]] = {}
    for event in events:
        found.setdefault(event.uid, []).append(_occurrence(event.starts_at, event.ends_at))
    return found


def ignite_occurrences(program_id: str) -> dict[str, list[Occurrence]]:
    """The program's classes, each under the UID of the program's weekly series."""
    classes = ignite_events(CATALOG, program_id)
    return {_series_uid(program_id): [_occurrence(c.starts_at, c.ends_at) for c in classes]}


def _occurrence(start: datetime, end: datetime) -> Occurrence:
    return start.astimezone(UTC), end.astimezone(UTC), _wall_clock(start), _wall_clock(end)


def _wall_clock(moment: datetime) -> datetime:
    return moment.astimezone(TZ).replace(tzinfo=None)


# --- Invites as the store hands them to core.messages.invites.order_invites ---


def _series_uid(program_id: str) -> str:
    return f"ignite.{program_id}@tinkertank.com.au"


def _event_row(event: PlannedEvent, sequence: int = 0, cancelled: bool = False) -> tuple:
    """A row of `calendar_rows(...)["events"]`."""
    return (event.uid, sequence, event.title, event.starts_at_naive_utc, event.ends_at_naive_utc,
            event.venue_id, cancelled)  # fmt: skip


def _series_row(program_id: str, sequence: int = 0, ended: bool = False) -> tuple:
    """A row of `calendar_rows(...)["series"]`, as `sync_templates` stores the template;
    an ended one ended before its first class (so it is cancelled whole)."""
    series = ignite_series(CATALOG, program_id)
    excluded = json.dumps([day.date().isoformat() for day in series["exdates"]])
    return (_series_uid(program_id), sequence, program_id, series["rrule"],
            series["dtstart"].replace(tzinfo=None), series["duration_minutes"], excluded,
            ended, datetime(2026, 11, 1) if ended else None)  # fmt: skip


def render(
    events: Sequence[tuple] = (), series: Sequence[tuple] = (), method: str = "PUBLISH"
) -> bytes:
    rows = {"order_id": "ord_test", "events": list(events), "series": list(series)}
    parties = (
        (Mailbox("hello@tinkertank.example", "TinkerTank"), Mailbox("jane@example.com"))
        if method != "PUBLISH"
        else (None, None)
    )
    return render_calendar(order_invites(rows, CATALOG), TZ, NOW, method, *parties)


# --- Tests ---------------------------------------------------------------------------------------


def test_a_camp_days_two_sessions_read_the_same_in_all_three(node, tmp_path):
    day = date(2027, 1, 5)
    sessions = [camp_event(CATALOG, "summer-robotics", day, kind) for kind in ("day", "all_day")]
    ics = render(events=[_event_row(s) for s in sessions])

    reading = read_with_icaljs(node, ics, tmp_path)

    expected = catalog_occurrences(sessions)
    assert icaljs_occurrences(reading) == python_occurrences(ics) == expected
    by_uid = {event["uid"]: event for event in reading["events"]}
    day_session = by_uid["camp.summer-robotics.20270105.day@tinkertank.com.au"]
    assert day_session["occurrences"] == [
        {"start_utc": "2027-01-04T22:00:00.000Z", "end_utc": "2027-01-05T04:00:00.000Z",
         "start_local": "2027-01-05T09:00:00", "end_local": "2027-01-05T15:00:00"}
    ]  # fmt: skip
    all_day = by_uid["camp.summer-robotics.20270105.all_day@tinkertank.com.au"]
    assert all_day["occurrences"][0]["end_local"] == "2027-01-05T17:00:00"
    assert (reading["method"], reading["timezones"]) == ("PUBLISH", ["Australia/Sydney"])
    assert {(e["summary"], e["sequence"], e["status"], e["tzid"]) for e in reading["events"]} == {
        ("Robotics Bootcamp — day session", 0, "CONFIRMED", "Australia/Sydney"),
        ("Robotics Bootcamp — all-day session", 0, "CONFIRMED", "Australia/Sydney"),
    }
    assert day_session["location"] == (
        "TinkerTank Marrickville, Unit 3, 48 Farr Street, Marrickville NSW 2204"
    )


def test_every_camp_day_and_every_party_slot_round_both_clock_changes_read_right_in_all_three(
    node, tmp_path
):
    """Every camp day and session of the catalog, and every party slot in every room on the
    weekends either side of Sydney's two clock changes of 2027 (4 April, 3 October), at the
    instant the zoneinfo database gives, read by the VTIMEZONE we write (ical.js) and by
    the TZID's name (the Python readers)."""
    camps = [
        camp_event(CATALOG, camp.id, day, session)
        for camp in CATALOG.camps
        for day in camp.dates
        for session in camp.prices
    ]
    weekends = [date(2027, 3, 27), date(2027, 3, 28), DST_ENDS, date(2027, 4, 10),
                date(2027, 9, 25), date(2027, 9, 26), date(2027, 10, 2), date(2027, 10, 3),
                date(2027, 10, 9), date(2027, 10, 10)]  # fmt: skip
    parties = [
        party_event(CATALOG, party.id, day, slot, room)
        for party in CATALOG.parties
        for day in weekends
        if day.weekday() in party.weekdays
        for slot in party.slots
        for room in party.rooms
    ]
    assert camps and parties
    ics = render(events=[_event_row(event) for event in camps + parties])

    reading = read_with_icaljs(node, ics, tmp_path)

    expected = catalog_occurrences(camps + parties)
    assert icaljs_occurrences(reading) == python_occurrences(ics) == expected
    for uid, [(start_utc, _, start_local, _)] in expected.items():
        zone = start_local.replace(tzinfo=TZ)
        assert start_utc == zone.astimezone(UTC), uid  # the IANA database's instant


def test_a_party_on_the_day_daylight_saving_ends_reads_at_its_slot_in_all_three(node, tmp_path):
    party = party_event(CATALOG, "robot-rampage-party", DST_ENDS, time(10, 0), "party-room")
    ics = render(events=[_event_row(party)])

    reading = read_with_icaljs(node, ics, tmp_path)

    assert icaljs_occurrences(reading) == python_occurrences(ics) == catalog_occurrences([party])
    (event,) = reading["events"]
    assert event["uid"] == "party.marrickville.party-room.20270404.1000@tinkertank.com.au"
    assert event["summary"] == "Robot Rampage Party"
    # The clocks went back at 03:00 that morning: 10:00 is standard time, UTC+10.
    assert event["occurrences"] == [
        {"start_utc": "2027-04-04T00:00:00.000Z", "end_utc": "2027-04-04T02:00:00.000Z",
         "start_local": "2027-04-04T10:00:00", "end_local": "2027-04-04T12:00:00"}
    ]  # fmt: skip


@pytest.mark.parametrize("program_id", [program.id for program in CATALOG.ignite])
def test_an_ignite_series_expands_to_the_catalogs_classes_in_all_three(node, tmp_path, program_id):
    program = CATALOG.product(program_id)
    ics = render(series=[_series_row(program_id)])

    reading = read_with_icaljs(node, ics, tmp_path)

    expected = ignite_occurrences(program_id)
    assert icaljs_occurrences(reading) == python_occurrences(ics) == expected
    (event,) = reading["events"]
    assert event["recurring"] is True
    assert event["summary"] == program.name
    starts = [datetime.fromisoformat(o["start_local"]) for o in event["occurrences"]]
    # Every class at the catalog's wall-clock time, on exactly the dates core.schedule holds.
    assert {start.time() for start in starts} == {program.start}
    assert [start.date() for start in starts] == ignite_class_dates(CATALOG, program_id)
    # The weeks it does not meet were written as EXDATEs and stay out.
    skipped = set(CATALOG.public_holidays) | set(program.excluded_dates)
    in_range = {d for d in skipped if starts[0].date() <= d <= starts[-1].date()}
    assert {d for d in in_range if d.weekday() == program.weekday}  # there is something to skip
    assert not in_range & {start.date() for start in starts}


def test_the_monday_class_stays_at_15_45_while_its_utc_hour_moves_with_daylight_saving(
    node, tmp_path
):
    program_id = "ignite-coding-monday"
    reading = read_with_icaljs(node, render(series=[_series_row(program_id)]), tmp_path)

    (event,) = reading["events"]
    by_date = {o["start_local"][:10]: o for o in event["occurrences"]}
    last_before, first_after = by_date["2027-03-22"], by_date["2027-04-05"]  # 29 Mar: Easter
    assert last_before["start_local"] == "2027-03-22T15:45:00"
    assert first_after["start_local"] == "2027-04-05T15:45:00"
    assert last_before["start_utc"] == "2027-03-22T04:45:00.000Z"  # AEDT, UTC+11
    assert first_after["start_utc"] == "2027-04-05T05:45:00.000Z"  # AEST, UTC+10
    assert "2027-03-29" not in by_date  # Easter Monday
    assert "2027-06-14" not in by_date  # King's Birthday
    assert "2027-10-04" not in by_date  # Labour Day
    assert by_date["2027-10-18"]["start_utc"] == "2027-10-18T04:45:00.000Z"  # AEDT again
    assert len(event["occurrences"]) == len(ignite_class_dates(CATALOG, program_id))


def test_a_cancellation_replaces_the_invite_in_all_three(node, tmp_path):
    camp = camp_event(CATALOG, "autumn-robotics", date(2027, 4, 12), "all_day")
    program_id = "ignite-engineering-thursday"
    booked = render(events=[_event_row(camp)], series=[_series_row(program_id)])
    cancelled = render(
        events=[_event_row(camp, sequence=1, cancelled=True)],
        series=[_series_row(program_id, sequence=1, ended=True)],
        method="CANCEL",
    )

    before = read_with_icaljs(node, booked, tmp_path)
    after = read_with_icaljs(node, cancelled, tmp_path)

    expected = catalog_occurrences([camp]) | ignite_occurrences(program_id)
    assert icaljs_occurrences(after) == python_occurrences(cancelled) == expected
    assert icaljs_occurrences(before) == icaljs_occurrences(after)  # the same UIDs and times
    assert (before["method"], after["method"]) == ("PUBLISH", "CANCEL")
    for old, new in zip(before["events"], after["events"], strict=True):
        assert new["uid"] == old["uid"]
        assert new["sequence"] > old["sequence"]
        assert (old["status"], new["status"]) == ("CONFIRMED", "CANCELLED")
    python = icalendar.Calendar.from_ical(cancelled)
    assert python["METHOD"] == "CANCEL"
    assert {(str(e["UID"]), e["SEQUENCE"], e["STATUS"]) for e in python.walk("VEVENT")} == {
        (e["uid"], e["sequence"], e["status"]) for e in after["events"]
    }

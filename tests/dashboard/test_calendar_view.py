"""The calendar's entries and the roster's table, print page and CSV, as pure functions."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from dashboard import calendar_view as view_of
from dashboard import roster

SYDNEY = ZoneInfo("Australia/Sydney")


def _camp(session: str, booked: int, event_id: str | None, ends: str) -> dict:
    return {"event_id": event_id, "slot_key": f"camp:summer-robotics:2027-01-11:{session}",
            "kind": "camp", "title": f"Robotics Bootcamp — {session} session",
            "product_id": "summer-robotics", "starts_at": "2027-01-10T22:00:00Z",
            "ends_at": ends, "capacity": 24, "booked": booked, "day_booked": 18,
            "day_capacity": 24, "venue_id": "marrickville", "room_id": "workshop",
            "venue_name": "TinkerTank Marrickville", "room_name": "The Workshop"}  # fmt: skip


PARTY = {"event_id": None, "slot_key": "party:marrickville:party-room:2027-01-16:10:00",
         "kind": "party", "title": "Robot Rampage Party", "product_id": "robot-rampage-party",
         "starts_at": "2027-01-15T23:00:00Z", "ends_at": "2027-01-16T01:00:00Z", "capacity": 1,
         "booked": 0, "day_booked": 0, "day_capacity": 1, "venue_id": "marrickville",
         "room_id": "party-room", "venue_name": "TinkerTank Marrickville",
         "room_name": "Party Room"}  # fmt: skip


def test_a_camp_day_is_one_entry_with_the_days_fill_time_and_room_names():
    events = [
        _camp("day", 10, "cal_1", "2027-01-11T04:00:00Z"),
        _camp("all_day", 8, "cal_2", "2027-01-11T06:00:00Z"),
        PARTY,
    ]

    camp, party = view_of.entries(view_of.slots(events), SYDNEY)

    assert camp["id"] == "campday:summer-robotics:2027-01-11"
    assert camp["title"] == "9:00 Robotics Bootcamp 18/24 · The Workshop"
    assert (camp["start"], camp["end"]) == ("2027-01-11T09:00:00+11:00",
                                            "2027-01-11T17:00:00+11:00")  # fmt: skip
    assert camp["classNames"] == ["fill-filling"]  # 18 of 24: three quarters
    assert party["id"] == "slot:party:marrickville:party-room:2027-01-16:10:00"
    assert party["title"] == "10:00 Robot Rampage Party 0/1 · Party Room"
    assert party["classNames"] == ["fill-empty"]
    assert party["backgroundColor"] != camp["backgroundColor"]


def test_fill_bands_go_from_empty_to_full():
    assert [view_of.band(n, 24)[0] for n in (0, 1, 17, 18, 24, 25)] == [
        "empty", "open", "open", "filling", "full", "full"]  # fmt: skip


def test_each_view_shows_its_range_and_australian_formats():
    wednesday = date(2027, 1, 13)
    assert view_of.visible_range("Day", wednesday) == (wednesday, date(2027, 1, 14))
    assert view_of.visible_range("Week", wednesday) == (date(2027, 1, 11), date(2027, 1, 18))
    assert view_of.visible_range("Month", wednesday) == (date(2026, 12, 28), date(2027, 2, 1))
    assert view_of.visible_range("List", wednesday) == (date(2027, 1, 1), date(2027, 2, 1))
    assert view_of.visible_range("List", wednesday, date(2027, 3, 5)) == (
        wednesday, date(2027, 3, 6))  # fmt: skip
    assert view_of.visible_range("List", wednesday, date(2029, 1, 1)) == (
        wednesday, date(2028, 2, 17))  # at most 400 days  # fmt: skip
    month = view_of.options("Month", date(2026, 12, 28), date(2027, 2, 1), "Australia/Sydney")
    assert month["initialDate"] == "2027-01-01"
    assert month["locale"] == "en-au"
    assert month["height"] == "auto"  # the month's last row is never cut off
    listing = view_of.options("List", date(2027, 1, 13), date(2027, 3, 6), "Australia/Sydney")
    assert listing["visibleRange"] == {"start": "2027-01-13", "end": "2027-03-06"}


def test_the_roster_flags_notes_keeps_a_mobile_slot_and_prints_escaped():
    rows = [{"student": "Ada", "age": 9, "notes": "nut allergy", "customer_name": "Ann",
             "customer_email": "ann@example.com", "session": "all_day", "status": "confirmed",
             "order_id": "ord_1"},
            {"student": "=Bo<script>", "age": 8, "notes": None, "customer_name": "Ben",
             "customer_email": "ben@example.com", "customer_phone": "+61412345678",
             "session": "day", "status": "confirmed", "order_id": "ord_2"}]  # fmt: skip

    table = roster.frame(rows, with_session=True)

    assert list(table["Notes"]) == ["⚠ nut allergy", ""]
    assert list(table["Mobile"]) == [roster.NO_MOBILE, "0412 345 678"]  # as dialled here
    assert list(table["Session"]) == ["All-day session", "Day session"]
    page = roster.print_page("Robotics Bootcamp", "Marrickville", table)
    assert "&lt;script&gt;" in page and "<script>" not in page
    assert 'class="notes"' in page
    assert "'=Bo<script>" in roster.csv(table)  # a formula is not run by a spreadsheet


def test_a_months_free_party_rooms_show_as_one_count_per_day():
    booked = {**PARTY, "event_id": "cal_9", "booked": 1, "day_booked": 1}
    other_room = {**PARTY, "slot_key": "party:marrickville:workshop:2027-01-16:10:00",
                  "room_name": "The Workshop"}  # fmt: skip

    slots = view_of.free_parties_by_day(view_of.slots([PARTY, other_room, booked]), SYDNEY)

    party, free = sorted(view_of.entries(slots, SYDNEY), key=lambda e: e["id"])
    assert party["title"] == "10:00 Robot Rampage Party 1/1 · Party Room"
    assert free["id"] == "partyday:2027-01-16"
    assert free["title"] == "Party rooms free: 2"
    by_time = view_of.free_parties_by_day(view_of.slots([PARTY, other_room]), SYDNEY, True)
    assert [(s["id"], s["title"]) for s in by_time] == [
        ("partyday:2027-01-16T10:00", "10:00 Party rooms free: 2")
    ]

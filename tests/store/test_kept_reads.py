"""What staff reads keep (the fingerprint of a calendar range in store/calendar.py, by which
the web process keeps its answer; the KPIs' step totals in store/staff_reads.py) follows every
change, even when the changes carry the same `now` (the suite's clock), and nothing is read
again when nothing changed.

The database is the bench's million-order business (bench/million.py) at 3,000 orders."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.business_days import day_bounds
from core.settings import DatabaseLocation
from store import attendance, bookings, calendar, fulfilment_steps, people, staff_reads
from store.database import Database
from tests.conftest import SUITE_NOW
from tests.store.conftest import NOW

TZ = ZoneInfo("Australia/Sydney")
START, STOP = NOW - timedelta(days=20), NOW + timedelta(days=10)


@pytest.fixture
def db(business_copy: Database) -> Database:
    return business_copy


class Calendar:
    """A caller keeping the last rows of a range with their fingerprint, as the web does."""

    def __init__(self, db: Database, kind: str | None = None) -> None:
        self.db, self.kind, self.mark, self.rows, self.reads = db, kind, None, None, 0

    def rows_now(self) -> list[tuple]:
        mark, rows = self.db.read(
            calendar.events_between_if_changed, START, STOP, self.kind, self.mark
        )
        if rows is not None:
            self.mark, self.rows, self.reads = mark, rows, self.reads + 1
        return self.rows


def kept_and_read(db: Database, kept: Calendar) -> tuple[list[tuple], list[tuple]]:
    return kept.rows_now(), db.read(calendar.events_between, START, STOP, None)


def booked(rows: list[tuple]) -> dict[str, int]:
    return {row[0]: row[10] for row in rows}


def a_booking(db: Database) -> tuple[str, str, str]:
    """A confirmed booking of an event in the range: (booking, its event, another event of
    the range with room)."""
    return db.read(
        lambda conn: conn.execute(
            "SELECT b.booking_id, b.event_id, (SELECT min(x.event_id) FROM events x"
            " WHERE x.starts_at >= ? AND x.starts_at < ? AND x.event_id <> b.event_id"
            " AND x.kind = 'camp') FROM bookings b JOIN events e ON e.event_id = b.event_id"
            " WHERE e.starts_at >= ? AND e.starts_at < ? AND b.status = 'confirmed'"
            " AND e.kind = 'camp' ORDER BY b.booking_id LIMIT 1",
            [START, STOP, START, STOP],
        ).fetchone()
    )


def test_a_kept_range_of_events_follows_cancellations_moves_capacity_and_new_events(
    db: Database,
):
    seen = Calendar(db)
    kept, read = kept_and_read(db, seen)
    assert kept == read and len(kept) > 50
    booking_id, event_id, other = a_booking(db)

    # Every change below is written with the same `now`: the fingerprint must not rely on
    # the clock moving.
    db.write(bookings.cancel_booking, booking_id, NOW)
    before, (kept, read) = booked(kept), kept_and_read(db, seen)
    assert kept == read
    assert booked(kept)[event_id] == before[event_id] - 1

    db.write(bookings.move_booking, booking_id, other, NOW)
    before, (kept, read) = booked(kept), kept_and_read(db, seen)
    assert kept == read
    assert booked(kept)[other] == before[other] + 1

    slot = next(row[11] for row in kept if row[0] == other)
    db.write(bookings.set_capacity, slot, 99, NOW)
    kept, read = kept_and_read(db, seen)
    assert kept == read
    assert next(row[8] for row in kept if row[0] == other) == 99

    count = len(kept)
    db.write(
        lambda conn: conn.execute(
            "INSERT INTO events (event_id, slot_key, kind, product_id, title, venue_id,"
            " room_id, starts_at, ends_at, capacity, status, uid, sequence, created_at,"
            " updated_at) VALUES ('cal_new', 'new:slot', 'party', 'p', 'New', 'v', 'r', ?, ?,"
            " 1, 'scheduled', 'new@x', 0, ?, ?)",
            [NOW, NOW + timedelta(hours=2), NOW, NOW],
        )
    )
    kept, read = kept_and_read(db, seen)
    assert kept == read and len(kept) == count + 1
    assert seen.reads == 5


def test_an_unchanged_range_is_not_read_again(db: Database):
    seen = Calendar(db, "camp")
    first = seen.rows_now()
    assert seen.rows_now() == first
    assert seen.reads == 1
    booking_id, _, _ = a_booking(db)
    db.write(bookings.cancel_booking, booking_id, NOW)
    assert seen.rows_now() != first
    assert seen.reads == 2


def test_the_kpis_step_counts_follow_new_steps(db: Database):
    start, stop = day_bounds(SUITE_NOW.date(), TZ)
    steps = db.read(staff_reads.kpis, start, stop, NOW)["steps"]
    assert steps["record_payment"]["done"] > 0
    db.write(fulfilment_steps.queue_after_payment, "ord_new", "pending", NOW)
    after = db.read(staff_reads.kpis, start, stop, NOW)["steps"]
    assert after["record_payment"]["done"] == steps["record_payment"]["done"] + 1
    assert after["notify_staff"]["pending"] == steps["notify_staff"]["pending"] + 1
    scanned = dict(
        db.read(
            lambda conn: conn.execute(
                "SELECT step, count(*) FROM fulfilment_steps GROUP BY step"
            ).fetchall()
        )
    )
    assert {step: sum(counts.values()) for step, counts in after.items()} == scanned


# --- the children and families of bookings (store/people.py) -----------------------------


def day_sheet_today(db: Database) -> list[dict]:
    return db.read(attendance.day_sheet, *day_bounds(SUITE_NOW.date(), TZ))


def fresh(db: Database, read, *args):
    """What `read` answers with nothing kept in the store process."""
    people._kept.clear()
    return db.read(read, *args)


def test_the_check_in_day_read_with_kept_children_equals_a_fresh_read(db: Database):
    sheet = fresh(db, attendance.day_sheet, *day_bounds(SUITE_NOW.date(), TZ))
    children = [c for e in sheet for c in e["children"]]
    assert len(children) > 5
    # The second read takes the students and when their orders were made from what the
    # first one kept: the same answer.
    (kept,) = people._kept.values()
    assert {c["student_id"] for c in children} <= kept.students.keys()
    assert day_sheet_today(db) == sheet

    # What a family gives later (a mobile from Stripe, a repaired order's name) is read
    # every time; a booking moved into the day shows at once.
    child = children[0]
    db.write(lambda conn: conn.execute(
        "UPDATE orders SET customer_name = 'Renamed Family' WHERE order_id = ?",
        [child["order_id"]],
    ))  # fmt: skip
    moved = db.read(lambda conn: conn.execute(
        "SELECT b.booking_id FROM bookings b JOIN events e ON e.event_id = b.event_id"
        " WHERE b.status = 'confirmed' AND e.starts_at < ? ORDER BY b.booking_id LIMIT 1",
        [NOW - timedelta(days=30)],
    ).fetchone()[0])  # fmt: skip
    event_id = sheet[0]["event_id"]
    db.write(bookings.move_booking, moved, event_id, NOW)
    again = day_sheet_today(db)
    assert again == fresh(db, attendance.day_sheet, *day_bounds(SUITE_NOW.date(), TZ))
    names = {c["booking_id"]: c["customer_name"] for e in again for c in e["children"]}
    assert names[child["booking_id"]] == "Renamed Family"
    assert moved in {c["booking_id"] for c in again[0]["children"]}


def test_a_roster_read_with_kept_children_equals_a_fresh_read(db: Database):
    event_id = day_sheet_today(db)[0]["event_id"]
    first = fresh(db, calendar.roster, event_id)
    assert first["roster"] and db.read(calendar.roster, event_id) == first
    order_id = first["roster"][0]["order_id"]
    db.write(lambda conn: conn.execute(
        "UPDATE orders SET customer_phone = '+61412345678' WHERE order_id = ?", [order_id]
    ))  # fmt: skip
    phones = {
        p["order_id"]: p["customer_phone"] for p in db.read(calendar.roster, event_id)["roster"]
    }
    assert phones[order_id] == "+61412345678"


def test_what_is_kept_of_one_file_is_never_taken_for_another(small_business: Path, tmp_path: Path):
    """Two copies of one business (the same ids) whose children differ: each file's
    check-in day shows its own children."""
    names = []
    for n in range(2):
        path = tmp_path / f"copy{n}.duckdb"
        shutil.copyfile(small_business, path)
        db = Database.open(DatabaseLocation("duckdb", str(path)))
        try:
            db.write(lambda conn, n=n: conn.execute(f"UPDATE students SET name = 'Child {n}'"))
            sheet = day_sheet_today(db)
            names.append({c["student"] for e in sheet for c in e["children"]})
        finally:
            db.close()
    assert names == [{"Child 0"}, {"Child 1"}]


def test_a_kept_check_in_day_follows_every_change_and_is_not_sent_again_unchanged(
    db: Database,
):
    bounds = day_bounds(SUITE_NOW.date(), TZ)

    def sheet(known):
        return db.read(attendance.day_sheet_if_changed, *bounds, known)

    mark, rows = sheet(None)
    assert rows == db.read(attendance.day_sheet, *bounds) and rows
    assert sheet(mark) == (mark, None)  # nothing changed: nothing sent
    child = rows[0]["children"][0]

    # Each change, written with the same `now`, gives another fingerprint and the new sheet.
    changes = [
        lambda: db.write(attendance.check_in, child["booking_id"], "Priya", NOW),
        lambda: db.write(
            attendance.check_out, child["booking_id"], "Priya", child["customer_name"], None, NOW
        ),
        lambda: db.write(
            lambda conn: conn.execute(
                "UPDATE orders SET customer_email = 'new@example.com' WHERE order_id = ?",
                [child["order_id"]],
            )
        ),
        lambda: db.write(bookings.cancel_booking, child["booking_id"], NOW),
    ]
    for change in changes:
        change()
        new_mark, new_rows = sheet(mark)
        assert new_mark != mark and new_rows == db.read(attendance.day_sheet, *bounds)
        mark = new_mark
    assert child["booking_id"] not in {c["booking_id"] for e in new_rows for c in e["children"]}

"""The kept trends (store/trends.py) equal the plain scan (summaries.trends) whatever changes,
and days whose data did not change are not read again.

The database is the bench's million-order business (bench/million.py) at 3,000 orders: two
years of orders with items, refunds, bookings and events, as the pipeline leaves them."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from core import summary
from store import bookings, order_state, summaries, trends
from store.database import Database
from tests.conftest import SUITE_NOW
from tests.store.conftest import NOW

TZ = "Australia/Sydney"
DAYS = summary.trend_days(SUITE_NOW, ZoneInfo(TZ), 30)


@pytest.fixture
def db(business_copy: Database) -> Database:
    trends._kept.clear()
    return business_copy


def kept_and_scanned(db: Database) -> tuple[list, list]:
    return db.read(trends.trends, DAYS, TZ), db.read(summaries.trends, DAYS, TZ)


def order_paid_on(db: Database, day_offset: int, status: str = "paid") -> str:
    start = NOW - timedelta(days=day_offset)
    return db.read(
        lambda conn: conn.execute(
            "SELECT o.order_id FROM orders o WHERE o.paid_at >= ? AND o.paid_at < ?"
            " AND o.payment_status = ? AND EXISTS (SELECT 1 FROM bookings b"
            " WHERE b.order_id = o.order_id AND b.status = 'confirmed')"
            " ORDER BY o.order_id LIMIT 1",
            [start - timedelta(days=1), start, status],
        ).fetchone()[0]
    )


def test_the_kept_trends_equal_the_scan_after_refunds_cancellations_and_bookings(db: Database):
    kept, scanned = kept_and_scanned(db)
    assert kept == scanned
    assert sum(day["revenue"] for day in kept) > 0
    assert any(day["fill"] > 0 for day in kept[:-1])
    before = kept

    # A refund recorded today of an order paid ten days ago: today's refunds.
    refunded = order_paid_on(db, 10)
    db.write(order_state.record_refund, refunded, 5000, "evt_refund_today", NOW)
    kept, scanned = kept_and_scanned(db)
    assert kept == scanned
    assert kept[-1]["revenue"] < before[-1]["revenue"]

    # A refund recorded a week ago (a late write with its own time): a past day changes.
    late = order_paid_on(db, 12)
    db.write(order_state.record_refund, late, 3000, "evt_refund_late", NOW - timedelta(days=7))
    kept, scanned = kept_and_scanned(db)
    assert kept == scanned
    assert [d["revenue"] for d in kept[:-1]] != [d["revenue"] for d in before[:-1]]

    # The bookings of an order made five days ago cancelled: that day's bookings and fill.
    cancelled = order_paid_on(db, 5)
    db.write(bookings.cancel_order_bookings, cancelled, NOW)
    kept, scanned = kept_and_scanned(db)
    assert kept == scanned
    assert [d["bookings_by_kind"] for d in kept] != [d["bookings_by_kind"] for d in before]

    # A booking made today into an event that started three days ago: that day's fill.
    event_id, order_id, item_id, student_id = db.read(
        lambda conn: conn.execute(
            "SELECT e.event_id, b.order_id, b.order_item_id, b.student_id FROM events e"
            " JOIN bookings b ON b.event_id = e.event_id WHERE e.starts_at >= ?"
            " AND e.starts_at < ? AND e.status = 'scheduled' AND e.capacity > 1"
            " ORDER BY e.event_id LIMIT 1",
            [NOW - timedelta(days=3, hours=12), NOW - timedelta(days=2, hours=12)],
        ).fetchone()
    )
    fills = [day["fill"] for day in kept]
    db.write(
        lambda conn: conn.execute(
            "INSERT INTO bookings (booking_id, order_id, order_item_id, student_id, event_id,"
            " status, created_at, updated_at) VALUES ('bkg_late', ?, ?, ?, ?, 'confirmed', ?, ?)",
            [order_id, item_id + ":late", student_id, event_id, NOW, NOW],
        )
    )
    kept, scanned = kept_and_scanned(db)
    assert kept == scanned
    assert [day["fill"] for day in kept] != fills


def test_days_whose_data_did_not_change_are_not_read_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
):
    reads: list[int] = []
    scan = summaries.money
    monkeypatch.setattr(summaries, "money", lambda conn, ranges: reads.append(len(ranges))
                        or scan(conn, ranges))  # fmt: skip

    first = db.read(trends.trends, DAYS, TZ)
    assert reads == [29, 1]  # the days before today, then today

    reads.clear()
    assert db.read(trends.trends, DAYS, TZ) == first
    assert reads == []  # nothing changed: nothing read again

    reads.clear()
    db.write(order_state.record_refund, order_paid_on(db, 10), 5000, "evt_refund", NOW)
    assert db.read(trends.trends, DAYS, TZ) == db.read(summaries.trends, DAYS, TZ)
    assert reads[0] == 1  # today's refund: only today read again (then the scan, 30)

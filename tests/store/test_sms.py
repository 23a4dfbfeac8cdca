"""The store's side of text messages: migration 8 on a database that already has messages,
the reminder texts' keys, a text to an order, and opt-outs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import duckdb
import pytest

from store import outbox, reminders, schema, sms_opt_outs

NOW = datetime(2027, 1, 3, 23, 0)  # 10:00 on 4 January in Sydney, naive UTC


def test_migration_8_keeps_the_outbox_and_its_keys(monkeypatch):
    conn = duckdb.connect(":memory:")
    # A database made before migration 8, maybe with later ones applied already.
    monkeypatch.setattr(schema, "MIGRATIONS", [m for m in schema.MIGRATIONS if m[0] != 8])
    schema.migrate(conn, NOW)
    outbox.enqueue(conn, dedupe_key="confirmation:ord_1", channel="email", payload={"a": 1},
                   now=NOW, recipient="jane@example.com", order_id="ord_1")  # fmt: skip
    with pytest.raises(duckdb.ConstraintException):
        conn.execute("UPDATE outbox SET channel = 'sms'")
    monkeypatch.undo()

    assert schema.migrate(conn, NOW) == [8]

    (row,) = conn.execute("SELECT dedupe_key, channel, recipient, status FROM outbox").fetchall()
    assert row == ("confirmation:ord_1", "email", "jane@example.com", "pending")
    assert not outbox.enqueue(conn, dedupe_key="confirmation:ord_1", channel="email",
                              payload={}, now=NOW)  # fmt: skip
    with pytest.raises(duckdb.ConstraintException):  # the key is still unique
        conn.execute(
            "INSERT INTO outbox (message_id, dedupe_key, channel, payload, status, created_at)"
            " VALUES ('m2', 'confirmation:ord_1', 'sms', '{}', 'pending', ?)",
            [NOW],
        )
    with pytest.raises(duckdb.ConstraintException):
        conn.execute("UPDATE outbox SET channel = 'fax'")


@pytest.fixture
def conn():
    conn = duckdb.connect(":memory:")
    schema.migrate(conn, NOW)
    return conn


def _order_with_booking(conn, order_id: str, phone: str | None, starts_at: datetime) -> str:
    conn.execute(
        "INSERT INTO orders (order_id, source, mode, payment_status, fulfillment_status,"
        " customer_email, customer_name, currency, amount_total, created_at, updated_at,"
        " customer_phone) VALUES (?, 'checkout', 'payment', 'paid', 'fulfilled',"
        " 'jane@example.com', 'Jane', 'aud', 8900, ?, ?, ?)",
        [order_id, NOW, NOW, phone],
    )
    # Test rows written directly, as the fulfilment steps would have made them.
    conn.execute(
        "INSERT INTO events (event_id, slot_key, kind, product_id, title, venue_id, room_id,"
        " starts_at, ends_at, capacity, status, uid, created_at, updated_at)"
        " VALUES (?, ?, 'camp', 'summer-robotics', 'Robotics', 'marrickville', 'lab', ?, ?, 10,"
        " 'scheduled', ?, ?, ?)",
        [f"evt_{order_id}", f"slot_{order_id}", starts_at, starts_at + timedelta(hours=6),
         f"uid_{order_id}", NOW, NOW],
    )  # fmt: skip
    conn.execute(
        "INSERT INTO bookings (booking_id, order_id, order_item_id, student_id, event_id,"
        " status, created_at, updated_at) VALUES (?, ?, ?, 'stu_1', ?, 'confirmed', ?, ?)",
        [f"bkg_{order_id}", order_id, f"{order_id}:0", f"evt_{order_id}", NOW, NOW],
    )
    return f"bkg_{order_id}"


def test_reminder_texts_are_queued_once_per_booking_and_kind(conn):
    tomorrow = _order_with_booking(conn, "ord_a", "+61412345678", NOW + timedelta(hours=23))
    today = _order_with_booking(conn, "ord_b", "+61412345679", NOW + timedelta(hours=2))
    _order_with_booking(conn, "ord_c", None, NOW + timedelta(hours=23))  # no mobile, no text
    windows = [("day_of", NOW, NOW + timedelta(hours=14)),
               ("day_before", NOW + timedelta(hours=14), NOW + timedelta(hours=38))]  # fmt: skip

    assert reminders.queue_sms_reminders(conn, windows, NOW) == 2
    assert reminders.queue_sms_reminders(conn, windows, NOW) == 0

    rows = conn.execute(
        "SELECT dedupe_key, channel, recipient, payload FROM outbox ORDER BY dedupe_key"
    ).fetchall()
    assert [(key, channel, to) for key, channel, to, _ in rows] == [
        (f"sms-day_before:{tomorrow}", "sms", "+61412345678"),
        (f"sms-day_of:{today}", "sms", "+61412345679"),
    ]
    assert json.loads(rows[0][3]) == {"template": "reminder", "kind": "day_before",
                                      "booking_id": tomorrow}  # fmt: skip


def test_a_text_to_an_order_goes_to_its_mobile_once(conn):
    _order_with_booking(conn, "ord_a", "+61412345678", NOW + timedelta(days=3))
    _order_with_booking(conn, "ord_b", None, NOW + timedelta(days=3))

    assert outbox.queue_order_sms(conn, "ord_a", "roster:evt_1:ord_a", "Closed today", NOW)
    assert not outbox.queue_order_sms(conn, "ord_a", "roster:evt_1:ord_a", "Closed today", NOW)
    assert not outbox.queue_order_sms(conn, "ord_b", "roster:evt_1:ord_b", "Closed today", NOW)

    (row,) = conn.execute("SELECT channel, recipient, payload FROM outbox").fetchall()
    assert row == ("sms", "+61412345678", json.dumps({"text": "Closed today"}))


def test_stop_and_start_are_kept_per_number(conn):
    assert not sms_opt_outs.is_opted_out(conn, "+61412345678")
    sms_opt_outs.record(conn, "+61412345678", True, "STOP", NOW)
    assert sms_opt_outs.is_opted_out(conn, "+61412345678")
    assert not sms_opt_outs.is_opted_out(conn, "+61412345679")
    sms_opt_outs.record(conn, "+61412345678", False, "START", NOW + timedelta(minutes=1))
    assert not sms_opt_outs.is_opted_out(conn, "+61412345678")
    assert conn.execute("SELECT count(*) FROM sms_opt_outs").fetchone() == (1,)

"""Reminders: one email per booking whose event starts within a window (48 hours unless
told otherwise), queued by `tinkertank remind` through the staff API. Safe to run every
hour, or twice at once: the outbox key `reminder:<booking>` admits one message per booking,
ever. Rendered when sent, so a booking cancelled in between gets no reminder."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

DEFAULT_WINDOW = timedelta(hours=48)


def queue_reminders(
    conn: duckdb.DuckDBPyConnection, now: datetime, window: timedelta = DEFAULT_WINDOW
) -> int:
    """Queue the reminders due at `now` (naive UTC); the number queued."""
    rows = conn.execute(
        "INSERT INTO outbox (message_id, dedupe_key, channel, order_id, recipient, payload,"
        " status, attempts, next_attempt_at, created_at)"
        " SELECT 'msg_rem_' || b.booking_id, 'reminder:' || b.booking_id, 'email', b.order_id,"
        ' o.customer_email, \'{"template": "reminder", "booking_id": "\' || b.booking_id'
        " || '\"}', 'pending', 0, ?, ?"
        " FROM bookings b JOIN events e ON e.event_id = b.event_id"
        " JOIN orders o ON o.order_id = b.order_id"
        " WHERE b.status = 'confirmed' AND e.status = 'scheduled'"
        " AND e.starts_at > ? AND e.starts_at <= ? AND o.customer_email IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM outbox m WHERE m.dedupe_key = 'reminder:' || b.booking_id)"
        " RETURNING message_id",
        [now, now, now, now + window],
    ).fetchall()
    return len(rows)


def queue_sms_reminders(
    conn: duckdb.DuckDBPyConnection, windows: list[tuple[str, datetime, datetime]], now: datetime
) -> int:
    """Text reminders to each order's mobile, one per booking and kind, ever (the outbox key
    `sms-<kind>:<booking>`): for each (kind, from, until) of
    `core.messages.sms.reminder_windows`, the bookings whose event starts in (from, until].
    Rendered when sent, like the emails; the number queued."""
    queued = 0
    for kind, start, until in windows:
        rows = conn.execute(
            "INSERT INTO outbox (message_id, dedupe_key, channel, order_id, recipient, payload,"
            " status, attempts, next_attempt_at, created_at)"
            " SELECT 'msg_sms_' || ? || '_' || b.booking_id, 'sms-' || ? || ':' || b.booking_id,"
            ' \'sms\', b.order_id, o.customer_phone, \'{"template": "reminder", "kind": "\''
            " || ? || '\", \"booking_id\": \"' || b.booking_id || '\"}', 'pending', 0, ?, ?"
            " FROM bookings b JOIN events e ON e.event_id = b.event_id"
            " JOIN orders o ON o.order_id = b.order_id"
            " WHERE b.status = 'confirmed' AND e.status = 'scheduled'"
            " AND e.starts_at > ? AND e.starts_at <= ? AND o.customer_phone IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM outbox m"
            " WHERE m.dedupe_key = 'sms-' || ? || ':' || b.booking_id)"
            " RETURNING message_id",
            [kind, kind, kind, now, now, start, until, kind],
        ).fetchall()
        queued += len(rows)
    return queued

"""The staff calendar: events in a time range with how full they are, and an event's roster.

Reads (cursor first); times are naive UTC, the caller converts local dates
(`core.business_days`). The roster shows children's names and notes (allergies, who
collects them): staff need them on the day, and they never leave this API for Slack.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from store import people
from store.attendance import contacts
from store.staff_reads import query_dicts

EVENT_COLUMNS = ("event_id", "kind", "title", "product_id", "venue_id", "room_id", "starts_at",
                 "ends_at", "capacity", "status")  # fmt: skip
# The rows of `events_between` end with these two: the confirmed bookings and the slot key.


# A month of the calendar with a million orders behind it is thousands of events and a
# count over hundreds of thousands of bookings: 50 to 150 ms to read, and as long again for
# the web process to unpickle, shape and encode. What the rows are computed from is
# fingerprinted in a fraction of that (a count and a hash of the events' columns, a count and
# a hash of the (event, status) of every booking made since the first of those events was
# made): the web process keeps the answer it encoded with its fingerprint, and the rows are
# only read and sent again when the fingerprint has changed. DuckDB only (`hash`).


def events_between_if_changed(
    conn: duckdb.DuckDBPyConnection,
    start: datetime,
    stop: datetime,
    kind: str | None,
    known: tuple | None,
) -> tuple[tuple | None, list[tuple] | None]:
    """(fingerprint, rows of `events_between`), or (fingerprint, None) when the fingerprint
    is `known`, the caller's from an earlier call; (None, rows) on PostgreSQL."""
    if not isinstance(conn, duckdb.DuckDBPyConnection):
        return None, events_between(conn, start, stop, kind)
    mark = _fingerprint(conn, start, stop, kind)
    if known is not None and mark == known:
        return mark, None
    return mark, events_between(conn, start, stop, kind)


def _fingerprint(
    conn: duckdb.DuckDBPyConnection, start: datetime, stop: datetime, kind: str | None
) -> tuple:
    """What the rows of `events_between` are computed from, in brief: equal
    fingerprints mean equal rows. An event's bookings are all made from when the event was
    made on (a booking moved into it moves that back)."""
    events = conn.execute(
        "SELECT count(*), min(created_at), sum(hash(event_id, kind, title, product_id,"
        " venue_id, room_id, starts_at, ends_at, capacity, status, slot_key)) FROM events"
        " WHERE starts_at >= ? AND starts_at < ?" + (" AND kind = ?" if kind else ""),
        [start, stop, *([kind] if kind else [])],
    ).fetchone()
    if events[1] is None:
        return (events,)
    bookings = conn.execute(
        "SELECT count(*), sum(hash(event_id, status)) FROM bookings WHERE created_at >= ?",
        [events[1]],
    ).fetchone()
    return (events, bookings)


def events_between(
    conn: duckdb.DuckDBPyConnection, start: datetime, stop: datetime, kind: str | None = None
) -> list[tuple]:
    """Events starting in [start, stop), in time order, as rows of `EVENT_COLUMNS` plus
    their confirmed bookings and their slot key. A month of a big calendar is thousands of
    rows, so they travel as plain tuples with the times as text ("YYYY-MM-DD HH:MM:SS", naive UTC):
    a datetime per field would cost more to build and pickle than the query.

    An event is made when its first place is booked, so its bookings are read from the
    earliest `created_at` of the events in range on (the bookings table grows in time
    order and DuckDB skips the row groups before it)."""

    def where(alias: str) -> str:
        return f"{alias}.starts_at >= ? AND {alias}.starts_at < ?" + (
            f" AND {alias}.kind = ?" if kind else ""
        )

    params: list[Any] = [start, stop, *([kind] if kind else [])]
    (first,) = conn.execute(f"SELECT min(e.created_at) FROM events e WHERE {where('e')}",
                            params).fetchone()  # fmt: skip
    if first is None:
        return []
    columns = ", ".join(
        f"CAST(e.{c} AS VARCHAR)" if c in ("starts_at", "ends_at") else f"e.{c}"
        for c in EVENT_COLUMNS
    )
    return conn.execute(
        f"SELECT {columns}, coalesce(b.booked, 0), e.slot_key FROM events e LEFT JOIN"
        " (SELECT b.event_id, count(*) AS booked FROM bookings b"
        f" WHERE b.created_at >= ? AND b.status = 'confirmed' AND b.event_id IN"
        f" (SELECT x.event_id FROM events x WHERE {where('x')}) GROUP BY b.event_id) b"
        f" ON b.event_id = e.event_id WHERE {where('e')} ORDER BY e.starts_at, e.event_id",
        [first, *params, *params],
    ).fetchall()


def roster(conn: duckdb.DuckDBPyConnection, event_id: str) -> dict[str, Any] | None:
    """An event and everyone booked into it (from when the event was made): confirmed
    first, then conflicts, then cancellations, by child's name. A camp session also carries
    `day_booked`: the confirmed bookings of its camp day across both sessions, which share
    the day's places."""
    found = _events(conn, "event_id = ?", [event_id])
    if not found:
        return None
    (event,) = found
    people = _people(conn, found)
    event["booked"] = sum(1 for p in people if p["status"] == "confirmed")
    event["day_booked"] = event["booked"]
    if event["kind"] == "camp":
        day = event["slot_key"].rsplit(":", 1)[0]
        sessions = _events(conn, "slot_key LIKE ?", [day + ":%"])
        event["day_booked"] = _confirmed(conn, sessions)
    return {"event": event, "roster": people}


def camp_day_roster(
    conn: duckdb.DuckDBPyConnection, product_id: str, start: datetime, stop: datetime
) -> dict[str, Any]:
    """Every child booked on one camp's day (`start`, `stop`: the local day's UTC bounds),
    across both sessions, each with the `session` event they are in. No events means no
    bookings yet."""
    events = _events(
        conn, "kind = 'camp' AND product_id = ? AND starts_at >= ? AND starts_at < ?",
        [product_id, start, stop],
    )  # fmt: skip
    return {"events": events, "roster": _people(conn, events)}


def _events(conn: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> list[dict]:
    return query_dicts(
        conn,
        f"SELECT {', '.join(EVENT_COLUMNS)}, slot_key, created_at FROM events WHERE {where}"
        " ORDER BY starts_at, ends_at",
        params,
    )


def _confirmed(conn: duckdb.DuckDBPyConnection, events: list[dict]) -> int:
    if not events:
        return 0
    (count,) = conn.execute(
        "SELECT count(*) FROM bookings WHERE status = 'confirmed' AND created_at >= ?"
        " AND event_id IN (SELECT unnest(?))",
        [min(e["created_at"] for e in events), [e["event_id"] for e in events]],
    ).fetchone()
    return int(count)


def _people(conn: duckdb.DuckDBPyConnection, events: list[dict]) -> list[dict[str, Any]]:
    """Everyone booked into `events` (each dict loses its `created_at`), with the child's
    age and notes and the family's name, email and mobile (`customer_phone`)."""
    if not events:
        return []
    since = min(e.pop("created_at") for e in events)
    sessions = {e["event_id"]: e for e in events}
    bookings = query_dicts(
        conn,
        "SELECT booking_id, event_id, student_id, order_id, status FROM bookings"
        " WHERE created_at >= ? AND event_id IN (SELECT unnest(?))",
        [since, sorted(sessions)],
    )
    # The children and their families by id, without reading every student and order.
    students = people.students_of(conn, (b["student_id"] for b in bookings))
    customers = people.orders_of(conn, (b["order_id"] for b in bookings))
    rank = {"confirmed": 0, "conflict": 1, "cancelled": 2}
    roster = []
    for booking in bookings:
        student = students.get(booking["student_id"], {})
        customer = customers.get(booking["order_id"], {})
        session = sessions[booking["event_id"]]
        roster.append({
            "booking_id": booking["booking_id"],
            "event_id": booking["event_id"],
            "session": session["slot_key"].rsplit(":", 1)[1] if session["kind"] == "camp" else None,
            "student": student.get("name"),
            "age": student.get("age"),
            "notes": student.get("notes"),
            "emergency_contacts": contacts(student.get("emergency_contacts")),
            "authorised_collectors": contacts(student.get("authorised_collectors")),
            "order_id": booking["order_id"],
            "customer_name": customer.get("customer_name"),
            "customer_email": customer.get("customer_email"),
            "customer_phone": customer.get("customer_phone"),
            "status": booking["status"],
        })  # fmt: skip
    roster.sort(key=lambda p: (rank.get(p["status"], 3), (p["student"] or "").casefold()))
    return roster

"""Staff messages to every family booked on an event, and their audit: the only writer of
`roster_messages` and `roster_message_families`.

One write does it all: the message (who, when, what), one row per family and channel, and
the outbox message for each. The keys make it exactly once per family: the message by
(event, message id), each family by (event, message id, address, channel), each email by
the outbox key `roster:<event>:<message id>:<address>` and each text by
`roster-sms:<event>:<message id>:<address>`. A double submit of the same form carries the
same message id and adds nothing. A text goes only to a family with a mobile; one to a
number that texted STOP is marked `skipped` by the sender, with the reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from store import outbox
from store.staff_reads import query_dicts

# Bookings whose families hear about the event: a conflict is a paid place we are checking.
BOOKED = ("confirmed", "conflict")


def families(conn: duckdb.DuckDBPyConnection, event_id: str) -> list[dict[str, Any]]:
    """Each family booked on the event, once per address (lower-cased), with one order and
    a mobile (E.164) when one of its orders gave one."""
    return query_dicts(
        conn,
        "SELECT lower(o.customer_email) AS email, min(o.order_id) AS order_id,"
        " max(o.customer_phone) AS phone"
        " FROM bookings b JOIN orders o ON o.order_id = b.order_id"
        " WHERE b.event_id = ? AND b.status IN (SELECT unnest(?))"
        " AND b.created_at >= (SELECT created_at FROM events WHERE event_id = ?)"
        " AND o.customer_email IS NOT NULL GROUP BY 1 ORDER BY 1",
        [event_id, list(BOOKED), event_id],
    )


def send_to_roster(
    conn: duckdb.DuckDBPyConnection,
    event_id: str,
    message: dict[str, Any],
    now: datetime,
) -> dict[str, Any] | None:
    """Store and queue `message` (message_id, template, subject, text, sms_text, channels,
    sent_by) for every family booked on the event; None for an unknown event. `queued`
    counts the messages this call added (0 on a resubmit), `queued_by_channel` by channel;
    `families` those the message went to."""
    if not conn.execute("SELECT 1 FROM events WHERE event_id = ?", [event_id]).fetchone():
        return None
    message_id = message["message_id"]
    found = families(conn, event_id)
    conn.execute(
        "INSERT INTO roster_messages (message_id, event_id, template, subject, body, channels,"
        " sent_by, families, created_at) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?"
        " WHERE NOT EXISTS (SELECT 1 FROM roster_messages WHERE event_id = ? AND message_id = ?)",
        [message_id, event_id, message["template"], message["subject"], message["text"],
         ",".join(message["channels"]), message["sent_by"], len(found), now, event_id,
         message_id],
    )  # fmt: skip
    queued = dict.fromkeys(message["channels"], 0)
    for family in found:
        for channel in message["channels"]:
            if channel == "sms" and not family["phone"]:
                continue  # no mobile: the email alone
            added = conn.execute(
                "INSERT INTO roster_message_families (event_id, message_id, email, order_id,"
                " channel, created_at) SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1"
                " FROM roster_message_families WHERE event_id = ? AND message_id = ?"
                " AND email = ? AND channel = ?) RETURNING email",
                [event_id, message_id, family["email"], family["order_id"], channel, now,
                 event_id, message_id, family["email"], channel],
            ).fetchall()  # fmt: skip
            if not added:
                continue
            if channel == "email":
                outbox.enqueue(
                    conn,
                    dedupe_key=f"roster:{event_id}:{message_id}:{family['email']}",
                    channel="email",
                    recipient=family["email"],
                    payload={"subject": message["subject"], "text": message["text"]},
                    now=now,
                    order_id=family["order_id"],
                )
            else:
                outbox.enqueue(
                    conn,
                    dedupe_key=f"roster-sms:{event_id}:{message_id}:{family['email']}",
                    channel="sms",
                    recipient=family["phone"],
                    payload={"text": message["sms_text"]},
                    now=now,
                    order_id=family["order_id"],
                )
            queued[channel] += 1
    (stored,) = query_dicts(
        conn,
        "SELECT families, sent_by, created_at, subject FROM roster_messages"
        " WHERE event_id = ? AND message_id = ?",
        [event_id, message_id],
    )
    return {"event_id": event_id, "message_id": message_id, "queued": sum(queued.values()),
            "queued_by_channel": queued, **stored}  # fmt: skip


def sent_messages(conn: duckdb.DuckDBPyConnection, event_id: str) -> list[dict[str, Any]]:
    """What staff sent to the event's families, newest first, with the addresses (`to`)
    and how many went by each channel (`sent_by_channel`)."""
    rows = query_dicts(
        conn,
        "SELECT message_id, template, subject, body, channels, sent_by, families, created_at"
        " FROM roster_messages WHERE event_id = ? ORDER BY created_at DESC, message_id",
        [event_id],
    )
    to: dict[str, list[str]] = {}
    by_channel: dict[str, dict[str, int]] = {}
    for message_id, email, channel in conn.execute(
        "SELECT message_id, email, channel FROM roster_message_families WHERE event_id = ?"
        " ORDER BY email, channel",
        [event_id],
    ).fetchall():
        if email not in to.setdefault(message_id, []):
            to[message_id].append(email)
        counts = by_channel.setdefault(message_id, {})
        counts[channel] = counts.get(channel, 0) + 1
    for row in rows:
        row["to"] = to.get(row["message_id"], [])
        row["sent_by_channel"] = by_channel.get(row["message_id"], {})
    return rows

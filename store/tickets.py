"""Support tickets: stored with their automatic reply and staff notice in one transaction.

The cap per email address is counted here, inside the write that would add the ticket:
every write goes through the store's single writer, so two requests cannot both take the
last place, and the count holds across restarts.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import duckdb

from core.messages import emails
from core.slack_text import escape as slack_escape
from core.support import (
    ADDRESS_WINDOW,
    CATEGORIES,
    TICKETS_PER_ADDRESS,
    BookingIssue,
    TicketReply,
    TicketUpdate,
    new_ticket_id,
)
from store import outbox, paging
from store.paging import Where

COLUMNS = ("ticket_id", "order_id", "order_reference", "email", "name", "category", "message",
           "status", "staff_note", "created_at", "updated_at", "resolved_at")  # fmt: skip


def open_ticket(
    conn: duckdb.DuckDBPyConnection,
    issue: BookingIssue,
    now: datetime,
    slack_configured: bool,
    support_email: str,
) -> dict[str, Any]:
    """Store the ticket and queue the reply and the staff notice: `{"ticket_id": …}`; or,
    when the address has used its tickets for now, `{"retry_after": seconds}` and nothing
    is stored."""
    count, oldest = conn.execute(
        "SELECT count(*), min(created_at) FROM support_tickets"
        " WHERE email_key = ? AND created_at > ?",
        [issue.email_key, now - ADDRESS_WINDOW],
    ).fetchone()
    if count >= TICKETS_PER_ADDRESS:
        wait = (oldest + ADDRESS_WINDOW - now).total_seconds()
        return {"retry_after": max(1, math.ceil(wait))}

    # Linked only when the reference names an order of the same address; the customer is
    # told the same either way, so the form cannot be used to find out who booked what.
    row = conn.execute(
        "SELECT order_id FROM orders WHERE (order_id = ? OR checkout_session_id = ?"
        " OR payment_intent_id = ?) AND lower(customer_email) = ? LIMIT 1",
        [issue.order_reference, issue.order_reference, issue.order_reference, issue.email],
    ).fetchone()
    order_id = row[0] if row else None

    ticket_id = new_ticket_id()
    while conn.execute("SELECT 1 FROM support_tickets WHERE ticket_id = ?", [ticket_id]).fetchone():
        ticket_id = new_ticket_id()
    conn.execute(
        "INSERT INTO support_tickets (ticket_id, order_id, order_reference, email, email_key,"
        " name, category, message, status, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)",
        [ticket_id, order_id, issue.order_reference, issue.email, issue.email_key, issue.name,
         issue.category, issue.message, now, now],
    )  # fmt: skip

    label = CATEGORIES[issue.category]
    reply = emails.support_reply(
        ticket_id, label, issue.order_reference if order_id else None, issue.name,
        support_email, medical=issue.category == "accessibility_or_medical",
    )  # fmt: skip
    outbox.enqueue(
        conn,
        dedupe_key=f"support-reply:{ticket_id}",
        channel="email",
        recipient=issue.email,
        payload={"subject": reply.subject, "text": reply.text, "html": reply.html, "reply": True},
        now=now,
        order_id=order_id,
    )
    # No message text and no name: a message may hold a child's medical details.
    where = (
        f"order {order_id}"
        if order_id
        else f"gave {slack_escape(issue.order_reference)}, not matched to an order of theirs"
    )
    outbox.enqueue(
        conn,
        dedupe_key=f"support-slack:{ticket_id}",
        channel="slack",
        payload={"text": f"New support ticket {ticket_id}: {label} ({where})",
                 "skip": not slack_configured},
        now=now,
        order_id=order_id,
    )  # fmt: skip
    return {"ticket_id": ticket_id}


def get_ticket(conn: duckdb.DuckDBPyConnection, ticket_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM support_tickets WHERE ticket_id = ?", [ticket_id]
    ).fetchone()
    return dict(zip(COLUMNS, row, strict=True)) if row else None


def list_tickets(
    conn: duckdb.DuckDBPyConnection, status: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of tickets, newest first, and how many there are in all."""
    where = Where().equal("status", status or None)
    order = "created_at DESC, ticket_id DESC"
    return paging.page(conn, "support_tickets", COLUMNS, where, order, limit, offset)


def update_ticket(
    conn: duckdb.DuckDBPyConnection, ticket_id: str, update: TicketUpdate, now: datetime
) -> dict[str, Any] | None:
    """Apply a staff change; the ticket as it now stands, or None for an unknown id.
    `resolved_at` is set when a ticket becomes resolved and cleared when it is reopened."""
    ticket = get_ticket(conn, ticket_id)
    if ticket is None:
        return None
    status = update.status or ticket["status"]
    if status != "resolved":
        resolved_at = None
    elif ticket["status"] == "resolved":
        resolved_at = ticket["resolved_at"]
    else:
        resolved_at = now
    # None keeps the note; "" clears it.
    note = ticket["staff_note"] if update.staff_note is None else update.staff_note or None
    conn.execute(
        "UPDATE support_tickets SET status = ?, staff_note = ?, resolved_at = ?, updated_at = ?"
        " WHERE ticket_id = ?",
        [status, note, resolved_at, now, ticket_id],
    )
    return get_ticket(conn, ticket_id)


REPLY_COLUMNS = ("reply_id", "ticket_id", "body", "status", "sent_by", "created_at")


def replies(conn: duckdb.DuckDBPyConnection, ticket_id: str) -> list[dict[str, Any]]:
    """The ticket's history of staff replies, oldest first."""
    rows = conn.execute(
        f"SELECT {', '.join(REPLY_COLUMNS)} FROM ticket_replies WHERE ticket_id = ?"
        " ORDER BY created_at, reply_id",
        [ticket_id],
    ).fetchall()
    return [dict(zip(REPLY_COLUMNS, row, strict=True)) for row in rows]


def reply_to_ticket(
    conn: duckdb.DuckDBPyConnection,
    ticket_id: str,
    reply: TicketReply,
    now: datetime,
    mail_domain: str,
    support_email: str,
) -> dict[str, Any] | None:
    """Store the reply on the ticket's history, move the ticket's status (answered:
    in_progress, or resolved when it closes it) and queue the email to the parent, threaded
    to the ticket's first email (`In-Reply-To`/`References` its Message-ID, which the sender
    makes as `<outbox message id@mail_domain>`). One write; a resubmit of the same
    `reply_id` changes and sends nothing more (`new` false). None for an unknown ticket."""
    ticket = get_ticket(conn, ticket_id)
    if ticket is None:
        return None
    added = conn.execute(
        "INSERT INTO ticket_replies (reply_id, ticket_id, body, status, sent_by, created_at)"
        " SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS"
        " (SELECT 1 FROM ticket_replies WHERE reply_id = ?) RETURNING reply_id",
        [reply.reply_id, ticket_id, reply.body, reply.status, reply.by, now, reply.reply_id],
    ).fetchall()
    if added:
        resolved_at = (ticket["resolved_at"] or now) if reply.close else None
        conn.execute(
            "UPDATE support_tickets SET status = ?, resolved_at = ?, updated_at = ?"
            " WHERE ticket_id = ?",
            [reply.status, resolved_at, now, ticket_id],
        )
        first = conn.execute(
            "SELECT message_id FROM outbox WHERE dedupe_key = ?", [f"support-reply:{ticket_id}"]
        ).fetchone()
        answer = emails.ticket_answer(ticket_id, ticket["name"], reply.body, support_email)
        payload: dict[str, Any] = {"subject": answer.subject, "text": answer.text,
                                   "html": answer.html}  # fmt: skip
        if first:
            payload["in_reply_to"] = f"<{first[0]}@{mail_domain}>"
        outbox.enqueue(
            conn,
            dedupe_key=f"ticket-reply:{reply.reply_id}",
            channel="email",
            recipient=ticket["email"],
            payload=payload,
            now=now,
            order_id=ticket["order_id"],
        )
    return {"new": bool(added), "ticket": get_ticket(conn, ticket_id),
            "replies": replies(conn, ticket_id)}  # fmt: skip

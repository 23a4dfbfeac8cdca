from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from core.support import TICKETS_PER_ADDRESS, BookingIssue, TicketUpdate
from store import tickets as support
from store.database import Database

NOW = datetime(2027, 1, 5, 9, 30)


def make_issue(**overrides) -> BookingIssue:
    fields = {
        "order_reference": "ord_known",
        "email": "jane@example.com",
        "category": "accessibility_or_medical",
        "message": "Mia has a severe nut allergy and carries an EpiPen.",
        "name": "Jane Citizen",
    }
    fields.update(overrides)
    return BookingIssue(**fields)


def _insert_order(conn, order_id: str, email: str, session_id: str) -> None:
    conn.execute(
        "INSERT INTO orders (order_id, source, mode, payment_status, fulfillment_status,"
        " customer_email, customer_name, currency, amount_total, checkout_session_id,"
        " created_at, updated_at) VALUES (?, 'checkout', 'payment', 'paid', 'fulfilled', ?,"
        " 'Jane Citizen', 'aud', 8900, ?, ?, ?)",
        [order_id, email, session_id, NOW, NOW],
    )


def _outbox(conn) -> list[dict]:
    rows = conn.execute(
        "SELECT dedupe_key, channel, recipient, order_id, payload FROM outbox ORDER BY channel"
    ).fetchall()
    return [
        {"key": k, "channel": c, "recipient": r, "order_id": o, "payload": json.loads(p)}
        for k, c, r, o, p in rows
    ]


def _open(database: Database, issue: BookingIssue, now: datetime = NOW, slack: bool = True):
    return database.write(support.open_ticket, issue, now, slack, "help@tinkertank.example")


@pytest.fixture
def with_order(database: Database) -> Database:
    database.write(_insert_order, "ord_known", "Jane@Example.com", "cs_test_known")
    return database


def test_a_ticket_is_stored_open_with_its_reply_and_staff_notice(with_order: Database):
    result = _open(with_order, make_issue())

    ticket = with_order.read(support.get_ticket, result["ticket_id"])
    assert ticket["status"] == "open" and ticket["order_id"] == "ord_known"
    assert ticket["message"].startswith("Mia has a severe nut allergy")
    email, slack = with_order.read(_outbox)
    assert email["key"] == f"support-reply:{result['ticket_id']}"
    assert email["recipient"] == "jane@example.com"
    assert result["ticket_id"] in email["payload"]["subject"]
    assert "Accessibility or medical needs" in email["payload"]["text"]
    assert "drop-off" in email["payload"]["html"]
    assert slack["payload"] == {
        "text": f"New support ticket {result['ticket_id']}: Accessibility or medical needs"
        " (order ord_known)",
        "skip": False,
    }


@pytest.mark.parametrize("reference", ["ord_known", "cs_test_known"])
def test_a_reference_of_the_customers_own_order_links_the_ticket(with_order, reference):
    result = _open(with_order, make_issue(order_reference=reference))

    assert with_order.read(support.get_ticket, result["ticket_id"])["order_id"] == "ord_known"


@pytest.mark.parametrize(
    ("reference", "email"),
    [("ord_known", "someone.else@example.com"), ("ord_unknown", "jane@example.com")],
)
def test_another_familys_or_an_unknown_reference_is_kept_but_not_linked(
    with_order, reference, email
):
    result = _open(with_order, make_issue(order_reference=reference, email=email))

    ticket = with_order.read(support.get_ticket, result["ticket_id"])
    assert ticket["order_id"] is None
    assert ticket["order_reference"] == reference
    assert "not matched" in with_order.read(_outbox)[1]["payload"]["text"]


def test_without_slack_the_notice_is_queued_as_skipped(database: Database):
    _open(database, make_issue(), slack=False)

    assert database.read(_outbox)[1]["payload"]["skip"] is True


def test_an_address_gets_a_limited_number_of_tickets_per_hour(database: Database):
    times = [NOW + timedelta(minutes=m) for m in range(TICKETS_PER_ADDRESS)]
    for at in times:
        assert "ticket_id" in _open(database, make_issue(), now=at)

    refused = _open(database, make_issue(email="jane@example.com"), now=NOW + timedelta(minutes=30))

    assert refused == {"retry_after": 30 * 60}
    _, total = database.read(support.list_tickets, None, 50, 0)
    assert total == TICKETS_PER_ADDRESS
    assert "ticket_id" in _open(database, make_issue(email="other@example.com"), now=times[-1])
    assert "ticket_id" in _open(database, make_issue(), now=NOW + timedelta(hours=1, seconds=1))


def test_a_ticket_moves_through_its_statuses_with_the_resolved_time(database: Database):
    ticket_id = _open(database, make_issue())["ticket_id"]
    later = NOW + timedelta(hours=2)

    working = database.write(
        support.update_ticket, ticket_id, TicketUpdate("in_progress", "Called Jane"), later
    )
    resolved = database.write(
        support.update_ticket, ticket_id, TicketUpdate("resolved", None), later
    )
    noted = database.write(
        support.update_ticket,
        ticket_id,
        TicketUpdate(None, "Moved to the 8th"),
        later + timedelta(1),
    )
    reopened = database.write(support.update_ticket, ticket_id, TicketUpdate("open", ""), later)

    assert working["status"] == "in_progress" and working["staff_note"] == "Called Jane"
    assert resolved["resolved_at"] == later and resolved["staff_note"] == "Called Jane"
    assert noted["resolved_at"] == later  # a note on a resolved ticket keeps its time
    assert reopened["resolved_at"] is None and reopened["staff_note"] is None
    assert (
        database.write(support.update_ticket, "TT-NOPE2345", TicketUpdate("open", None), NOW)
        is None
    )


def test_tickets_are_listed_newest_first_and_filtered_by_status(database: Database):
    ids = [
        _open(database, make_issue(email=f"p{n}@example.com"), now=NOW + timedelta(minutes=n))[
            "ticket_id"
        ]
        for n in range(3)
    ]
    database.write(support.update_ticket, ids[1], TicketUpdate("resolved", None), NOW)

    rows, total = database.read(support.list_tickets, None, 2, 0)
    resolved, resolved_total = database.read(support.list_tickets, "resolved", 50, 0)

    assert total == 3 and [r["ticket_id"] for r in rows] == [ids[2], ids[1]]
    assert resolved_total == 1 and resolved[0]["ticket_id"] == ids[1]


def test_a_reference_not_matched_reaches_slack_as_text_never_a_mention_or_link(
    database: Database,
):
    reference = "<!channel> <https://evil.example/refund|REFUND APPROVED> & more"

    _open(database, make_issue(order_reference=reference))

    text = next(m for m in database.read(_outbox) if m["channel"] == "slack")["payload"]["text"]
    assert "&lt;!channel&gt; &lt;https://evil.example/refund|REFUND APPROVED&gt; &amp; more" in text
    assert "<" not in text and ">" not in text

"""core/vocabulary.py against the database: each list is what its column's CHECK allows.

The schema's migrations are history and never edited, so the lists the code builds filters
and labels from live in core/vocabulary.py; this keeps the two from drifting apart.
"""

from __future__ import annotations

import functools
import re

import duckdb
import pytest

from core import clock, vocabulary
from store import schema

_IN_LIST = re.compile(r"""^\("?(\w+)"? IN \((.*)\)\)$""")


@functools.cache
def allowed_values() -> dict[tuple[str, str], tuple[str, ...]]:
    """(table, column) -> the values its CHECK (column IN (...)) allows, in order."""
    conn = duckdb.connect(":memory:")
    schema.migrate(conn, clock.now().replace(tzinfo=None))
    rows = conn.execute(
        "SELECT table_name, expression FROM duckdb_constraints() WHERE constraint_type = 'CHECK'"
    ).fetchall()
    found = {}
    for table, expression in rows:
        match = _IN_LIST.match(expression)
        if match:
            found[(table, match[1])] = tuple(re.findall(r"'([^']*)'", match[2]))
    return found


@pytest.mark.parametrize(
    ("table", "column", "words"),
    [
        ("order_items", "kind", vocabulary.KINDS),
        ("events", "kind", vocabulary.KINDS),
        ("fulfilment_steps", "step", vocabulary.STEPS),
        ("fulfilment_steps", "status", vocabulary.STEP_STATUSES),
        ("orders", "payment_status", vocabulary.PAYMENT_STATUSES),
        ("orders", "fulfillment_status", vocabulary.FULFILLMENT_STATUSES),
        ("bookings", "status", vocabulary.BOOKING_STATUSES),
        ("webhook_inbox", "status", vocabulary.INBOX_STATUSES),
        ("outbox", "channel", vocabulary.MESSAGE_CHANNELS),
        ("outbox", "status", vocabulary.MESSAGE_STATUSES),
        ("error_log", "category", vocabulary.ERROR_CATEGORIES),
        ("staff_actions", "action", vocabulary.STAFF_ACTIONS),
        ("staff_refunds", "status", vocabulary.STAFF_REFUND_STATUSES),
        ("subscription_endings", "status", vocabulary.SUBSCRIPTION_ENDING_STATUSES),
        ("error_log", "severity", vocabulary.SEVERITIES),
        ("support_tickets", "status", vocabulary.TICKET_STATUSES),
        ("staff_bookings", "method", vocabulary.STAFF_BOOKING_METHODS),
        ("waitlist", "status", vocabulary.WAITLIST_STATUSES),
        ("staff_accounts", "role", vocabulary.STAFF_ROLES),
        ("staff_account_changes", "what", vocabulary.STAFF_ACCOUNT_CHANGES),
    ],
)
def test_each_vocabulary_list_is_what_its_column_allows(table, column, words):
    assert allowed_values()[(table, column)] == words

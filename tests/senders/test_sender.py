"""Alerts queued from critical error-log entries (senders/sender.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from senders.sender import queue_alerts
from store import outbox
from store.database import Database
from store.error_log import log_error

NOW = datetime(2027, 1, 5, 9, 30)


def _payloads(conn) -> dict[str, dict]:
    rows = conn.execute("SELECT channel, payload FROM outbox").fetchall()
    return {channel: json.loads(payload) for channel, payload in rows}


def test_an_alert_shows_customer_text_on_slack_as_text_and_in_email_unchanged(
    database: Database,
):
    message = "metadata says <!here> <https://evil.example|pay here> & <@U123>"

    def alert(conn) -> int:
        log_error(conn, category="payment", severity="critical", message=message, now=NOW,
                  order_id="ord_<x>")  # fmt: skip
        return queue_alerts(conn, True, ("ops@example.com",), NOW)

    assert database.write(alert) == 1

    payloads = database.read(_payloads)
    assert payloads["slack"]["text"] == (
        "Critical (payment): metadata says &lt;!here&gt; &lt;https://evil.example|pay here&gt;"
        " &amp; &lt;@U123&gt; [order ord_&lt;x&gt;]"
    )
    assert payloads["email"]["text"] == f"Critical (payment): {message} [order ord_<x>]"


def test_alerts_start_at_the_configured_severity_with_the_amount_and_the_orders_link(
    database: Database,
):
    def entries(conn) -> int:
        conn.execute(
            "INSERT INTO orders (order_id, source, mode, payment_status, fulfillment_status,"
            " currency, amount_total, amount_paid, created_at, updated_at) VALUES"
            " ('ord_1', 'metadata', 'payment', 'paid', 'needs_attention', 'aud', 8900, 8900,"
            " ?, ?)",
            [NOW, NOW],
        )
        log_error(conn, category="booking", severity="high", message="overbooked", now=NOW,
                  order_id="ord_1")  # fmt: skip
        log_error(conn, category="payment", severity="medium", message="a refund", now=NOW)
        return queue_alerts(conn, True, ("ops@example.com",), NOW, "high", "https://ops.example")

    assert database.write(entries) == 1
    # Once: a second pass finds nothing new.
    assert database.write(queue_alerts, True, ("ops@example.com",), NOW, "high", None) == 0

    payloads = database.read(_payloads)
    assert payloads["slack"]["text"] == (
        "High (booking): overbooked [order ord_1, $89.00]"
        " <https://ops.example/orders?order=ord_1|Open the order>"
    )
    assert payloads["email"] == {
        "subject": "[TinkerTank] high booking alert",
        "text": "High (booking): overbooked [order ord_1, $89.00]\n"
        "Open the order: https://ops.example/orders?order=ord_1",
    }
    # From medium on, the medium entry alerts too.
    assert database.write(queue_alerts, True, (), NOW, "medium", None) == 1


def test_an_alert_that_could_not_be_sent_raises_no_alert_of_its_own(database: Database):
    def fail_an_alert(conn) -> int:
        log_error(conn, category="payment", severity="critical", message="disputed", now=NOW)
        queue_alerts(conn, True, (), NOW)
        (message_id,) = conn.execute("SELECT message_id FROM outbox").fetchone()
        outbox.record_failure(conn, message_id, "slack is down", timedelta(0), True, NOW)
        return queue_alerts(conn, True, (), NOW)

    assert database.write(fail_an_alert) == 0
    severities = database.read(
        lambda c: c.execute("SELECT severity FROM error_log ORDER BY severity").fetchall()
    )
    assert severities == [("critical",), ("medium",)]

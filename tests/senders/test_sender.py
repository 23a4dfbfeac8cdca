"""Alerts queued from critical error-log entries (senders/sender.py)."""

from __future__ import annotations

import json
from datetime import datetime

from senders.sender import queue_alerts
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

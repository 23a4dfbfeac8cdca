"""The million-order database, second half: what fulfilment, the outbox, the inbox and the
error log hold for the orders `bench/million.py` made (see its `build`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime


def build_activity(
    run: Callable[[str, str], None], now: datetime, paid: str, recent_trouble: str
) -> None:
    """Steps, messages, events received and errors, each table in one statement."""
    run("fulfilment_steps", f"""
        INSERT INTO fulfilment_steps (order_id, step, status, attempts, next_attempt_at,
            last_error, updated_at, finished_at, created_at)
        SELECT g.order_id, s.step,
            CASE WHEN NOT ({recent_trouble}) OR s.n < 2 THEN 'done'
                 WHEN s.n = 2 THEN 'failed' ELSE 'pending' END,
            CASE WHEN {recent_trouble} AND s.n = 2 THEN 4
                 WHEN {recent_trouble} AND s.n > 2 THEN 0 ELSE 1 END, NULL,
            CASE WHEN {recent_trouble} AND s.n = 2
                 THEN 'ConnectionError: calendar backend unreachable' END,
            g.created_at + to_seconds(60 + s.n), CASE WHEN NOT ({recent_trouble}) OR s.n < 2
                 THEN g.created_at + to_seconds(60 + s.n) END,
            g.created_at + INTERVAL 1 MINUTE
        FROM g, (VALUES (0, 'record_payment'), (1, 'create_bookings'), (2, 'schedule_events'),
                        (3, 'send_confirmation'), (4, 'notify_staff')) s(n, step)
        WHERE {paid} ORDER BY g.i, s.n
    """)  # fmt: skip
    run("outbox", """
        INSERT INTO outbox (message_id, dedupe_key, channel, order_id, recipient, payload,
            status, attempts, next_attempt_at, last_error, created_at, sent_at)
        SELECT 'msg_' || m.kind || '_' || o.order_id, m.kind || ':' || o.order_id, m.channel,
            o.order_id, CASE WHEN m.channel = 'email' THEN o.customer_email END,
            CASE WHEN m.channel = 'email' THEN '{{"template": "confirmation"}}'
                 ELSE '{{"text": "New booking ' || o.order_id || '"}}' END,
            CASE WHEN m.channel = 'email' AND hash(o.order_id, 'mf') % 1000 < 2 THEN 'failed'
                 ELSE 'sent' END,
            CASE WHEN m.channel = 'email' AND hash(o.order_id, 'mf') % 1000 < 2 THEN 4 ELSE 1
                END, NULL,
            CASE WHEN m.channel = 'email' AND hash(o.order_id, 'mf') % 1000 < 2
                 THEN 'SMTP: SMTPRecipientsRefused: mailbox unavailable' END,
            o.created_at + INTERVAL 2 MINUTE,
            CASE WHEN NOT (m.channel = 'email' AND hash(o.order_id, 'mf') % 1000 < 2)
                 THEN o.created_at + INTERVAL 3 MINUTE END
        FROM orders o, (VALUES ('conf', 'email'), ('staff', 'slack')) m(kind, channel)
        WHERE o.paid_at IS NOT NULL AND o.fulfillment_status <> 'needs_attention'
        ORDER BY o.created_at, o.order_id, m.kind
    """)  # fmt: skip
    envelope = (
        '\'{{"id":"\' || e.event_id || \'","object":"event","api_version":'
        '"2025-09-30.clover","created":\' || epoch(e.at)::BIGINT || \',"data":{{"object":'
        '{{"id":"\' || e.object_id || \'","object":"\' || e.object || \'","amount":\''
        ' || o.amount_total || \',"amount_total":\' || o.amount_total || \',"currency":'
        '"aud","client_reference_id":"\' || o.order_id || \'","customer_details":'
        '{{"email":"\' || o.customer_email || \'","name":"\' || o.customer_name || \'"}},'
        '"metadata":{{"order_id":"\' || o.order_id || \'"}},"payment_intent":"\''
        ' || o.payment_intent_id || \'","payment_status":"paid","status":"complete"}}'
        '}},"livemode":true,"pending_webhooks":1,"request":{{"id":null,'
        '"idempotency_key":null}},"type":"\' || e.type || \'"}}\''
    )
    # Events finished more than 35 days ago are in the inbox's archive, as the store's
    # archive pass leaves them (store/inbox_archive.py).
    for table, extra, value, when in (
        ("webhook_inbox", "", "", ">="),
        ("webhook_inbox_archive", ", archived_at", ", TIMESTAMP '{now}'", "<"),
    ):
        run(table, f"""
            INSERT INTO {table} (event_id, type, object_id, livemode, api_version,
                created_at, payload, received_at, status, attempts, next_attempt_at,
                last_error, processed_at, order_id{extra})
            SELECT e.event_id, e.type, e.object_id, true, '2025-09-30.clover',
                date_trunc('second', e.at), {envelope}, e.at, 'processed', 1, NULL, NULL,
                e.at + to_milliseconds((40 + hash(e.event_id) % 300)::INTEGER),
                o.order_id{value}
            FROM orders o CROSS JOIN LATERAL (
                SELECT 'evt_' || substr(md5(o.order_id || x.type), 1, 24) AS event_id, x.type,
                       x.object_id, x.object, x.at_ AS at
                FROM (VALUES
                    ('checkout.session.completed', o.checkout_session_id, 'checkout.session',
                     o.paid_at, o.paid_at IS NOT NULL),
                    ('payment_intent.succeeded', o.payment_intent_id, 'payment_intent',
                     o.paid_at + INTERVAL 1 SECOND, o.paid_at IS NOT NULL),
                    ('checkout.session.expired', o.checkout_session_id, 'checkout.session',
                     o.expires_at, o.payment_status = 'expired'),
                    ('charge.refunded', 'ch_' || substr(md5(o.order_id), 1, 24), 'charge',
                     o.paid_at + INTERVAL 3 DAY, o.amount_refunded > 0),
                    ('charge.dispute.created', 'dp_' || substr(md5(o.order_id), 1, 24),
                     'dispute', o.paid_at + INTERVAL 9 DAY, o.payment_status = 'disputed'))
                    x(type, object_id, object, at_, happened)
                WHERE x.happened AND x.at_ < TIMESTAMP '{{now}}'
                    AND x.at_ {when} TIMESTAMP '{{now}}' - INTERVAL 35 DAY) e
            ORDER BY e.at, e.event_id
        """)  # fmt: skip
    run(
        "refunds",
        """
        INSERT INTO refunds (refund_key, order_id, amount, currency, stripe_event_id,
            refunded_at)
        SELECT order_id || ':' || CAST(amount_refunded AS VARCHAR), order_id, amount_refunded,
            currency, 'evt_' || substr(md5(order_id || 'charge.refunded'), 1, 24),
            paid_at + INTERVAL 3 DAY
        FROM orders WHERE amount_refunded > 0 AND paid_at + INTERVAL 3 DAY < TIMESTAMP '{now}'
        ORDER BY paid_at
    """,
    )
    run("error_log", f"""
        INSERT INTO error_log (error_id, dedupe_key, category, severity, message, context,
            order_id, stripe_event_id, step, created_at, resolved_at, resolved_by)
        SELECT 'err_' || substr(md5(x.key), 1, 22), x.key, x.category, x.severity, x.message,
            NULL, x.order_id, x.event_id, x.step, x.at,
            CASE WHEN x.at < TIMESTAMP '{{now}}' - x.open_for THEN x.at + INTERVAL 1 DAY END,
            CASE WHEN x.at < TIMESTAMP '{{now}}' - x.open_for THEN 'bench staff' END
        FROM (
            SELECT 'step:' || g.order_id AS key, 'calendar' AS category, 'high' AS severity,
                'schedule_events failed after 4 attempt(s): ConnectionError: calendar backend'
                    || ' unreachable' AS message, g.order_id, NULL AS event_id,
                'schedule_events' AS step, g.created_at + INTERVAL 5 MINUTE AS at,
                INTERVAL 30 DAY AS open_for
            FROM g WHERE g.trouble AND {paid}
            UNION ALL
            SELECT 'partial-refund:' || o.order_id, 'payment', 'medium',
                'partial refund of ' || o.amount_refunded || ' of ' || o.amount_total
                    || ': bookings kept; check whether any should be cancelled',
                o.order_id, 'evt_' || substr(md5(o.order_id || 'charge.refunded'), 1, 24), NULL,
                o.paid_at + INTERVAL 3 DAY, INTERVAL 14 DAY
            FROM orders o WHERE o.payment_status = 'partially_refunded'
            UNION ALL
            SELECT 'dispute:' || o.order_id, 'payment', 'critical',
                'dispute opened (fraudulent) for ' || o.amount_total
                    || ' aud: respond in Stripe before the deadline',
                o.order_id, 'evt_' || substr(md5(o.order_id || 'charge.dispute.created'), 1, 24),
                NULL, o.paid_at + INTERVAL 9 DAY, INTERVAL 60 DAY
            FROM orders o WHERE o.payment_status = 'disputed'
            UNION ALL
            SELECT 'mail:' || m.message_id, 'email', 'high',
                'email ' || m.dedupe_key || ' not sent after 4 attempt(s): ' || m.last_error,
                m.order_id, NULL, NULL, m.created_at + INTERVAL 1 MINUTE, INTERVAL 7 DAY
            FROM outbox m WHERE m.status = 'failed'
            UNION ALL
            SELECT 'system:' || g.i, 'system', 'low', 'Slack answered 503; retried', NULL,
                NULL, NULL, g.created_at, INTERVAL 2 DAY
            FROM g WHERE g.r_err = 7) x
        WHERE x.at < TIMESTAMP '{{now}}'
        ORDER BY x.at
    """)  # fmt: skip
    # Critical entries were alerted when they were logged (the sender's keys for them).
    run(
        "alerts",
        """
        INSERT INTO outbox (message_id, dedupe_key, channel, order_id, recipient, payload,
            status, attempts, created_at, sent_at)
        SELECT 'msg_alert_' || error_id, 'alert:' || error_id, 'slack', order_id, NULL,
            '{{"text": "critical"}}', 'sent', 1, created_at, created_at
        FROM error_log WHERE severity = 'critical' ORDER BY created_at
    """,
    )
    run(
        "support_tickets",
        """
        INSERT INTO support_tickets (ticket_id, order_id, email, category, message, status,
            staff_note, created_at, updated_at, resolved_at)
        SELECT 'TT-' || upper(substr(md5(order_id || 't'), 1, 8)), order_id, customer_email,
            'booking', 'Can we change the day of our booking?',
            CASE WHEN created_at < TIMESTAMP '{now}' - INTERVAL 7 DAY THEN 'resolved'
                 ELSE 'open' END, NULL, created_at + INTERVAL 1 HOUR,
            created_at + INTERVAL 1 HOUR,
            CASE WHEN created_at < TIMESTAMP '{now}' - INTERVAL 7 DAY
                 THEN created_at + INTERVAL 2 DAY END
        FROM orders WHERE hash(order_id, 'ticket') % 200 = 0 ORDER BY created_at
    """,
    )

"""The words the store, the API and the dashboard share: one list each, named once.

The database holds the same lists in its CHECK constraints (`store/schema.py`, whose
migrations are history and never edited); `tests/store/test_vocabulary.py` checks that
each list here is the one its column allows.
"""

from __future__ import annotations

# What can be booked: a camp day, a party slot, an Ignite enrolment.
KINDS = ("camp", "party", "ignite")

# A paid order's fulfilment steps, in the order they run (fulfilment_steps.step).
STEPS = (
    "record_payment",
    "create_bookings",
    "schedule_events",
    "send_confirmation",
    "notify_staff",
)
STEP_STATUSES = ("pending", "running", "done", "failed", "skipped")

# orders.payment_status and orders.fulfillment_status.
PAYMENT_STATUSES = (
    "pending",
    "paid",
    "failed",
    "expired",
    "partially_refunded",
    "refunded",
    "disputed",
)
FULFILLMENT_STATUSES = ("waiting", "in_progress", "fulfilled", "needs_attention", "cancelled")

# bookings.status: a conflict is a paid booking whose seat or room was gone.
BOOKING_STATUSES = ("confirmed", "cancelled", "conflict")

# webhook_inbox.status: the Stripe events received, as far as they got.
INBOX_STATUSES = ("received", "processing", "processed", "failed", "ignored")

# outbox.channel and outbox.status: the messages we send.
MESSAGE_CHANNELS = ("email", "slack")
MESSAGE_STATUSES = ("pending", "sent", "failed")

# error_log.category and error_log.severity: what went wrong, and how urgently it matters.
ERROR_CATEGORIES = ("payment", "calendar", "email", "booking", "system")
SEVERITIES = ("low", "medium", "high", "critical")

# support_tickets.status.
TICKET_STATUSES = ("open", "in_progress", "resolved")

# staff_accounts.role: who may do what on the staff API (docs/security.md, Staff roles),
# least first: an analyst reads, staff run operations, an admin also runs accounts,
# capacity and the catalog.
STAFF_ROLES = ("analyst", "staff", "admin")

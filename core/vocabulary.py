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
# Views of the inbox beside its statuses (issue 16): `waiting` is a received event put off
# until what it needs is there (webhook_inbox.waiting_for set); `not_ours` an ignored event
# of a payment, invoice or subscription that is not TinkerTank's (webhook_inbox.not_ours).
INBOX_VIEWS = ("waiting", "not_ours")

# STRIPE_ACCOUNT_MODE: the Stripe account is the bookings' alone, or shared with other sales.
ACCOUNT_MODES = ("dedicated", "shared")

# outbox.channel and outbox.status: the messages we send.
MESSAGE_CHANNELS = ("email", "slack", "sms")
MESSAGE_STATUSES = ("pending", "sent", "failed", "skipped")

# Words a parent texts back: to stop our text messages, and to have them again (Twilio's
# standard opt-out and opt-in keywords; sms_opt_outs.keyword).
SMS_STOP_WORDS = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
SMS_START_WORDS = ("START", "YES", "UNSTOP")

# error_log.category and error_log.severity: what went wrong, and how urgently it matters.
ERROR_CATEGORIES = ("payment", "calendar", "email", "booking", "system")
SEVERITIES = ("low", "medium", "high", "critical")

# support_tickets.status.
TICKET_STATUSES = ("open", "in_progress", "resolved")

# Attendance at the door (core/attendance.py): what staff do to a child's booking, and
# where each child stands (a flag for staff to act on: not arrived 15 minutes after the
# start, or still not collected after the end).
ATTENDANCE_ACTIONS = ("check_in", "check_out")
ATTENDANCE_STATES = ("expected", "not_arrived", "checked_in", "late_pickup", "checked_out")
ATTENDANCE_FLAGS = ("not_arrived", "late_pickup")


# staff_bookings.method: how a booking staff took by phone is paid (a manual order's
# payment, or a Stripe Checkout link emailed to the parent).
STAFF_BOOKING_METHODS = ("cash", "voucher", "free_place", "checkout_link", "credit")

# waitlist.status: a family waiting for a place, offered one (a hold for 24 h), booked
# through the offer, passed over when the offer lapsed, or taken off by staff.
WAITLIST_STATUSES = ("waiting", "offered", "converted", "lapsed", "removed")

# staff_actions.action: what staff did to an order or an event (issue 12).
STAFF_ACTIONS = ("refund", "cancel", "move", "end_subscription", "capacity", "credit")
# staff_account_changes.what: what an admin (or the machine) changed about an account.
STAFF_ACCOUNT_CHANGES = ("add", "role", "disable", "enable", "password", "oidc_sign_in")
# staff_refunds.status: asked of Stripe, or applied by the charge.refunded it caused.
STAFF_REFUND_STATUSES = ("requested", "applied")
# subscription_endings.status: a request is asking Stripe to end it, or Stripe answered.
SUBSCRIPTION_ENDING_STATUSES = ("claimed", "done")

# staff_accounts.role: who may do what on the staff API (docs/security.md, Staff roles),
# least first: an analyst reads, staff run operations, an admin also runs accounts,
# capacity and the catalog.
STAFF_ROLES = ("analyst", "staff", "admin")

"""The words the store, the API and the dashboard share: one list each, named once."""

from __future__ import annotations

# A paid order's fulfilment steps, in the order they run.
STEPS = (
    "record_payment",
    "create_bookings",
    "schedule_events",
    "send_confirmation",
    "notify_staff",
)

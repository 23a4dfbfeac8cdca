"""The inbox's archive on a real sidecar (store/inbox_archive.py): the same database opened
40 days later (the clock moved with CLOCK_SHIFT_SECONDS) moves the finished events out of
the inbox at start; the order's timeline, the counts and a late redelivery still see them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import CLOCK_SHIFT
from tests.sidecar.test_fulfilment import (
    camp,
    checkout,
    fulfilled,
    pay,
    shop_env,
    status_when,
    wait_for,
)

LATER = timedelta(days=40).total_seconds()


@pytest.mark.postgres_xfail("PostgreSQL keeps every event in the inbox: its index is on disk")
def test_forty_days_on_the_orders_events_are_archived_and_still_seen(start_sidecar_process, fake):
    today = start_sidecar_process(**shop_env(fake))
    order_id, session_id = checkout(today, fake, [camp("2027-01-04", "day", "Ada")])
    paid = pay(today, fake, session_id)
    status_when(today, order_id, fulfilled)
    timeline = {
        e["event_id"] for e in today.staff_get(f"/api/orders/{order_id}").json()["stripe_events"]
    }
    assert paid["id"] in timeline
    today.server.stop()

    later = start_sidecar_process(**shop_env(fake), CLOCK_SHIFT_SECONDS=str(CLOCK_SHIFT + LATER))
    counts = wait_for(lambda: (c := later.staff_get("/api/inbox/counts").json())["archived"] and c)
    assert counts["archived"] >= 1
    listed = later.staff_get("/api/inbox", limit=100).json()["events"]
    assert paid["id"] not in {e["event_id"] for e in listed}
    # Still there: the event by its id, and on the order's timeline.
    event = later.staff_get(f"/api/inbox/{paid['id']}").json()
    assert event["status"] == "processed" and event["archived_at"]
    detail = later.staff_get(f"/api/orders/{order_id}").json()
    assert paid["id"] in {e["event_id"] for e in detail["stripe_events"]}
    # Stripe does not resend an event this old; if it came, it would store nothing.
    assert later.deliver(paid).status_code == 200
    again = later.staff_get("/api/inbox/counts").json()
    assert sum(again.values()) == sum(counts.values())

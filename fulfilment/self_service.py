"""Parents changing their own bookings from the "manage booking" link (issue 12 item 6,
sidecar/manage_booking.py), within the catalog's cancellation policy (core/self_service.py).

`manage_view` is what the page shows: each booking with what may be done now, and for a camp
day that may be swapped, the other days of that camp with a place free. `cancel_for_credit`
and `swap_day` run in the single writer and check the policy again there, at the moment of
the write, then do exactly what staff's cancel and move do (fulfilment/staff_actions.py):
the same capacity check, freed place, change email and audit row (actor `parent <email>`).
A cancel inside the policy is a refund, made by the sidecar through Stripe as staff's is.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import duckdb

from core import self_service
from core.catalog import Camp, Catalog
from core.slot_keys import camp_capacity_key
from core.staff_requests import MoveRequest
from fulfilment import staff_actions as actions
from store import capacity, manage_views, orders, staff_actions

CANCEL_REASON = "cancelled online by the parent"
SWAP_REASON = "swapped online by the parent"


def _aware(naive_utc: datetime) -> datetime:
    return naive_utc.replace(tzinfo=UTC)


def _options(catalog: Catalog, order: dict[str, Any], booking: dict[str, Any],
             now: datetime) -> self_service.Options:  # fmt: skip
    if booking["refund_pending"] and booking["status"] == "confirmed":
        return self_service.Options(self_service.NOT_ALLOWED, 0, False,
                                    "A refund of this booking is under way.")  # fmt: skip
    return self_service.options(
        catalog.cancellation_policy.get(booking["kind"]), booking["kind"], booking["status"],
        _aware(booking["starts_at"]), booking["unit_amount"], order["currency"], now,
        catalog.tz,
    )  # fmt: skip


def free_days(
    conn: duckdb.DuckDBPyConnection, catalog: Catalog, booking: dict[str, Any], now: datetime
) -> list[date]:
    """The other days of a booking's camp, far enough ahead, with a place free."""
    try:
        camp = catalog.product(booking["product_id"])
    except KeyError:
        return []
    if not isinstance(camp, Camp):
        return []
    policy = catalog.cancellation_policy.get("camp")
    booked = _aware(booking["starts_at"]).astimezone(catalog.tz).date()
    days = [d for d in camp.dates if d != booked and policy is not None
            and self_service.may_swap_to(d, now, catalog.tz, policy)]  # fmt: skip
    keys = {d: camp_capacity_key(camp.id, d) for d in days}
    overridden = capacity.overrides(conn, keys.values())
    naive_now = now.astimezone(UTC).replace(tzinfo=None)
    return [
        day
        for day, key in keys.items()
        if orders.places_used(conn, key, naive_now) < overridden.get(key, camp.capacity)
    ]


def manage_view(
    conn: duckdb.DuckDBPyConnection, order_id: str, catalog_path: str, now: datetime
) -> dict[str, Any] | None:
    """The order and its bookings, each with `options` (core/self_service.Options) and, when
    it may be swapped, `swap_days` (dates with a place free). `now` is aware."""
    catalog = actions.catalog_at(catalog_path)
    order = manage_views.manage_rows(conn, order_id)
    if order is None:
        return None
    for booking in order["bookings"]:
        booking["options"] = _options(catalog, order, booking, now)
        booking["swap_days"] = (
            free_days(conn, catalog, booking, now) if booking["options"].swap else []
        )
    return order


def _booking(order: dict[str, Any], booking_id: str) -> dict[str, Any] | None:
    return next((b for b in order["bookings"] if b["booking_id"] == booking_id), None)


def cancel_for_credit(
    conn: duckdb.DuckDBPyConnection, order_id: str, booking_id: str, catalog_path: str,
    now: datetime,
) -> actions.Outcome:  # fmt: skip
    """Cancel, keeping the price as credit, when the policy says credit now (`now` aware)."""
    order = manage_view(conn, order_id, catalog_path, now)
    booking = _booking(order, booking_id) if order else None
    if order is None or booking is None:
        return actions.Outcome(404, "no such booking on this order")
    if booking["status"] == "cancelled":  # a double submit, or done by staff meanwhile
        return actions.Outcome(200, "This booking is cancelled.", already=True)
    if booking["options"].cancel != self_service.CREDIT:
        return actions.Outcome(409, booking["options"].why)
    return actions.cancel_booking(
        conn, booking_id, CANCEL_REASON, f"parent {order['customer_email']}", catalog_path,
        now.astimezone(UTC).replace(tzinfo=None),
    )  # fmt: skip


def swap_day(
    conn: duckdb.DuckDBPyConnection, order_id: str, booking_id: str, day: date, nonce: str,
    catalog_path: str, now: datetime,
) -> actions.Outcome:  # fmt: skip
    """Move a camp day to `day` (same camp and session) when the policy allows both days;
    the capacity check is staff's move's, in this same write. `nonce` is the form's: the
    same form submitted twice moves once."""
    catalog = actions.catalog_at(catalog_path)
    naive_now = now.astimezone(UTC).replace(tzinfo=None)
    request_key = f"parent:{nonce}"
    order = manage_view(conn, order_id, catalog_path, now)
    booking = _booking(order, booking_id) if order else None
    if order is None or booking is None:
        return actions.Outcome(404, "no such booking on this order")
    if staff_actions.find(conn, request_key) is None:  # else: the same form again
        policy = catalog.cancellation_policy.get("camp")
        if not booking["options"].swap or policy is None:
            return actions.Outcome(409, "This booking can no longer be swapped online.")
        if not self_service.may_swap_to(day, now, catalog.tz, policy):
            return actions.Outcome(409, f"{day:%A %-d %B} is too close to swap into online.")
    move = MoveRequest(date=day, session=None, start_time=None, room=None, reason=SWAP_REASON)
    return actions.move_booking(conn, booking_id, move, f"parent {order['customer_email']}",
                                request_key, catalog_path, naive_now)  # fmt: skip

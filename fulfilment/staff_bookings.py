"""Bookings staff make by hand: one taken by phone, and an order repaired with its cart.

Write functions for the store's single writer: the capacity check and the taking are one
transaction, so staff and the storefront never both take the last place.

- **A manual order** (cash, voucher, a free place): the order is placed as a checkout's
  would be (a place held per item), recorded as paid with what was taken, and its steps run
  as for any paid order: bookings, events, the confirmation email with its invites, the
  staff notice.
- **Credit** kept on another order (staff cancelled a booking without a refund): the
  cart's price is drawn from that order's credit in the same write, once (the request's
  key, and the credit only goes down while enough is left), and recorded on that order's
  timeline (`staff_actions`, `credit`); not enough credit books nothing (422).
- **A checkout link**: the order is placed with its places held until the link expires,
  and the parent is emailed a link that opens Stripe Checkout for it
  (`sidecar/payment_links.py`); the payment then flows in as any checkout's.
- **A repair**: a `needs_attention` order that was paid without a usable cart gets the cart
  it should have had, and its skipped steps run. Its items' unique keys (and the
  order_repairs key) make a double submit repair once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from core.cart import Cart
from core.payments import dollars
from store import (
    error_log,
    fulfilment_steps,
    order_state,
    orders,
    outbox,
    staff_actions,
    staff_bookings,
)


@dataclass(frozen=True)
class StaffBooking:
    order: orders.NewOrder
    method: str  # core.vocabulary.STAFF_BOOKING_METHODS
    amount: int  # cents taken (cash, voucher; 0 for a free place) or to pay (a link)
    reference: str | None
    request_key: str | None
    by: str
    from_order: str | None = None  # credit: the order whose credit pays


@dataclass(frozen=True)
class Booked:
    order_id: str | None = None
    created: bool = False
    problems: list[dict[str, str]] = field(default_factory=list)  # 409: places gone
    invalid: list[dict[str, str]] = field(default_factory=list)  # 422: the credit
    credit_left: int | None = None  # credit: what is left on the order that paid


def book(conn: duckdb.DuckDBPyConnection, booking: StaffBooking) -> Booked:
    order, now = booking.order, booking.order.now
    if booking.request_key is not None:
        earlier = staff_bookings.by_request(conn, booking.request_key)
        if earlier is not None:
            left = order_state.credit_of(conn, booking.from_order) if booking.from_order else None
            return Booked(order_id=earlier, credit_left=left and left[0])
    if booking.method == "credit":
        refused = _credit_refused(conn, booking)
        if refused:
            return Booked(invalid=[{"path": "payment.from_order", "message": refused}])
    problems = orders.place_order(conn, order)
    if problems:
        return Booked(problems=problems)
    order_id, cart = order.order_id, order.cart
    credit_left = None
    if booking.method == "credit":
        credit_left = order_state.spend_credit(conn, booking.from_order, booking.amount, now)
        assert credit_left is not None  # checked above, in this same write
    staff_bookings.record(
        conn, order_id, booking.method, booking.amount, cart.currency, booking.reference,
        booking.request_key, booking.by, now,
    )  # fmt: skip
    if booking.method == "credit":
        spent = dollars(booking.amount, cart.currency)
        staff_actions.record(
            conn, request_key=f"credit:{order_id}", order_id=booking.from_order,
            action="credit", actor=booking.by, reason=booking.reference or "paid with credit",
            details={"amount": booking.amount, "amount_text": spent, "to_order_id": order_id,
                     "credit_left": credit_left,
                     "message": f"{spent} of credit paid for order {order_id}"},
            now=now,
        )  # fmt: skip
    if booking.method == "checkout_link":
        outbox.enqueue(
            conn,
            dedupe_key=f"payment-link:{order_id}",
            channel="email",
            payload={
                "template": "payment_link",
                "name": cart.customer.name,
                "labels": [request.label for request in order.holds],
                "expires_at": order.expires_at.isoformat(),
            },
            now=now,
            recipient=cart.customer.email,
            order_id=order_id,
        )
    else:
        order_state.advance_payment_status(conn, order_id, "paid", now)
        order_state.record_payment(conn, order_id, booking.amount, None, now)
        fulfilment_steps.queue_after_payment(conn, order_id, "pending", now)
    return Booked(order_id=order_id, created=True, credit_left=credit_left)


def _credit_refused(conn: duckdb.DuckDBPyConnection, booking: StaffBooking) -> str | None:
    """Why the other order's credit cannot pay for this booking, or None."""
    found = order_state.credit_of(conn, booking.from_order)
    if found is None:
        return f"no order {booking.from_order}"
    credit, currency = found
    cart = booking.order.cart
    family = order_state.customer_email(conn, booking.from_order) or ""
    if family.casefold() != cart.customer.email.casefold():
        return (
            f"the credit on {booking.from_order} is {family or 'another family'}'s; this"
            f" booking is for {cart.customer.email}: a family's credit pays for its own"
            " bookings"
        )
    if currency != cart.currency:
        return (
            f"{booking.from_order} holds credit in {currency.upper()}; this booking is in"
            f" {cart.currency.upper()}"
        )
    if credit < booking.amount:
        return (f"{booking.from_order} has {dollars(credit, currency)} of credit; this booking"
                f" is {dollars(booking.amount, currency)}: take the rest another way")  # fmt: skip
    return None


@dataclass(frozen=True)
class Repaired:
    outcome: str  # repaired, not_found, not_repairable, amount_differs
    message: str = ""
    steps: int = 0


def repair(
    conn: duckdb.DuckDBPyConnection, order_id: str, cart: Cart, by: str, now: datetime
) -> Repaired:
    """Attach `cart` to an order paid without one, and run its steps."""
    row = conn.execute(
        "SELECT fulfillment_status, amount_paid, currency, paid_at FROM orders WHERE order_id = ?",
        [order_id],
    ).fetchone()
    if row is None:
        return Repaired("not_found", f"no order {order_id}")
    status, paid, currency, paid_at = row
    items = conn.execute(
        "SELECT count(*) FROM order_items WHERE order_id = ?", [order_id]
    ).fetchone()[0]
    if items or status != "needs_attention":
        return Repaired(
            "not_repairable",
            f"order {order_id} already has its cart ({items} items, {status}): only an"
            " order that needs attention for a payment without a usable cart can be repaired",
        )
    if paid_at is not None and (cart.amount_total != paid or cart.currency != currency):
        return Repaired(
            "amount_differs",
            f"the cart comes to {dollars(cart.amount_total, cart.currency)} but"
            f" {dollars(paid, currency)} was paid: attach the cart that was paid for",
        )
    staff_bookings.record_repair(conn, order_id, by, now)
    order_state.repaired(conn, order_id, cart, by, now)
    steps = fulfilment_steps.resume_skipped(conn, order_id, now)
    for error_id in conn.execute(
        "SELECT error_id FROM error_log WHERE order_id = ? AND resolved_at IS NULL"
        " AND category = 'payment'",
        [order_id],
    ).fetchall():
        error_log.resolve(conn, error_id[0], by, now)
    return Repaired("repaired", steps=steps)

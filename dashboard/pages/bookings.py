"""Bookings: add one taken by phone (paid in cash, by voucher, a free place, with credit kept
on another order, or a Checkout link emailed to the parent), and repair an order paid
without a usable cart."""

from __future__ import annotations

import secrets

import streamlit as st

from dashboard import session, ui
from dashboard.cart_form import cart_fields

METHODS = {
    "cash": "Cash",
    "voucher": "Voucher",
    "free_place": "Free place",
    "credit": "Credit kept on another order",
    "checkout_link": "Checkout link (email the parent a link to pay)",
}
REQUEST_KEY = "booking-request-id"


def _with_message(answer: dict, template: str) -> dict:
    return {**answer, "message": template.format(**answer)}


api = session.api()
ui.page_title("Bookings")

# One request id per booking being entered: a double click books once, and the next
# booking gets a new id once this one is done.
request_id = st.session_state.setdefault(REQUEST_KEY, secrets.token_urlsafe(12))

products: list[dict] = []
with ui.section():
    products = api.catalog()["products"]

add, repair = st.tabs(["Add a booking", "Repair an order"])
with add, st.form("add-booking"):
    cart = cart_fields("booking", products)
    method = st.selectbox("Payment", list(METHODS), format_func=METHODS.get, key="booking-method")
    left, right = st.columns(2)
    dollars = left.number_input(
        "Taken ($, cash or voucher)", min_value=0.0, step=1.0, value=0.0, key="booking-amount"
    )
    reference = right.text_input("Receipt or voucher code", key="booking-reference")
    from_order = st.text_input(
        "Order whose credit pays (credit)", key="booking-from-order",
        help="The order a booking was cancelled from with its price kept as credit.",
    )  # fmt: skip
    hold_hours = st.number_input(
        "Hold the place for (hours, Checkout link)", min_value=1, max_value=24, value=24,
        key="booking-hold-hours",
    )  # fmt: skip
    book = st.form_submit_button("Book", type="primary", key="booking-submit")
if book:
    payment: dict = {"method": method}
    if method in ("cash", "voucher"):
        payment["amount"] = round(dollars * 100)
    if reference.strip():
        payment["reference"] = reference.strip()
    if method == "credit":
        payment["from_order"] = from_order.strip()
    body = {"cart": cart, "payment": payment, "by": session.staff_name(),
            "request_id": request_id}  # fmt: skip
    if method == "checkout_link":
        body["hold_hours"] = int(hold_hours)

    def add_booking() -> dict:
        answer = api.add_booking(body)
        st.session_state.pop(REQUEST_KEY, None)
        if "credit_left" in answer:
            answer["credit_left_text"] = f"${(answer['credit_left'] or 0) / 100:,.2f}"
        return answer

    done = "Booked and confirmed: order {order_id}."
    if method == "credit":
        done = "Booked with credit: order {order_id} ({credit_left_text} credit left)."
    if method == "checkout_link":
        done = "Places held; the parent is emailed a link to pay: order {order_id}."
    ui.act(lambda: _with_message(add_booking(), done), "Booked.")

with repair, st.form("repair-order"):
    st.caption(
        "For an order that needs attention because it was paid without a usable cart: attach"
        " the booking it should have had, and it books and confirms as any paid order."
    )
    order_id = st.text_input("Order id", key="repair-order-id")
    repair_cart = cart_fields("repair", products)
    fix = st.form_submit_button("Repair", type="primary", key="repair-submit")
if fix:
    ui.act(
        lambda: _with_message(
            api.repair_order(order_id.strip(), repair_cart, session.staff_name()),
            "Repaired: order {order_id} is booking now.",
        ),
        "Repaired.",
    )

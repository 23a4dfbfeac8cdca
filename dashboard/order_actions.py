"""Staff actions' forms (docs/staff-actions.md): on the order page, refund items or money,
end an Ignite subscription, cancel a booking keeping credit, move a booking; on the
calendar's roster, an event's capacity. Each form asks why, goes
through the staff API and shows what it did (or why not) at the top of the page.

A refund or a move carries an Idempotency-Key kept for the form until it succeeds, so a
double click (or a rerun) does it once."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from client.staff_api import StaffApi
from core.catalog import CAMP_SESSION_KINDS
from dashboard import formatting as fmt
from dashboard import ui


def _form_key(name: str) -> str:
    """The Idempotency-Key of a form, the same until its action succeeds."""
    return st.session_state.setdefault(f"idempotency-{name}", secrets.token_urlsafe(16))


def _once(name: str, call: Callable[[str], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    def run() -> dict[str, Any]:
        answer = call(_form_key(name))
        st.session_state.pop(f"idempotency-{name}", None)  # done: the next one is new
        return answer

    return run


def _item_label(item: dict[str, Any], currency: str) -> str:
    when = " ".join(str(item.get(k)) for k in ("item_date", "session", "start_time") if item.get(k))
    return (f"{item.get('student') or '?'} · {item['product_id']} {when} ·"
            f" {fmt.money(item.get('unit_amount'), currency)}")  # fmt: skip


def _booking_label(booking: dict[str, Any], tz: ZoneInfo) -> str:
    event = booking.get("event") or {}
    return (f"{booking.get('student') or '?'} · {event.get('title', '?')} ·"
            f" {fmt.local_time(event.get('starts_at'), tz)} · {booking['status']}")  # fmt: skip


def order_actions(api: StaffApi, answer: dict[str, Any], tz: ZoneInfo) -> None:
    order = answer["order"]
    order_id, currency = order["order_id"], order.get("currency") or "aud"
    if order.get("credit_amount"):
        st.info(f"Credit kept on this order: {fmt.money(order['credit_amount'], currency)}")
    # Open again after a refund or an ending, so that what it did shows next to its button.
    pending = st.session_state.get(ui.RESULTS_KEY, {})
    opened = f"refund-{order_id}" in pending or f"end-{order_id}" in pending
    with st.expander("Act on this order: refund, cancel, move", expanded=opened):
        refund, cancel, move = st.tabs(["Refund", "Cancel a booking", "Move a booking"])
        with refund:
            _refund_form(api, order_id, answer.get("items", []), currency, order,
                         answer.get("invoices", []), tz)  # fmt: skip
        bookings = [b for b in answer.get("bookings", []) if b["status"] != "cancelled"]
        labels = {b["booking_id"]: _booking_label(b, tz) for b in bookings}
        with cancel:
            _cancel_form(api, order_id, labels)
        with move:
            _move_form(api, order_id, bookings, labels)


# The refund form's choice for an Ignite order ("" sends nothing: the subscription goes on).
SUBSCRIPTION_ENDINGS = {"": "goes on", "now": "ends now", "period_end": "ends at period end"}


def _invoice_label(invoice: dict[str, Any], currency: str, tz: ZoneInfo) -> str:
    return (f"{invoice['invoice_id']} · {fmt.local_day(invoice['period_start'], tz)} to"
            f" {fmt.local_day(invoice['period_end'], tz)} · paid"
            f" {fmt.money(invoice['amount_paid'], currency)} ·"
            f" {fmt.money(invoice['refundable'], currency)} refundable")  # fmt: skip


def _invoices(invoices: list[dict], currency: str, tz: ZoneInfo) -> None:
    """An Ignite order's paid invoices: what each paid, and what is left to refund."""
    st.markdown("**Paid invoices**")
    ui.table(
        [{**i, "period": f"{fmt.local_day(i['period_start'], tz)} to"
                         f" {fmt.local_day(i['period_end'], tz)}",
          **{k: fmt.money(i[k], currency) for k in ("amount_paid", "refunded", "refundable")}}
         for i in invoices],
        {"invoice_id": "Invoice", "period": "Period", "amount_paid": "Paid",
         "refunded": "Refunded", "refundable": "Refundable"},
        empty="No invoice paid yet.",
    )  # fmt: skip


def _refund_form(
    api: StaffApi, order_id: str, items: list[dict], currency: str, order: dict,
    invoices: list[dict], tz: ZoneInfo,
) -> None:  # fmt: skip
    place = f"refund-{order_id}"
    if order.get("subscription_id"):
        _invoices(invoices, currency, tz)
    with st.form(key=f"refund-form-{order_id}"):
        labels = {i["order_item_id"]: _item_label(i, currency) for i in items}
        chosen = st.multiselect(
            "Items to refund (none: money only, or the whole order)", list(labels),
            format_func=labels.get, key=f"refund-items-{order_id}",
        )  # fmt: skip
        dollars = st.number_input(
            "Amount in dollars (empty: the items' price, or all that is left)", min_value=0.0,
            value=None, step=1.0, key=f"refund-amount-{order_id}",
        )  # fmt: skip
        reason = st.text_input("Why", key=f"refund-reason-{order_id}")
        ending = invoice = None
        if order.get("subscription_id"):
            names = {"": "the one that charged the items (an enrolment: its latest)"} | {
                i["invoice_id"]: _invoice_label(i, currency, tz) for i in reversed(invoices)
            }  # newest first
            invoice = st.selectbox(
                "Refund from invoice", list(names), format_func=names.get,
                key=f"refund-invoice-{order_id}",
            )  # fmt: skip
            st.caption("Ignite: an enrolment refunded from an invoice cancels the classes that"
                       " invoice paid for that are still to come; a past period's is money"
                       " only.")  # fmt: skip
            ending = st.radio(
                "And the subscription", list(SUBSCRIPTION_ENDINGS), horizontal=True,
                format_func=SUBSCRIPTION_ENDINGS.get, key=f"refund-end-{order_id}",
            )  # fmt: skip
        if st.form_submit_button("Refund", type="primary"):
            amount = round(dollars * 100) if dollars else None
            end, source = ending or None, invoice or None
            ui.act(
                _once(f"refund-{order_id}",
                      lambda key: api.refund(order_id, chosen, amount, reason, key, end, source)),
                "Refund asked of Stripe.", place,
            )  # fmt: skip
    ui.result(place)  # what the Refund button did, next to it
    if order.get("subscription_id"):
        with st.form(key=f"end-form-{order_id}"):
            when = st.radio("End the subscription", ["now", "period_end"], horizontal=True,
                            key=f"end-when-{order_id}")  # fmt: skip
            reason = st.text_input("Why", key=f"end-reason-{order_id}")
            if st.form_submit_button("End subscription"):
                ui.act(lambda: api.end_subscription(order_id, when, reason), "Subscription ends.",
                       f"end-{order_id}")  # fmt: skip
        ui.result(f"end-{order_id}")


def _cancel_form(api: StaffApi, order_id: str, labels: dict[str, str]) -> None:
    with st.form(key=f"cancel-form-{order_id}"):
        booking = st.selectbox("Booking", list(labels), format_func=labels.get, index=None,
                               key=f"cancel-booking-{order_id}")  # fmt: skip
        reason = st.text_input("Why", key=f"cancel-reason-{order_id}")
        if st.form_submit_button("Cancel booking (keep credit)"):
            if booking is None:
                st.error("Pick the booking to cancel.")
            else:
                ui.act(lambda: api.cancel_booking(booking, reason), "Booking cancelled.")


def _move_form(api: StaffApi, order_id: str, bookings: list[dict], labels: dict[str, str]) -> None:
    with st.form(key=f"move-form-{order_id}"):
        booking = st.selectbox("Booking", list(labels), format_func=labels.get, index=None,
                               key=f"move-booking-{order_id}")  # fmt: skip
        day = st.date_input("New day", value=None, format="DD/MM/YYYY", key=f"move-date-{order_id}")
        session, start, room = st.columns(3)
        target = {
            "session": session.selectbox("Camp session", CAMP_SESSION_KINDS, index=None,
                                         key=f"move-session-{order_id}"),
            "start_time": start.text_input("Party start (HH:MM)", key=f"move-start-{order_id}"),
            "room": room.text_input("Party room (empty: first free)", key=f"move-room-{order_id}"),
        }  # fmt: skip
        reason = st.text_input("Why", key=f"move-reason-{order_id}")
        if st.form_submit_button("Move", type="primary"):
            if booking is None:
                st.error("Pick the booking to move.")
            else:
                wanted: dict[str, Any] = {"date": day if isinstance(day, date) else None, **target}
                ui.act(
                    _once(f"move-{booking}",
                          lambda key: api.move_booking(booking, wanted, reason, key)),
                    "Booking moved.",
                )  # fmt: skip


def capacity_form(api: StaffApi, event: dict[str, Any]) -> None:
    """An event's capacity override (the calendar's roster): an extra helper, a room closed."""
    event_id = event["event_id"]
    with st.form(key=f"capacity-form-{event_id}"):
        places, reason = st.columns([1, 3])
        capacity = places.number_input("Capacity", min_value=0, max_value=1000, step=1,
                                       value=int(event.get("capacity") or 0),
                                       key=f"capacity-{event_id}")  # fmt: skip
        why = reason.text_input("Why (extra helper, room closed…)",
                                key=f"capacity-reason-{event_id}")  # fmt: skip
        if st.form_submit_button("Set capacity"):
            ui.act(lambda: api.set_capacity(event_id, int(capacity), why), "Capacity set.")

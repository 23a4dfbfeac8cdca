"""Orders: search and filter, then one order's timeline, steps, bookings and emails, with
retry and resend buttons."""

from __future__ import annotations

import streamlit as st

from client.staff_api import ApiError
from core.vocabulary import FULFILLMENT_STATUSES, KINDS, PAYMENT_STATUSES
from dashboard import formatting as fmt
from dashboard import session, ui

PAGE_SIZE = 50

api, tz = session.api(), session.settings().tz
ui.page_title("Orders")

search, payment, fulfilment, kind, since, until = st.columns([3, 2, 2, 1, 1.5, 1.5])
filters = {
    "q": search.text_input(
        "Search", placeholder="order, cs_/pi_/sub_ id, email or name", key="orders-q"
    ),
    "payment_status": payment.selectbox(
        "Payment", PAYMENT_STATUSES, index=None, key="orders-payment"
    ),
    "fulfillment_status": fulfilment.selectbox(
        "Fulfilment", FULFILLMENT_STATUSES, index=None, key="orders-fulfillment"
    ),
    "kind": kind.selectbox("Kind", KINDS, index=None),
    "since": since.date_input("Created from", value=None, format="YYYY-MM-DD"),
    "until": until.date_input("Created until", value=None, format="YYYY-MM-DD"),
}
pager_key = ui.page_key("orders", *filters.values())


def step_summary(steps: dict[str, str]) -> str:
    failed = [step for step, status in steps.items() if status == "failed"]
    if failed:
        return "failed: " + ", ".join(failed)
    done = sum(status in ("done", "skipped") for status in steps.values())
    return f"{done}/{len(steps)} done" if steps else ""


orders: list[dict] = []
with ui.section():
    listing = api.orders(**filters, limit=PAGE_SIZE, offset=ui.page_offset(pager_key, PAGE_SIZE))
    orders = listing["orders"]
    rows = [
        {
            **order,
            "created_at": fmt.local_time(order["created_at"], tz),
            "amount_total": fmt.money(order["amount_total"], order["currency"]),
            "amount_refunded": fmt.money(order["amount_refunded"], order["currency"])
            if order["amount_refunded"]
            else "",
            "kinds": ", ".join(order.get("kinds") or []),
            "steps": step_summary(order.get("steps") or {}),
        }
        for order in orders
    ]
    ui.table(
        rows,
        {
            "created_at": "Created",
            "order_id": "Order",
            "customer_name": "Customer",
            "customer_email": "Email",
            "payment_status": "Payment",
            "fulfillment_status": "Fulfilment",
            "amount_total": "Total",
            "amount_refunded": "Refunded",
            "kinds": "Kinds",
            "steps": "Steps",
        },
    )
    ui.pager(listing["total"], PAGE_SIZE, pager_key)

st.divider()
labels = {
    o["order_id"]: f"{o['order_id']} · {o['customer_name'] or o['customer_email']}" for o in orders
}
pick, typed = st.columns([2, 1])
chosen = pick.selectbox(
    "Open an order from this page", list(labels), index=None, format_func=labels.get
)
typed_id = typed.text_input(
    "…or by order, cs_ or pi_ id", value=st.query_params.get("order", ""), key="orders-open"
)
order_key = typed_id.strip() or chosen


def detail(key: str) -> None:
    try:
        answer = api.order(key)
    except ApiError as exc:
        if exc.status != 404:
            raise
        st.warning(f"No order {fmt.literal(repr(key))}.")  # a link's ?order= is anyone's
        return
    order = answer["order"]
    order_id, currency = order["order_id"], order.get("currency") or "aud"
    st.subheader(f"Order {order_id}")
    # What the customer typed is shown as text, never read as Markdown.
    st.text(
        f"{order.get('customer_name') or 'No name'} · {order.get('customer_email') or ''} · "
        f"created {fmt.local_time(order['created_at'], tz)}"
    )
    pay, fulfilment, total, refunded = st.columns(4)
    pay.metric("Payment", order["payment_status"])
    fulfilment.metric("Fulfilment", order["fulfillment_status"])
    total.metric("Total", fmt.money(order.get("amount_total"), currency))
    refunded.metric("Refunded", fmt.money(order.get("amount_refunded") or 0, currency))

    # What needs a hand comes first, with its button, above the tabs.
    for step in answer.get("steps", []):
        if step["status"] != "failed":
            continue
        problem, button = st.columns([4, 1])
        problem.warning(
            f"**{step['step']}** failed after {step['attempts']} attempt(s): "
            f"{fmt.literal(step.get('last_error') or 'no error recorded')}"
        )
        if button.button(
            f"Retry {step['step']}",
            key=f"retry-{order_id}-{step['step']}",
            type="primary",
            disabled=not session.may_act(),
        ):
            ui.act(
                lambda step=step["step"]: api.retry_step(order_id, step),
                f"{step['step']} of {order_id} will run again.",
            )
    if st.button(
        "Resend confirmation email", key=f"resend-{order_id}", disabled=not session.may_act()
    ):
        ui.act(lambda: api.resend_confirmation(order_id), f"Confirmation for {order_id} queued.")

    timeline, steps, bookings, emails, stripe_events, errors, items = st.tabs(
        ["Timeline", "Steps", "Bookings", "Emails", "Stripe events", "Errors", "Items"]
    )
    with timeline:
        ui.table(
            fmt.table_times(answer.get("timeline", []), tz, "at"),
            {"at": "When", "source": "Source", "text": "What happened"},
        )
    with steps:
        ui.table(
            fmt.table_times(
                answer.get("steps", []), tz, "updated_at", "finished_at", "next_attempt_at"
            ),
            {
                "step": "Step",
                "status": "Status",
                "attempts": "Attempts",
                "last_error": "Last error",
                "next_attempt_at": "Next attempt",
                "finished_at": "Finished",
            },
        )
    with bookings:
        ui.table(
            [
                {
                    **b,
                    "title": b["event"]["title"],
                    "kind": b["event"]["kind"],
                    "starts_at": fmt.local_time(b["event"]["starts_at"], tz),
                    "ends_at": fmt.local_time(b["event"]["ends_at"], tz, with_date=False),
                }
                for b in answer.get("bookings", [])
            ],
            {
                "student": "Student",
                "title": "Event",
                "kind": "Kind",
                "starts_at": "Starts",
                "ends_at": "Ends",
                "status": "Status",
            },
        )
    with emails:
        ui.table(
            fmt.table_times(answer.get("messages", []), tz, "created_at", "sent_at"),
            {
                "channel": "Channel",
                "recipient": "To",
                "dedupe_key": "Message",
                "status": "Status",
                "attempts": "Attempts",
                "last_error": "Last error",
                "created_at": "Queued",
                "sent_at": "Sent",
            },
        )
    with stripe_events:
        ui.table(
            fmt.table_times(answer.get("stripe_events", []), tz, "received_at"),
            {
                "received_at": "Received",
                "event_id": "Event",
                "type": "Type",
                "status": "Status",
                "last_error": "Last error",
            },
        )
    with errors:
        ui.table(
            fmt.table_times(answer.get("errors", []), tz, "created_at", "resolved_at"),
            {
                "created_at": "When",
                "category": "Category",
                "severity": "Severity",
                "message": "Message",
                "resolved_at": "Resolved",
            },
        )
    with items:
        ui.table(
            [
                {**i, "unit_amount": fmt.money(i.get("unit_amount"), currency)}
                for i in answer.get("items", [])
            ],
            {
                "kind": "Kind",
                "product_id": "Product",
                "item_date": "Date",
                "session": "Session",
                "start_time": "Start",
                "student": "Student",
                "unit_amount": "Price",
            },
        )


if order_key:
    with ui.section():
        detail(order_key)

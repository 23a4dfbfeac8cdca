"""Orders: search and filter, then one order's timeline, steps, bookings and emails, with
retry and resend buttons."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from client.staff_api import ApiError
from core import clock
from core.vocabulary import FULFILLMENT_STATUSES, KINDS, PAYMENT_STATUSES
from dashboard import formatting as fmt
from dashboard import session, ui
from dashboard.order_actions import order_actions

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
        "Fulfilment",
        FULFILLMENT_STATUSES,
        key="orders-fulfillment",
        # `?fulfillment=needs_attention`: the list a grouped alert links to.
        index=ui.preset(FULFILLMENT_STATUSES, st.query_params.get("fulfillment")),
    ),
    "kind": kind.selectbox("Kind", KINDS, index=None),
    "since": since.date_input("Created from", value=None, format="DD/MM/YYYY"),
    "until": until.date_input("Created until", value=None, format="DD/MM/YYYY"),
}
pager_key = ui.page_key("orders", *filters.values())


def step_summary(steps: dict[str, str]) -> str:
    failed = [step for step, status in steps.items() if status == "failed"]
    if failed:
        return "failed: " + ", ".join(failed)
    done = sum(status in ("done", "skipped") for status in steps.values())
    return f"{done}/{len(steps)} done" if steps else ""


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

    # What needs a hand comes first, with its button, above the tabs. Why the order needs
    # attention is on the order itself: a flood of such payments shares one error entry.
    if order["fulfillment_status"] == "needs_attention" and order.get("attention_reason"):
        st.warning(f"Needs attention: {fmt.literal(order['attention_reason'])}")
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
                f"order-{order_id}",
            )
    if st.button(
        "Resend confirmation email", key=f"resend-{order_id}", disabled=not session.may_act()
    ):
        ui.act(
            lambda: api.resend_confirmation(order_id),
            f"Confirmation for {order_id} queued.",
            f"order-{order_id}",
        )
    ui.result(f"order-{order_id}")  # what the buttons above did
    order_actions(api, answer, tz)

    timeline, steps, bookings, emails, stripe_events, errors, items = st.tabs(
        ["Timeline", "Steps", "Bookings", "Messages", "Stripe events", "Errors", "Items"]
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
                # Also why a message was deliberately not sent (status skipped).
                "last_error": "Last error or why skipped",
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


def label(status: str | None) -> str:
    """`partially_refunded` → `partially refunded`."""
    return (status or "").replace("_", " ")


# What staff scan first, leftmost; widths (pixels) that show every value whole
# ("partially refunded" included) in a wide page, the email and id last.
COLUMNS = {
    "created_at": ("Created", 125),
    "customer_name": ("Customer", 140),
    "amount_total": ("Total", 80),
    "payment_status": ("Payment", 135),
    "fulfillment_status": ("Fulfilment", 125),
    "steps": ("Steps", 150),
    "kinds": ("Kinds", 95),
    "amount_refunded": ("Refunded", 85),
    "order_id": ("Order", 220),
    "customer_email": ("Email", 220),
}


def created(text: str | None) -> str:
    """`Thu 26 Nov 10:00`; the year only when it is not this year's."""
    moment = fmt.parse_instant(text)
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    year = "" if local.year == clock.now().astimezone(tz).year else f" {local.year}"
    return f"{local:%a} {local.day} {local:%b}{year} {local:%H:%M}"


orders: list[dict] = []
selected: str | None = None
with ui.section():
    listing = api.orders(**filters, limit=PAGE_SIZE, offset=ui.page_offset(pager_key, PAGE_SIZE))
    orders = listing["orders"]
    ui.pager(listing["total"], PAGE_SIZE, pager_key)
    if not orders:
        st.info(
            "No orders match. Orders appear here the moment a family starts checkout; "
            "they turn paid when Stripe tells us, and fulfilled a few seconds later.",
            icon=":material/receipt_long:",
        )
    else:
        frame = pd.DataFrame([
            {
                "created_at": created(order["created_at"]),
                "customer_name": order.get("customer_name") or "",
                "customer_email": order.get("customer_email") or "",
                "payment_status": label(order["payment_status"]),
                "fulfillment_status": label(order["fulfillment_status"]),
                "amount_total": fmt.money(order["amount_total"], order["currency"]),
                "amount_refunded": fmt.money(order["amount_refunded"], order["currency"])
                if order["amount_refunded"] else "",
                "kinds": ", ".join(order.get("kinds") or []),
                "steps": step_summary(order.get("steps") or {}),
                "order_id": order["order_id"],
            }
            for order in orders
        ])[list(COLUMNS)].rename(columns={k: h for k, (h, _) in COLUMNS.items()})  # fmt: skip
        picked = st.dataframe(
            frame,
            hide_index=True,
            width="stretch",
            height=ui.fit_height(len(frame)),
            column_config={
                heading: st.column_config.Column(width=width, pinned=heading == "Customer")
                for heading, width in COLUMNS.values()
            },
            on_select="rerun",
            selection_mode="single-row",
            key=f"orders-table-{pager_key}",
        )
        rows = picked.selection.rows if picked is not None else []
        if rows:
            selected = orders[rows[0]]["order_id"]
        st.caption("Click a row to open the order here, below the table.")

if selected:
    with st.container(border=True), ui.section():
        detail(selected)

st.divider()
typed_id = st.text_input(
    "Open an order by order, cs_ or pi_ id", value=st.query_params.get("order", ""),
    key="orders-open",
)  # fmt: skip
if typed_id.strip() and typed_id.strip() != selected:
    with st.container(border=True), ui.section():
        detail(typed_id.strip())

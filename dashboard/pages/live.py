"""Live: today's figures, the webhook backlog and lag, orders moving through the steps."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from client.staff_api import NotAvailable
from core import clock
from core.vocabulary import STEPS
from dashboard import formatting as fmt
from dashboard import session, ui

ui.page_title("Live")


@st.fragment(run_every=ui.REFRESH_SECONDS)
def live_panels() -> None:
    api, tz = session.api(), session.settings().tz
    with ui.section():
        try:
            kpis = api.kpis()
        except NotAvailable as exc:
            ui.not_available(exc)
            counts_only(api.order_counts(), api.inbox_counts())
            return
        today_figures(kpis)
        webhook_health(kpis)
        pipeline(kpis)
    st.caption(
        f"Updated {clock.now().astimezone(tz):%H:%M:%S} ({session.settings().timezone}); "
        f"refreshes every {ui.REFRESH_SECONDS} s."
    )


def today_figures(kpis: dict) -> None:
    currency = kpis.get("currency", "aud")
    st.subheader(f"Today, {fmt.long_day(kpis['date'])}")
    orders, paid, revenue, bookings, refunds = st.columns(5)
    orders.metric("Orders", kpis["orders"])
    paid.metric("Paid orders", kpis["paid_orders"])
    revenue.metric("Revenue", fmt.money(kpis["revenue"], currency))
    bookings.metric("Bookings", kpis["bookings"])
    refunds.metric(
        "Refunds",
        kpis["refunds"]["count"],
        delta=f"-{fmt.money(kpis['refunds']['amount'], currency)}"
        if kpis["refunds"]["count"]
        else None,
        delta_color="inverse",
    )
    by_kind = kpis.get("revenue_by_kind") or {}
    st.caption(
        "Revenue by kind: "
        + ", ".join(f"{kind} {fmt.money(cents, currency)}" for kind, cents in by_kind.items())
    )


def webhook_health(kpis: dict) -> None:
    st.subheader("Webhooks and follow-up")
    hooks = kpis["webhooks"]
    # Two rows of four: seven in one row cut their labels short on a 1280-pixel screen.
    backlog, failed, oldest, lag = st.columns(4)
    errors, tickets, outbox, _ = st.columns(4)
    backlog.metric(
        "Webhook backlog",
        hooks["backlog"],
        # Events waiting for their order (a refund before its payment) are not behind.
        help=f"{hooks.get('waiting', 0)} more waiting for their order (Webhooks page)",
    )
    failed.metric("Failed webhooks", hooks["failed"])
    oldest.metric("Oldest waiting", fmt.duration(hooks.get("oldest_backlog_seconds")))
    lag.metric("Lag p95 (last hour)", fmt.duration(hooks.get("lag_p95_seconds")))
    open_errors = kpis.get("errors_open") or {}
    errors.metric(
        "Open errors",
        sum(open_errors.values()),
        help=", ".join(f"{severity}: {n}" for severity, n in open_errors.items()) or None,
    )
    tickets.metric("Open tickets", kpis.get("tickets_open", 0))
    messages_waiting(outbox, kpis)
    signature_refusals(kpis.get("signature_refusals"))
    watchdog_alerts(kpis.get("watch"), session.settings().tz)


def messages_waiting(column, kpis: dict) -> None:
    """Emails, Slack posts and (where SMS is on) texts waiting to be sent; the help says how
    many of each, and how many failed. (A sidecar before 2026-12 counts them all together.)"""
    queue = kpis.get("outbox") or {}
    by_channel = kpis.get("outbox_by_channel")
    if by_channel is None:
        column.metric("Messages waiting", queue.get("pending", 0),
                      help=f"failed: {queue.get('failed', 0)}")  # fmt: skip
        return
    shown = [c for c in ("email", "sms", "slack") if c != "sms" or kpis.get("sms_enabled")]
    names = {"email": "emails", "sms": "SMS", "slack": "Slack"}
    column.metric(
        "Messages waiting",
        queue.get("pending", 0),
        delta=f"{by_channel.get('sms', {}).get('pending', 0)} SMS" if kpis.get("sms_enabled")
        else None,
        delta_color="off",
        delta_arrow="off",
        help="; ".join(f"{names[c]}: {by_channel.get(c, {}).get('pending', 0)} waiting,"
                       f" {by_channel.get(c, {}).get('failed', 0)} failed" for c in shown),
    )  # fmt: skip


def signature_refusals(refusals: dict | None) -> None:
    """Deliveries refused for their signature: a wrong or rotated whsec_ refuses them all.
    (A sidecar before 2027-01 does not count them: nothing is shown.)"""
    if refusals is None:
        return
    minutes, recent = refusals["window_minutes"], refusals["recent"]
    st.metric(
        f"Refused signatures ({minutes} min)",
        recent,
        help=f"{refusals['since_start']} since the sidecar started; more than "
        f"{refusals['alert_above']} in {minutes} minutes alerts",
    )
    if recent > refusals["alert_above"]:
        st.error(
            f"{recent} webhook deliveries refused for their signature in {minutes} minutes:"
            " check STRIPE_WEBHOOK_SECRET against the endpoint's signing secret in Stripe."
        )


def watchdog_alerts(watch: list | None, tz) -> None:
    """What the sidecar's watchdog sees holding now (no deliveries in trading hours, a
    growing backlog, /readyz failing); each episode also alerted once (error log, Slack).
    (A sidecar before 2026-12 does not send them: nothing is shown.)"""
    for item in watch or []:
        since = fmt.local_time(item["since"], tz)
        st.error(f"Watchdog, {item['watch'].replace('_', ' ')} since {since}: {item['message']}")


def pipeline(kpis: dict) -> None:
    st.subheader("Orders through the steps")
    left, right = st.columns([2, 1])
    steps = kpis.get("steps") or {}
    frame = pd.DataFrame([{"step": step, **steps.get(step, {})} for step in STEPS if step in steps])
    if not frame.empty:
        frame = frame.set_index("step").fillna(0).astype(int)
    with left:
        st.dataframe(frame, width="stretch")
    with right:
        status = kpis.get("fulfillment_status") or {}
        st.bar_chart(pd.Series(status, name="orders"), horizontal=True)


def counts_only(orders: dict, inbox: dict) -> None:
    """What an older sidecar can tell: orders and webhook events by status."""
    # Sidecars before 2026-11-26 answered the keys payment/fulfillment.
    by_payment = orders.get("payment_status", orders.get("payment", {}))
    by_fulfilment = orders.get("fulfillment_status", orders.get("fulfillment", {}))
    payment, fulfilment, webhooks = st.columns(3)
    with payment:
        st.caption("Orders by payment status")
        st.dataframe(pd.Series(by_payment, name="orders", dtype="int64"))
    with fulfilment:
        st.caption("Orders by fulfilment status")
        st.dataframe(pd.Series(by_fulfilment, name="orders", dtype="int64"))
    with webhooks:
        st.caption("Webhook events by status")
        st.dataframe(pd.Series(inbox, name="events", dtype="int64"))


live_panels()

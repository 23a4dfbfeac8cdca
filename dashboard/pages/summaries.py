"""Summaries: one day's stored summary, 30-day trends, and running (and posting) one now."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from client.staff_api import ApiError
from core import clock
from dashboard import calendar_view, session, ui
from dashboard import formatting as fmt

TREND_DAYS = 30
FILL_WEEKS_BACK, FILL_WEEKS_AHEAD = 8, 8

api, tz = session.api(), session.settings().tz
ui.page_title("Summaries")

yesterday = clock.now().astimezone(tz).date() - timedelta(days=1)
day = st.date_input("Day", value=yesterday, format="DD/MM/YYYY", key="summary-day")


def figures_view(figures: dict[str, Any]) -> None:
    """The day's figures (core/summary.py) as metrics, tomorrow's events with their fill, and
    everything else as it was stored."""
    currency = str(figures.get("currency", "aud"))
    orders, revenue = figures.get("orders") or {}, figures.get("revenue") or {}
    refunds, bookings = figures.get("refunds") or {}, figures.get("bookings") or {}
    errors, tickets = figures.get("errors") or {}, figures.get("tickets") or {}
    columns = st.columns(6)
    columns[0].metric("Orders", orders.get("created", 0), help=f"paid: {orders.get('paid', 0)}")
    columns[1].metric(
        "Revenue",
        fmt.money(revenue.get("total", 0), currency),
        help=", ".join(
            f"{kind} {fmt.money(cents, currency)}"
            for kind, cents in (revenue.get("by_kind") or {}).items()
        ),
    )
    columns[2].metric(
        "Refunds",
        refunds.get("count", 0),
        help=f"amount: {fmt.money(refunds.get('amount', 0), currency)}",
    )
    columns[3].metric(
        "Bookings",
        bookings.get("total", 0),
        help=", ".join(f"{k}: {n}" for k, n in (bookings.get("by_kind") or {}).items()),
    )
    columns[4].metric("New errors", errors.get("new", 0), help=f"open: {errors.get('open', 0)}")
    columns[5].metric("New tickets", tickets.get("new", 0), help=f"open: {tickets.get('open', 0)}")
    door = figures.get("attendance") or {}  # summaries stored before check-in have none
    if door.get("booked"):
        arrived, no_shows, late = st.columns(3)
        arrived.metric("Arrived", f"{door.get('arrived', 0)} of {door['booked']}")
        no_shows.metric("No-shows", door.get("no_shows", 0))
        late.metric("Late pickups", door.get("late_pickups", 0))
    tomorrow = figures.get("tomorrow") or {}
    if tomorrow.get("events"):
        st.caption(f"Tomorrow, {fmt.long_day(tomorrow.get('date'))}")
        ui.table(
            [
                {**e, "starts_at": fmt.local_time(e["starts_at"], tz),
                 "fill": fmt.fill(e.get("booked", 0), e.get("capacity"))}
                for e in tomorrow["events"]
            ],
            {"starts_at": "Starts", "title": "Event", "kind": "Kind", "fill": "Fill"},
        )  # fmt: skip
    with st.expander("All figures as stored"):
        st.json(figures, expanded=2)


with ui.section():
    try:
        summary = api.summary(day)
    except ApiError as exc:
        if exc.status != 404:
            raise
        st.info(f"No summary stored for {fmt.long_day(day)} yet: run it below.")
    else:
        st.subheader(fmt.long_day(summary["date"]))
        posted = fmt.local_time(summary.get("posted_at"), tz)
        st.caption(
            f"Computed {fmt.local_time(summary.get('computed_at'), tz)}; "
            + (f"posted to Slack {posted}." if posted else "not posted to Slack.")
        )
        figures_view(summary.get("figures") or {})

run, post, force = st.columns([1, 1, 2])
redo = force.checkbox("Again, even if already stored or posted")
acts = session.may_act()
if run.button("Run now", type="primary", key="summary-run", disabled=not acts):
    ui.act(lambda: api.run_summary(day, post=False, force=redo),
           f"Summary for {fmt.long_day(day)} computed.", "summary-actions")  # fmt: skip
if post.button("Run and post to Slack", key="summary-post", disabled=not acts):
    ui.act(lambda: api.run_summary(day, post=True, force=redo),
           f"Summary for {fmt.long_day(day)} posted.", "summary-actions")  # fmt: skip
ui.result("summary-actions")

st.divider()
st.subheader(f"Last {TREND_DAYS} days")


def kind_colours(frame: pd.DataFrame) -> list[str]:
    """The calendar's colour for each kind column."""
    return [fmt.KIND_COLOURS.get(str(kind), fmt.OTHER_COLOUR) for kind in frame.columns]


def by_kind(days: list[dict], field: str, money: bool = False) -> pd.DataFrame:
    frame = pd.DataFrame([{"date": d["date"], **(d.get(field) or {})} for d in days])
    frame = frame.set_index("date").fillna(0)
    return frame / 100 if money else frame


def weekly_fill(events: list[dict], first_monday: date) -> pd.DataFrame:
    """Share of places booked per week (Monday first) and kind, in percent: every catalog
    slot counted, booked or not; a camp day once, with both its sessions."""
    totals: dict[tuple[date, str], list[int]] = {}
    for slot in calendar_view.slots(events):
        starts = fmt.parse_instant(slot["starts_at"]).astimezone(tz).date()
        week = first_monday + timedelta(weeks=(starts - first_monday).days // 7)
        booked_capacity = totals.setdefault((week, slot["kind"]), [0, 0])
        booked_capacity[0] += slot["booked"] or 0
        booked_capacity[1] += slot["capacity"] or 0
    rows = [{"order": week, "kind": kind,
             "fill": round(100 * b / c, 1) if c else 0.0}
            for (week, kind), (b, c) in totals.items()]  # fmt: skip
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows).sort_values("order")
    return frame.pivot_table(index="order", columns="kind", values="fill", fill_value=0.0)


with ui.section():
    days = api.trends(TREND_DAYS)["days"]
    revenue, bookings = st.columns(2)
    with revenue:
        st.caption("Revenue by kind (dollars)")
        revenue_frame = by_kind(days, "revenue_by_kind", money=True) if days else pd.DataFrame()
        if revenue_frame.empty or not revenue_frame.to_numpy().any():
            st.info("Revenue per day appears here as orders are paid (refunds taken off).")
        else:
            st.line_chart(revenue_frame, color=kind_colours(revenue_frame))
    with bookings:
        st.caption("Bookings by kind")
        bookings_frame = by_kind(days, "bookings_by_kind") if days else pd.DataFrame()
        if bookings_frame.empty or not bookings_frame.to_numpy().any():
            st.info("Places booked per day appear here as paid orders are fulfilled.")
        else:
            st.bar_chart(bookings_frame, color=kind_colours(bookings_frame))

fill_column, lag_column = st.columns(2)
with fill_column, ui.section():
    today = clock.now().astimezone(tz).date()
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=FILL_WEEKS_BACK)
    st.caption(
        f"Fill by week (% of places booked), {FILL_WEEKS_BACK} weeks back to "
        f"{FILL_WEEKS_AHEAD} ahead"
    )
    week_frame = weekly_fill(
        api.events(monday, monday + timedelta(weeks=FILL_WEEKS_BACK + FILL_WEEKS_AHEAD))["events"],
        monday,
    )
    if week_frame.empty:
        st.info("No camps, parties or classes on sale in these weeks: the fill of each week "
                "appears here once the catalog has some.")  # fmt: skip
    else:
        week_frame.index = pd.to_datetime(week_frame.index)
        st.bar_chart(week_frame, color=kind_colours(week_frame), stack=False)
with lag_column, ui.section():
    st.caption("Webhook lag, received to applied (seconds, 95th percentile and median)")
    lag_days = api.webhook_lag(TREND_DAYS)["days"]
    lag = pd.DataFrame(
        [{"date": d["date"], "p95": d["lag_p95_seconds"], "median": d["lag_p50_seconds"]}
         for d in lag_days]
    )  # fmt: skip
    if lag.empty or lag[["p95", "median"]].isna().all().all():
        st.info("Webhook lag per day appears here once Stripe events have been received.")
    else:
        st.line_chart(lag.set_index("date"))

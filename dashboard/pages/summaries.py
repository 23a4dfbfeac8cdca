"""Summaries: one day's stored summary, 30-day trends, and running (and posting) one now."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st

from client.staff_api import ApiError
from core import clock
from dashboard import formatting as fmt
from dashboard import session, ui

TREND_DAYS = 30

api, tz = session.api(), session.settings().tz
ui.page_title("Summaries")

yesterday = clock.now().astimezone(tz).date() - timedelta(days=1)
day = st.date_input("Day", value=yesterday, format="YYYY-MM-DD", key="summary-day")


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
        st.caption(f"Tomorrow, {tomorrow.get('date')}")
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
        st.info(f"No summary stored for {day} yet: run it below.")
    else:
        st.subheader(f"{summary['date']}")
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
    ui.act(lambda: api.run_summary(day, post=False, force=redo), f"Summary for {day} computed.")
if post.button("Run and post to Slack", key="summary-post", disabled=not acts):
    ui.act(lambda: api.run_summary(day, post=True, force=redo), f"Summary for {day} posted.")

st.divider()
st.subheader(f"Last {TREND_DAYS} days")


def kind_colours(frame: pd.DataFrame) -> list[str]:
    """The calendar's colour for each kind column."""
    return [fmt.KIND_COLOURS.get(str(kind), fmt.OTHER_COLOUR) for kind in frame.columns]


def by_kind(days: list[dict], field: str, money: bool = False) -> pd.DataFrame:
    frame = pd.DataFrame([{"date": d["date"], **(d.get(field) or {})} for d in days])
    frame = frame.set_index("date").fillna(0)
    return frame / 100 if money else frame


with ui.section():
    days = api.trends(TREND_DAYS)["days"]
    if not days:
        st.caption("No days yet.")
    else:
        revenue, bookings = st.columns(2)
        with revenue:
            st.caption("Revenue by kind (dollars)")
            revenue_frame = by_kind(days, "revenue_by_kind", money=True)
            st.line_chart(revenue_frame, color=kind_colours(revenue_frame))
        with bookings:
            st.caption("Bookings by kind")
            bookings_frame = by_kind(days, "bookings_by_kind")
            st.bar_chart(bookings_frame, color=kind_colours(bookings_frame))
        st.caption("Fill of each day's events (booked / capacity)")
        fill = pd.DataFrame([{"date": d["date"], "fill": d.get("fill") or 0.0} for d in days])
        st.line_chart(fill.set_index("date"))

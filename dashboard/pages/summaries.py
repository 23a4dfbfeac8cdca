"""Summaries: one day's stored summary, 30-day trends, and running (and posting) one now."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import formatting as fmt
from dashboard import session, ui
from dashboard.api import ApiError

TREND_DAYS = 30

api, tz = session.api(), session.settings().tz
ui.page_title("Summaries")

yesterday = datetime.now(tz).date() - timedelta(days=1)
day = st.date_input("Day", value=yesterday, format="YYYY-MM-DD")


def is_money(name: str) -> bool:
    return any(word in name for word in ("revenue", "amount", "cents"))


def figures_view(figures: dict[str, Any]) -> None:
    """The summary's numbers as metrics; its breakdowns as small tables."""
    currency = str(figures.get("currency", "aud"))
    numbers = {k: v for k, v in figures.items() if isinstance(v, int | float)}
    for start in range(0, len(numbers), 6):
        chunk = list(numbers.items())[start : start + 6]
        for column, (name, value) in zip(st.columns(6), chunk, strict=False):
            shown = fmt.money(int(value), currency) if is_money(name) else value
            column.metric(name.replace("_", " ").capitalize(), shown)
    breakdowns = {k: v for k, v in figures.items() if isinstance(v, dict | list)}
    for column, (name, value) in zip(st.columns(3), breakdowns.items(), strict=False):
        with column:
            st.caption(name.replace("_", " ").capitalize())
            st.json(value, expanded=1)


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
if run.button("Run now", type="primary"):
    ui.act(lambda: api.run_summary(day, post=False, force=redo), f"Summary for {day} computed.")
if post.button("Run and post to Slack"):
    ui.act(lambda: api.run_summary(day, post=True, force=redo), f"Summary for {day} posted.")

st.divider()
st.subheader(f"Last {TREND_DAYS} days")


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
            st.line_chart(by_kind(days, "revenue_by_kind", money=True))
        with bookings:
            st.caption("Bookings by kind")
            st.bar_chart(by_kind(days, "bookings_by_kind"))
        st.caption("Fill of each day's events (booked / capacity)")
        fill = pd.DataFrame([{"date": d["date"], "fill": d.get("fill") or 0.0} for d in days])
        st.line_chart(fill.set_index("date"))

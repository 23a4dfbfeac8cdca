"""Webhooks: the delivery log, as Stripe's Dashboard shows it: every event received, its
status, attempts and last error, its payload, a link to Stripe, and reprocess. Events
waiting (with the reason and the next try) and events not ours are counted and filtered
apart (docs/operations.md, Payments that are not bookings)."""

from __future__ import annotations

import json

import streamlit as st

from client.staff_api import ApiError
from core.vocabulary import INBOX_STATUSES, INBOX_VIEWS
from dashboard import formatting as fmt
from dashboard import session, ui

PAGE_SIZE = 50
REPROCESSABLE = ("failed", "ignored")

api, tz = session.api(), session.settings().tz
ui.page_title("Webhooks")

shown = INBOX_STATUSES + INBOX_VIEWS  # outside the section: the filter needs it when it fails
with ui.section():
    counts = {**api.inbox_counts(), **api.inbox_views()}
    columns = st.columns(len(shown))
    for column, status in zip(columns, shown, strict=True):
        column.metric(status.replace("_", " ").capitalize(), counts.get(status, 0))
    if counts.get("archived"):
        st.caption(
            f"Listed here: the last 35 days, and every event not finished. {counts['archived']:,}"
            " events finished before are archived: they show on their order's timeline, and"
            " analysts find them in `webhook_inbox_archive`."
        )

status_field, type_field = st.columns([1, 2])
status = status_field.selectbox(
    "Status", shown, index=None, placeholder="any", key="webhooks-status",
    format_func=lambda s: s.replace("_", " "),
)  # fmt: skip
event_type = type_field.text_input("Type", placeholder="e.g. checkout.session.completed")
pager_key = ui.page_key("webhooks", status, event_type)

events: list[dict] = []
with ui.section():
    listing = api.inbox(
        status=status,
        type=event_type.strip(),
        limit=PAGE_SIZE,
        offset=ui.page_offset(pager_key, PAGE_SIZE),
    )
    events = listing["events"]
    rows = [
        {
            **e,
            "received_at": fmt.local_time(e["received_at"], tz),
            "processed_at": fmt.local_time(e["processed_at"], tz),
            # A waiting event's next try (a failed one's retry has no reason to show).
            "next_attempt_at": fmt.local_time(e.get("next_attempt_at"), tz)
            if e.get("waiting_for") is not None
            else "",
            "stripe": fmt.stripe_event_url(e["event_id"], bool(e.get("livemode"))),
        }
        for e in events
    ]
    ui.table(
        rows,
        {
            "received_at": "Received",
            "event_id": "Event",
            "type": "Type",
            "status": "Status",
            "attempts": "Attempts",
            "last_error": "Last error",
            "next_attempt_at": "Next try",
            "processed_at": "Processed",
            "stripe": "On Stripe",
        },
        empty="No Stripe events here. Each event Stripe sends (a payment, a refund, a "
        "dispute) appears here the moment it arrives, and turns processed a moment later.",
        column_config={"On Stripe": st.column_config.LinkColumn(display_text="open ↗")},
    )
    ui.pager(listing["total"], PAGE_SIZE, pager_key)

st.divider()
labels = {e["event_id"]: f"{e['event_id']} · {e['type']} · {e['status']}" for e in events}
chosen = st.selectbox(
    "Show an event", list(labels), index=None, format_func=labels.get, key="webhooks-event"
)

if chosen:
    with ui.section():
        try:
            event = api.inbox_event(chosen)
        except ApiError as exc:
            if exc.status != 404:
                raise
            st.warning(f"No event {fmt.literal(repr(chosen))}.")
            st.stop()
        livemode = bool(event.get("livemode"))
        st.subheader(event["type"])
        st.markdown(
            f"`{event['event_id']}` · {'live' if livemode else 'test'} mode · "
            f"[open on Stripe ↗]({fmt.stripe_event_url(event['event_id'], livemode)})"
        )
        state, attempts, received, processed = st.columns(4)
        state.metric("Status", event["status"])
        attempts.metric("Attempts", event["attempts"])
        received.metric("Received", fmt.local_time(event["received_at"], tz))
        processed.metric("Processed", fmt.local_time(event.get("processed_at"), tz) or "—")
        if event.get("not_ours"):
            st.info(f"Not ours: {fmt.literal(event.get('last_error') or '')}")
        elif event["status"] == "received" and event.get("waiting_for") is not None:
            reason = (event.get("last_error") or "").removeprefix("waiting: ")
            st.info(
                f"Waiting: {fmt.literal(reason)}; next try"
                f" {fmt.local_time(event.get('next_attempt_at'), tz)}"
            )
        elif event.get("last_error"):
            st.error(f"Last error: {fmt.literal(event['last_error'])}")
        if event["status"] in REPROCESSABLE:
            if st.button(
                "Reprocess",
                key=f"reprocess-{chosen}",
                type="primary",
                disabled=not session.may_act(),
            ):
                ui.act(lambda: api.reprocess(chosen), f"{chosen} will be applied again.",
                       "webhooks-actions")  # fmt: skip
        else:
            st.caption("Only a failed or ignored event can be reprocessed.")
        # What Reprocess did, under its button (it stays when the event leaves the list).
        ui.result("webhooks-actions")
        try:
            payload = json.loads(event.get("payload") or "null")
        except ValueError:
            st.code(event.get("payload") or "", language=None)
        else:
            st.json(payload, expanded=2)
else:
    ui.result("webhooks-actions")  # the event reprocessed has left this filtered list

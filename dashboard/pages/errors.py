"""Errors: the error log, filtered by category, severity and resolved; retry or resolve the
entries chosen (one or many)."""

from __future__ import annotations

import streamlit as st

from core.vocabulary import ERROR_CATEGORIES, SEVERITIES
from dashboard import formatting as fmt
from dashboard import session, ui

PAGE_SIZE = 100
RESOLVED = {"open": False, "resolved": True}

api, tz = session.api(), session.settings().tz
ui.page_title("Errors")

category_field, severity_field, resolved_field = st.columns(3)
category = category_field.selectbox(
    "Category", ERROR_CATEGORIES, index=None, placeholder="any", key="errors-category"
)
severity = severity_field.selectbox("Severity", SEVERITIES, index=None, placeholder="any")
resolved = resolved_field.segmented_control("Show", ["open", "resolved", "all"], default="open")
pager_key = ui.page_key("errors", category, severity, resolved)

entries: list[dict] = []
with ui.section():
    listing = api.errors(
        category=category,
        severity=severity,
        resolved=RESOLVED.get(resolved or "all"),
        order="newest",
        limit=PAGE_SIZE,
        offset=ui.page_offset(pager_key, PAGE_SIZE),
    )
    entries = listing["errors"]
    ui.table(
        fmt.table_times(entries, tz, "created_at", "resolved_at"),
        {
            "created_at": "When",
            "severity": "Severity",
            "category": "Category",
            "message": "Message",
            "order_id": "Order",
            "step": "Step",
            "stripe_event_id": "Stripe event",
            "resolved_at": "Resolved",
            "resolved_by": "By",
            "error_id": "Entry",
        },
    )
    ui.pager(listing["total"], PAGE_SIZE, pager_key)

labels = {
    e["error_id"]: f"{e['severity']} · {e['category']} · {e['message'][:80]}"
    + (f" · {e['order_id']}" if e.get("order_id") else "")
    for e in entries
}
chosen = st.multiselect(
    "Entries to act on",
    list(labels),
    format_func=labels.get,
    placeholder="choose entries",
    key="errors-chosen",
)
retry, resolve, everything = st.columns([1, 1, 3])
if everything.checkbox("All entries on this page", disabled=not labels):
    chosen = list(labels)
by = session.staff_name()


def bulk(action: str) -> dict:
    """The bulk answer's message, with why each skipped entry was skipped."""
    answer = api.bulk_errors(action, chosen, by)
    skipped = "; ".join(f"{s['error_id']}: {s['reason']}" for s in answer.get("skipped", []))
    message = answer.get("message") or f"{answer.get('done', 0)} entries: {action} done."
    return {"message": f"{message} Skipped: {skipped}" if skipped else message}


RETRY_HELP = "run again the failed step, email or webhook event each entry is about"
acts = session.may_act()  # an analyst sees the buttons, greyed out
if retry.button(
    "Retry", disabled=not (chosen and acts), type="primary", key="errors-retry", help=RETRY_HELP
):
    ui.act(lambda: bulk("retry"), f"{len(chosen)} entries retried.")
if resolve.button("Resolve", disabled=not (chosen and acts), key="errors-resolve"):
    if len(chosen) == 1:
        ui.act(lambda: api.resolve_error(chosen[0], by), f"Entry {chosen[0]} resolved.")
    else:
        ui.act(lambda: bulk("resolve"), f"{len(chosen)} entries resolved.")

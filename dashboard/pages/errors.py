"""Errors: critical entries first and marked, each with what to do about it; Retry only where
a retry can succeed (a failed step, message or Stripe event), Resolve for the rest. Results
show next to the buttons, in the colour of what happened."""

from __future__ import annotations

import streamlit as st

from core.vocabulary import ERROR_CATEGORIES, SEVERITIES
from dashboard import error_advice as advice_of
from dashboard import formatting as fmt
from dashboard import session, ui

PAGE_SIZE = 100
RESOLVED = {"open": False, "resolved": True}
# Plain shapes every system font has (a tablet without colour emoji shows them too).
MARKS = {"critical": "■ CRITICAL", "high": "▲ high", "medium": "● medium", "low": "○ low"}

api, tz = session.api(), session.settings().tz
by = session.staff_name()
ui.page_title("Errors")


# --- Critical entries still open: on top, marked, each with its own buttons ------------------

with ui.section():
    critical = api.errors(severity="critical", resolved=False, order="newest", limit=PAGE_SIZE)
    if critical["total"]:
        st.error(
            f"**{critical['total']} critical entr{'y' if critical['total'] == 1 else 'ies'} "
            "open**: money or a family is affected. Deal with these first.",
            icon=":material/crisis_alert:",
        )
    for entry in critical["errors"]:
        with st.container(border=True):
            text_column, buttons = st.columns([4, 1])
            money = advice_of.amount(entry)
            text_column.markdown(
                f":red[**■ CRITICAL**] · **{entry['category']}** · "
                f"{fmt.local_time(entry['created_at'], tz)}"
                + (f" · order `{entry['order_id']}`" if entry.get("order_id") else "")
            )
            text_column.text(entry["message"] + (f" ({money})" if money else ""))
            text_column.caption(advice_of.advice(entry))
            place = "critical-actions"
            if advice_of.retryable(entry) and buttons.button(
                "Retry", key=f"errors-retry-{entry['error_id']}", type="primary"
            ):
                ui.act(lambda e=entry: api.bulk_errors("retry", [e["error_id"]], by), "",
                       place, advice_of.bulk_outcome("retry", 1))  # fmt: skip
            if buttons.button("Resolve", key=f"errors-resolve-{entry['error_id']}"):
                ui.act(lambda e=entry: api.resolve_error(e["error_id"], by),
                       f"Entry {entry['error_id']} resolved.", place)  # fmt: skip
    ui.result("critical-actions")  # the entry acted on may have left the list

# --- Every entry, filtered --------------------------------------------------------------------

category_field, severity_field, resolved_field = st.columns(3)
category = category_field.selectbox(
    "Category", ERROR_CATEGORIES, index=None, placeholder="any", key="errors-category"
)
severity = severity_field.selectbox(
    "Severity", SEVERITIES, index=None, placeholder="any", key="errors-severity"
)
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
    entries = advice_of.critical_first(listing["errors"])
    if not entries:
        st.success(
            "No entries here. Failed steps, emails and webhooks, disputes and refunds that "
            "need a person appear here as they happen.",
            icon=":material/task_alt:",
        )
    else:
        ui.table(
            [
                {
                    **e,
                    "mark": MARKS.get(e["severity"], e["severity"]),
                    "created_at": fmt.local_time(e["created_at"], tz),
                    "resolved_at": fmt.local_time(e.get("resolved_at"), tz),
                    "amount": advice_of.amount(e),
                    "todo": "Retry" if advice_of.retryable(e) else advice_of.advice(e),
                }
                for e in entries
            ],
            {
                "mark": "Severity",
                "created_at": "When",
                "category": "Category",
                "message": "Message",
                "amount": "Amount",
                # A grouped entry counts a flood of one kind of problem (one alert for all).
                "occurrences": "Count",
                "todo": "What to do",
                "order_id": "Order",
                **({"resolved_at": "Resolved", "resolved_by": "By"} if resolved != "open" else {}),
                "error_id": "Entry",
            },
            column_config={
                "Severity": st.column_config.TextColumn(width="small"),
                "Category": st.column_config.TextColumn(width="small"),
                "Message": st.column_config.TextColumn(width="large"),
                "What to do": st.column_config.TextColumn(width="large"),
            },
        )
    ui.pager(listing["total"], PAGE_SIZE, pager_key)

labels = {
    e["error_id"]: f"{MARKS.get(e['severity'], e['severity'])} · {e['category']} · "
    f"{e['message'][:80]}" + (f" · {e['order_id']}" if e.get("order_id") else "")
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
by_id = {e["error_id"]: e for e in entries}
can_retry = [i for i in chosen if advice_of.retryable(by_id[i])]
cannot = [i for i in chosen if i not in can_retry]

RETRY_HELP = "run again the failed step, email or webhook event each entry is about"
acts = session.may_act()  # an analyst sees the buttons, greyed out
if retry.button(
    "Retry" + (f" {len(can_retry)}" if cannot and can_retry else ""),
    disabled=not (can_retry and acts), type="primary", key="errors-retry", help=RETRY_HELP,
):  # fmt: skip
    ui.act(lambda: api.bulk_errors("retry", can_retry, by), "", "errors-actions",
           advice_of.bulk_outcome("retry", len(can_retry)))  # fmt: skip
if resolve.button("Resolve", disabled=not (chosen and acts), key="errors-resolve"):
    if len(chosen) == 1:
        ui.act(lambda: api.resolve_error(chosen[0], by), f"Entry {chosen[0]} resolved.",
               "errors-actions")  # fmt: skip
    else:
        ui.act(lambda: api.bulk_errors("resolve", chosen, by), "", "errors-actions",
               advice_of.bulk_outcome("resolve", len(chosen)))  # fmt: skip
if cannot:
    st.info(
        f"{len(cannot)} of the chosen entries cannot be fixed by a retry: "
        + " ".join(
            f"**{by_id[i]['category']}** ({i}): {advice_of.advice(by_id[i])}" for i in cannot[:5]
        ),
        icon=":material/info:",
    )
ui.result("errors-actions")

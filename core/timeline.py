"""An order's timeline: what happened to it, from its Stripe events, fulfilment steps,
messages and error-log entries, in the order it happened (the staff order page).

Pure: it takes the rows the store read (times as naive UTC) and returns entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

SOURCES = ("stripe", "step", "message", "error", "staff")  # at the same instant, in this order


def _attempts(n: int) -> str:
    return f"{n} attempt{'' if n == 1 else 's'}"


def order_timeline(
    stripe_events: Iterable[dict[str, Any]],
    steps: Iterable[dict[str, Any]],
    messages: Iterable[dict[str, Any]],
    errors: Iterable[dict[str, Any]],
    actions: Iterable[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """`[{"at", "source", "text"}]`, oldest first. `actions` are staff's (store/
    staff_actions.py): who did what and why."""
    entries: list[tuple[datetime, str, str]] = []
    for event in stripe_events:
        text = f"{event['type']} received: {event['status']}"
        if event.get("last_error"):
            text += f" ({event['last_error']})"
        entries.append((event["received_at"], "stripe", text))
    for step in steps:
        status, name = step["status"], step["step"]
        if status == "done" and step.get("finished_at"):
            entries.append((step["finished_at"], "step", f"{name} done"))
        elif status == "failed":
            entries.append((step["updated_at"], "step",
                            f"{name} failed after {_attempts(step['attempts'])}: "
                            f"{step.get('last_error') or 'no error recorded'}"))  # fmt: skip
        elif status == "skipped":
            entries.append((step["updated_at"], "step", f"{name} skipped"))
        elif step.get("attempts"):
            entries.append((step["updated_at"], "step",
                            f"{name} {status}, retrying after {_attempts(step['attempts'])}: "
                            f"{step.get('last_error') or ''}".rstrip(": ")))  # fmt: skip
    for message in messages:
        what = f"{message['channel']} {message['dedupe_key']}"
        to = f" to {message['recipient']}" if message.get("recipient") else ""
        entries.append((message["created_at"], "message", f"{what} queued{to}"))
        if message["status"] == "sent" and message.get("sent_at"):
            entries.append((message["sent_at"], "message", f"{what} sent"))
        elif message["status"] == "failed":
            entries.append((message["created_at"], "message",
                            f"{what} failed after {_attempts(message['attempts'])}: "
                            f"{message.get('last_error') or 'no error recorded'}"))  # fmt: skip
    for error in errors:
        what = f"{error['severity']} {error['category']} error"
        entries.append((error["created_at"], "error", f"{what}: {error['message']}"))
        if error.get("resolved_at"):
            by = f" by {error['resolved_by']}" if error.get("resolved_by") else ""
            entries.append((error["resolved_at"], "error", f"resolved{by}: {error['message']}"))
    for action in actions:
        details = action.get("details") or {}
        what = details.get("message") or _action_text(action["action"], details)
        entries.append((action["created_at"], "staff",
                        f"{action['action']} by {action['actor']}: {what}"
                        f" (why: {action['reason']})"))  # fmt: skip
    entries.sort(key=lambda e: (e[0], SOURCES.index(e[1])))
    return [{"at": at, "source": source, "text": text} for at, source, text in entries]


def _action_text(action: str, details: dict[str, Any]) -> str:
    if action == "refund":
        items = details.get("items") or []
        return f"{details.get('amount_text', '')} refunded" + (
            f" for {', '.join(items)}" if items else ""
        )
    if action == "cancel":
        return f"{details.get('booking_id')} cancelled, {details.get('credit_text', '')} credit"
    if action == "move":
        return f"{details.get('booking_id')} moved to {details.get('slot_key')}"
    if action == "end_subscription":
        return f"{details.get('subscription_id')} ends {details.get('when')}"
    return ", ".join(f"{k} {v}" for k, v in details.items())

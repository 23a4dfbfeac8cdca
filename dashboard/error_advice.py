"""What staff can do about an error-log entry: whether a retry can fix it, and if not, what to
do instead. Pure: an entry from `GET /api/errors` in, advice out.

A retry runs again what the entry is about (`fulfilment/repairs.py`): a failed step, a failed
email or Slack message, a Stripe event that failed. Entries about something that happened
and stands (a dispute, a partial refund, a payment that does not match, a booking that found
its event full) have nothing a retry could change: they need a person, in Stripe or with
the family.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dashboard import formatting as fmt

# By the entry's dedupe key prefix (as written by fulfilment/): what to do instead of a retry.
NO_RETRY = {
    "dispute": "Answer the dispute in Stripe's Dashboard before its evidence deadline; "
    "a retry cannot change a dispute.",
    "partial-refund": "A partial refund cancels nothing by itself: cancel or move the "
    "refunded bookings, or refund the rest; then resolve this entry.",
    "conflict": "The event was full when the payment arrived: add a place, move the booking "
    "or refund it; then resolve this entry.",
    "no-cart": "The payment carries no usable cart: find the family's booking (email them) "
    "and refund or book it by hand; then resolve this entry.",
    "wrong-payment": "The amount paid does not match the order: check the payment in Stripe "
    "and refund or charge the difference; then resolve this entry.",
    "wrong-invoice": "The invoice does not match the enrolment: check the subscription in "
    "Stripe; then resolve this entry.",
    "invoice-failed": "Stripe retries the invoice itself; contact the family if it keeps "
    "failing, then resolve this entry.",
    "late-failure": "A payment failure arrived after the payment succeeded: nothing to do; "
    "resolve this entry.",
    "wrong-mode": "A test-mode event reached the live sidecar (or the reverse): check the "
    "webhook endpoint and keys in Stripe; then resolve this entry.",
    "schedule": "A scheduled run was missed: run it from the Summaries page; then resolve "
    "this entry.",
}
RETRY_HINT = "Retry runs the failed {what} again."
# Context fields that hold cents, as written by fulfilment/ (expected, paid, amount …).
MONEY_FIELDS = ("amount", "expected", "paid", "amount_refunded", "refunded")


def kind_of(entry: dict[str, Any]) -> str:
    """The entry's cause, from its dedupe key (`dispute:dp_1` → `dispute`)."""
    return str(entry.get("dedupe_key") or "").split(":", 1)[0]


def context_of(entry: dict[str, Any]) -> dict[str, Any]:
    try:
        context = json.loads(entry.get("context") or "{}")
    except (TypeError, ValueError):
        return {}
    return context if isinstance(context, dict) else {}


def retryable(entry: dict[str, Any]) -> bool:
    """Whether a retry can succeed: an unresolved entry about a failed step, message or
    Stripe event, and not one of the causes a retry cannot change."""
    if entry.get("resolved_at") or kind_of(entry) in NO_RETRY:
        return False
    return bool(
        (entry.get("step") and entry.get("order_id"))
        or context_of(entry).get("message_id")
        or entry.get("stripe_event_id")
    )


def advice(entry: dict[str, Any]) -> str:
    """One sentence: what Retry will do, or what to do instead."""
    if entry.get("resolved_at"):
        return f"Resolved by {entry.get('resolved_by') or 'staff'}."
    reason = NO_RETRY.get(kind_of(entry))
    if reason:
        return reason
    if entry.get("step") and entry.get("order_id"):
        return RETRY_HINT.format(what=f"step {entry['step']}")
    if context_of(entry).get("message_id"):
        return RETRY_HINT.format(what="message")
    if entry.get("stripe_event_id"):
        return RETRY_HINT.format(what="Stripe event, from its stored body")
    return "Nothing to retry: read the message, act on it, then resolve this entry."


def amount(entry: dict[str, Any]) -> str:
    """The money the entry is about, in dollars (`$89.00`), from its context; empty when it
    names none."""
    context = context_of(entry)
    currency = str(context.get("currency") or "aud")
    shown = []
    for field in MONEY_FIELDS:
        value = context.get(field)
        if isinstance(value, int) and not isinstance(value, bool):
            shown.append(f"{field.replace('_', ' ')} {fmt.money(value, currency)}")
    return ", ".join(shown)


def critical_first(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Critical entries first, then high, medium, low; newest first within each."""
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    newest = sorted(entries, key=lambda e: str(e.get("created_at") or ""), reverse=True)
    return sorted(newest, key=lambda e: rank.get(str(e.get("severity")), 4))


def bulk_outcome(action: str, asked: int) -> Callable[[dict[str, Any]], tuple[str, str]]:
    """How a bulk answer (`{"done", "skipped"}`) is judged: all done is a success, some
    skipped a warning, none done an error; each skipped entry says why."""

    def judge(answer: dict[str, Any]) -> tuple[str, str]:
        done = int(answer.get("done", 0))
        skipped = answer.get("skipped") or []
        verb = {"retry": "retried", "resolve": "resolved"}.get(action, action)
        message = f"{done} of {asked} {verb}."
        if skipped:
            reasons = "; ".join(f"{s['error_id']}: {s['reason']}" for s in skipped)
            message += f" {len(skipped)} skipped: {reasons}"
        level = "success" if done == asked and not skipped else ("warning" if done else "error")
        return level, message

    return judge

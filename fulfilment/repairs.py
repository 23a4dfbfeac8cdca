"""Staff repairs from the error log: resolve entries, or retry what an entry is about.

A retry is the same action staff can take one by one (the dashboard's retry and the
CLI's reprocess call the same function): a failed fulfilment step starts afresh
(`worker.retry_step`), a failed message goes back to the outbox (`outbox.retry`), a failed
or ignored Stripe event is applied again from its stored body (`worker.reprocess_event`).
An entry whose retry was accepted is marked resolved by the same person: if it fails
again, that is a new entry.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb

from fulfilment import worker
from store import error_log, outbox


def resolve_entries(
    conn: duckdb.DuckDBPyConnection, error_ids: list[str], by: str, now: datetime
) -> dict[str, Any]:
    done, skipped = 0, []
    for error_id in error_ids:
        outcome = error_log.resolve(conn, error_id, by, now)
        if outcome == "resolved":
            done += 1
        else:
            reason = "already resolved" if outcome == "already" else "no such entry"
            skipped.append({"error_id": error_id, "reason": reason})
    return {"done": done, "skipped": skipped}


def retry_entries(
    conn: duckdb.DuckDBPyConnection, error_ids: list[str], by: str, now: datetime
) -> dict[str, Any]:
    done, skipped = 0, []
    for error_id in error_ids:
        reason = _retry(conn, error_id, now)
        if reason is None:
            done += 1
            error_log.resolve(conn, error_id, by, now)
        else:
            skipped.append({"error_id": error_id, "reason": reason})
    return {"done": done, "skipped": skipped}


def _retry(conn: duckdb.DuckDBPyConnection, error_id: str, now: datetime) -> str | None:
    """Retry what the entry is about; None when done, else why not."""
    entry = error_log.entry(conn, error_id)
    if entry is None:
        return "no such entry"
    message_id = _context(entry).get("message_id")
    if entry["step"] and entry["order_id"]:
        if worker.retry_step(conn, entry["order_id"], entry["step"], now):
            return None
        return f"{entry['step']} of {entry['order_id']} is not failed"
    if message_id:
        outcome = outbox.retry(conn, message_id, now)
        if outcome == "retried":
            return None
        return f"message {message_id} is not failed" if outcome == "not_failed" else (
            f"message {message_id} no longer exists"
        )  # fmt: skip
    if entry["stripe_event_id"]:
        if worker.reprocess_event(conn, entry["stripe_event_id"], now):
            return None
        return (
            f"Stripe event {entry['stripe_event_id']} is not failed or ignored"
            " (a processed event's effects stand)"
        )
    return "nothing to retry: the entry names no step, message or Stripe event"


def _context(entry: dict[str, Any]) -> dict[str, Any]:
    try:
        context = json.loads(entry["context"]) if entry["context"] else {}
    except ValueError:
        return {}
    return context if isinstance(context, dict) else {}

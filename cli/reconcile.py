"""`tinkertank reconcile --since 2026-11-01|24h|7d`: feed the inbox any event that never
arrived by webhook (docs/operations.md, Scheduled jobs).

Pages through Stripe's events API (`GET /v1/events?created[gte]=…`, newest first,
`starting_after` the last id of a page while `has_more`) with the secret key, and posts
each page to the sidecar's `POST /api/inbox/import`. The sidecar stores the events it does
not have yet exactly as webhook deliveries are stored, and the worker processes them; the
ones it has are left alone. So running it twice, or over a period the webhooks covered,
changes nothing.

Stripe keeps events for 30 days: `--since` further back finds only what is left.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import stripe

from client.staff_api import EXIT_CONFIG, EXIT_UNAVAILABLE, SidecarError, StaffApi

PAGE_SIZE = 100  # Stripe's largest page
STRIPE_RETENTION = timedelta(days=30)
_DURATION = re.compile(r"(\d+)\s*([hd])")


def parse_since(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """`YYYY-MM-DD` (local midnight in the business time zone), `Nh` or `Nd` before `now`;
    an aware datetime. ValueError saying what is accepted otherwise."""
    text = text.strip()
    match = _DURATION.fullmatch(text)
    if match:
        amount, unit = int(match[1]), match[2]
        return now - (timedelta(hours=amount) if unit == "h" else timedelta(days=amount))
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--since {text!r}: give a date (2026-11-01) or a time back (24h, 7d)"
        ) from None
    return datetime.combine(day, time(), tz)


def stripe_pages(
    client: stripe.StripeClient, since: datetime, page_size: int = PAGE_SIZE
) -> Iterator[list[dict[str, Any]]]:
    """Each page of events created at or after `since`, as Stripe sent them (dicts)."""
    params: dict[str, Any] = {"created": {"gte": int(since.timestamp())}, "limit": page_size}
    while True:
        try:
            page = client.v1.events.list(params=params)
        except stripe.AuthenticationError:
            raise SidecarError(
                "Stripe refused the secret key: check STRIPE_SECRET_KEY", EXIT_CONFIG
            ) from None
        except stripe.StripeError as exc:
            raise SidecarError(
                f"Stripe's events API failed: {exc.user_message or exc}", EXIT_UNAVAILABLE
            ) from None
        response = page.last_response
        events = response.data["data"] if response is not None else [
            event.to_dict() for event in page.data
        ]  # fmt: skip
        if events:
            yield events
        if not page.has_more or not events:
            return
        params["starting_after"] = events[-1]["id"]


def reconcile(
    client: StaffApi,
    stripe_client: stripe.StripeClient,
    since: datetime,
    now: datetime,
    out: Callable[[str], None] = print,
) -> dict[str, int]:
    """Import every event since `since` that the inbox lacks; the totals."""
    if now - since > STRIPE_RETENTION:
        out(
            f"note: Stripe keeps events for 30 days; nothing before"
            f" {(now - STRIPE_RETENTION):%Y-%m-%d %H:%M} UTC can be found"
        )
    totals = {"listed": 0, "imported": 0, "already_present": 0}
    for events in stripe_pages(stripe_client, since):
        answer = client.post("/api/inbox/import", {"events": events})
        totals["listed"] += len(events)
        totals["imported"] += answer["imported"]
        totals["already_present"] += answer["already_present"]
        for event_id in answer.get("imported_ids", []):
            out(f"imported {event_id}")
    out(
        f"{totals['listed']} event(s) in Stripe since {since.astimezone(UTC):%Y-%m-%d %H:%M}"
        f" UTC: {totals['imported']} imported, {totals['already_present']} already in the inbox"
    )
    return totals

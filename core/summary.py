"""The daily summary and the trends: figures for business days, from the rows the store reads.

Pure: the caller passes the day, `now` and the time zone; nothing here reads the clock. A
business day is a local date in the catalog's time zone, so the store is asked about the
UTC range that date covers (23, 24 or 25 hours around daylight-saving changes).

Money is counted when it moves: an order's payment on the day it was recorded as paid, an
Ignite renewal invoice on the day it was paid, a refund on the day it was recorded. An
order with items of several kinds shares its payment and refunds between the kinds in
proportion to the items' prices; whole cents are then handed out so that the kinds add up
to the total exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.attendance import standing
from core.payments import dollars

KINDS = ("camp", "party", "ignite")
UNASSIGNED = "unassigned"  # money of an order whose items are unknown (needs attention)
MAX_TREND_DAYS = 366


def day_range(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC range [start, end) of local `day`, naive as the store keeps timestamps."""
    return _utc_midnight(day, tz), _utc_midnight(day + timedelta(days=1), tz)


def _utc_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC).replace(tzinfo=None)


def local_today(now: datetime, tz: ZoneInfo) -> date:
    """Today in the business time zone (`now` is aware, or naive UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(tz).date()


def yesterday(now: datetime, tz: ZoneInfo) -> date:
    """The default summary date: the last complete business day."""
    return local_today(now, tz) - timedelta(days=1)


def trend_days(now: datetime, tz: ZoneInfo, days: int) -> list[date]:
    """The last `days` business days, oldest first, ending today (which is still running)."""
    today = local_today(now, tz)
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]


@dataclass(frozen=True)
class EventRow:
    """A calendar event of a day, with its confirmed bookings."""

    event_id: str
    title: str
    kind: str
    product_id: str
    starts_at: datetime  # naive UTC
    capacity: int
    booked: int


@dataclass(frozen=True)
class DayRows:
    """What the store reads for one business day (see store/summaries.py)."""

    orders_created: int = 0
    orders_paid: int = 0
    # (kind, paid, refunded): money of the day per kind, shared out in proportion (floats)
    money: list[tuple[str, float, float]] = field(default_factory=list)
    refunds: tuple[int, int] = (0, 0)  # how many refunds were recorded, and their cents
    bookings: list[tuple[str, int]] = field(default_factory=list)  # (kind, confirmed made)
    next_day_events: list[EventRow] = field(default_factory=list)
    errors: list[tuple[str, str, int]] = field(default_factory=list)  # (category, severity, n)
    errors_open: int = 0
    tickets_new: int = 0
    tickets_open: int = 0
    webhooks: dict[str, Any] = field(default_factory=dict)
    # One per confirmed booking in the day's events: (starts_at, ends_at, checked_in_at,
    # checked_out_at), naive UTC.
    attendance: list[tuple[datetime, datetime, datetime | None, datetime | None]] = field(
        default_factory=list
    )


def attendance_figures(
    rows: Iterable[tuple[datetime, datetime, datetime | None, datetime | None]], now: datetime
) -> dict[str, int]:
    """The day at the door: children booked, arrived (checked in), no-shows (not checked in
    15 minutes after the start) and late pickups (not checked out by the end, or after it).
    `now` is naive UTC."""
    figures = {"booked": 0, "arrived": 0, "no_shows": 0, "late_pickups": 0}
    for starts_at, ends_at, checked_in_at, checked_out_at in rows:
        where = standing(starts_at, ends_at, checked_in_at, checked_out_at, now)
        figures["booked"] += 1
        figures["arrived"] += checked_in_at is not None
        figures["no_shows"] += where.not_arrived
        figures["late_pickups"] += where.late_pickup
    return figures


def apportion(total: int, shares: Mapping[str, float]) -> dict[str, int]:
    """Whole cents per key, in proportion to `shares`, adding up to `total` exactly
    (largest remainder first)."""
    weight = sum(shares.values())
    if not shares:
        return {}
    if weight == 0:
        exact = {key: 0.0 for key in shares}
    else:
        exact = {key: total * value / weight for key, value in shares.items()}
    cents = {key: math.floor(value) for key, value in exact.items()}
    left = total - sum(cents.values())
    by_remainder = sorted(exact, key=lambda key: (cents[key] - exact[key], key))
    for key in by_remainder[: max(left, 0)]:
        cents[key] += 1
    return cents


def money_by_kind(money: Iterable[tuple[str, float, float]]) -> dict[str, Any]:
    """Revenue of a day: gross, refunded and net, the net shared between the kinds."""
    paid: dict[str, float] = dict.fromkeys(KINDS, 0.0)
    refunded: dict[str, float] = dict.fromkeys(KINDS, 0.0)
    for kind, paid_amount, refunded_amount in money:
        paid[kind] = paid.get(kind, 0.0) + paid_amount
        refunded[kind] = refunded.get(kind, 0.0) + refunded_amount
    # Each order's shares add up to its whole amount, so the float sums are whole cents
    # but for rounding error; the gross and the refunds are each shared out exactly.
    gross = round(sum(paid.values()))
    refunds = round(sum(refunded.values()))
    paid_cents = apportion(gross, paid)
    refunded_cents = apportion(refunds, refunded)
    by_kind = {kind: paid_cents[kind] - refunded_cents.get(kind, 0) for kind in paid}
    if not by_kind.get(UNASSIGNED) and not paid.get(UNASSIGNED):
        by_kind.pop(UNASSIGNED, None)
    return {"total": gross - refunds, "gross": gross, "refunded": refunds, "by_kind": by_kind}


def fill(events: Iterable[EventRow]) -> dict[str, Any]:
    """Booked places over capacity. The two sessions of a camp day share one capacity, so a
    camp day's capacity counts once."""
    booked = capacity = 0
    camp_days: dict[tuple[str, date], int] = {}
    for event in events:
        booked += event.booked
        if event.kind == "camp":
            camp_days[(event.product_id, event.starts_at.date())] = event.capacity
        else:
            capacity += event.capacity
    capacity += sum(camp_days.values())
    return {
        "booked": booked,
        "capacity": capacity,
        "fill": round(booked / capacity, 4) if capacity else None,
    }


def day_figures(
    rows: DayRows, day: date, tz: ZoneInfo, currency: str, now: datetime
) -> dict[str, Any]:
    """The stored summary of business day `day` (JSON-ready)."""
    start, end = day_range(day, tz)
    errors_by_category: dict[str, int] = {}
    errors_by_severity: dict[str, int] = {}
    for category, severity, n in rows.errors:
        errors_by_category[category] = errors_by_category.get(category, 0) + n
        errors_by_severity[severity] = errors_by_severity.get(severity, 0) + n
    bookings = dict.fromkeys(KINDS, 0)
    for kind, n in rows.bookings:
        bookings[kind] = bookings.get(kind, 0) + n
    events = sorted(rows.next_day_events, key=lambda e: (e.starts_at, e.title, e.event_id))
    return {
        "date": day.isoformat(),
        "timezone": tz.key,
        "currency": currency,
        "range": {"start": _utc_text(start), "end": _utc_text(end)},
        "computed_at": _utc_text(now),
        "orders": {"created": rows.orders_created, "paid": rows.orders_paid},
        "revenue": money_by_kind(rows.money),
        "refunds": {"count": rows.refunds[0], "amount": rows.refunds[1]},
        "bookings": {"total": sum(bookings.values()), "by_kind": bookings},
        "tomorrow": {
            "date": (day + timedelta(days=1)).isoformat(),
            "events": [
                {
                    "event_id": e.event_id,
                    "title": e.title,
                    "kind": e.kind,
                    "starts_at": _utc_text(e.starts_at),
                    "booked": e.booked,
                    "capacity": e.capacity,
                }
                for e in events
            ],
            **fill(events),
        },
        "errors": {
            "new": sum(errors_by_category.values()),
            "by_category": errors_by_category,
            "by_severity": errors_by_severity,
            "open": rows.errors_open,
        },
        "tickets": {"new": rows.tickets_new, "open": rows.tickets_open},
        "webhooks": rows.webhooks,
        "attendance": attendance_figures(rows.attendance, now.replace(tzinfo=None)),
    }


@dataclass(frozen=True)
class TrendRows:
    """What the store reads for a run of days; each row starts with the day's index."""

    money: list[tuple[int, str, float, float]] = field(default_factory=list)
    bookings: list[tuple[int, str, int]] = field(default_factory=list)
    events: list[tuple[int, EventRow]] = field(default_factory=list)


def trend_figures(rows: TrendRows, days: list[date]) -> list[dict[str, Any]]:
    """One entry per day, oldest first: revenue and bookings by kind, and the fill."""
    money: dict[int, list[tuple[str, float, float]]] = {}
    for n, kind, paid, refunded in rows.money:
        money.setdefault(n, []).append((kind, paid, refunded))
    bookings: dict[int, dict[str, int]] = {}
    for n, kind, count in rows.bookings:
        day_bookings = bookings.setdefault(n, dict.fromkeys(KINDS, 0))
        day_bookings[kind] = day_bookings.get(kind, 0) + count
    events: dict[int, list[EventRow]] = {}
    for n, event in rows.events:
        events.setdefault(n, []).append(event)
    result = []
    for n, day in enumerate(days):
        revenue = money_by_kind(money.get(n, []))
        result.append(
            {
                "date": day.isoformat(),
                "revenue": revenue["total"],
                "revenue_by_kind": revenue["by_kind"],
                "bookings_by_kind": bookings.get(n, dict.fromkeys(KINDS, 0)),
                "fill": fill(events.get(n, []))["fill"] or 0.0,
            }
        )
    return result


def _utc_text(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat() + "Z"


# --- how a summary reads -------------------------------------------------------------------


def money_text(cents: int, currency: str) -> str:
    return dollars(cents, currency)


def summary_text(figures: Mapping[str, Any]) -> str:
    """The summary as staff read it, in Slack and on the command line (no personal data:
    figures only, and event titles)."""
    currency = figures.get("currency", "aud")
    day = date.fromisoformat(figures["date"])
    revenue = figures["revenue"]
    kinds = ", ".join(
        f"{kind} {money_text(amount, currency)}" for kind, amount in revenue["by_kind"].items()
    )
    orders, bookings, refunds = figures["orders"], figures["bookings"], figures["refunds"]
    lines = [
        f"TinkerTank daily summary for {day:%A %-d %B %Y}",
        f"Orders: {orders['created']} placed, {orders['paid']} paid",
        f"Revenue: {money_text(revenue['total'], currency)} net ({kinds})",
        f"Refunds: {refunds['count']} for {money_text(refunds['amount'], currency)}",
        f"Bookings: {bookings['total']} ("
        + ", ".join(f"{k} {n}" for k, n in bookings["by_kind"].items())
        + ")",
    ]
    tomorrow = figures["tomorrow"]
    next_day = date.fromisoformat(tomorrow["date"])
    if tomorrow["events"]:
        share = f", {tomorrow['fill']:.0%} full" if tomorrow["fill"] is not None else ""
        lines.append(
            f"{next_day:%A %-d %B}: {len(tomorrow['events'])} event(s),"
            f" {tomorrow['booked']}/{tomorrow['capacity']} places booked{share}"
        )
        tz = ZoneInfo(figures.get("timezone", "UTC"))
        for event in tomorrow["events"]:
            starts = datetime.fromisoformat(event["starts_at"].removesuffix("Z"))
            local = starts.replace(tzinfo=UTC).astimezone(tz)
            lines.append(
                f"  {local:%H:%M} {event['title']} ({event['kind']}):"
                f" {event['booked']}/{event['capacity']}"
            )
    else:
        lines.append(f"{next_day:%A %-d %B}: no events")
    errors = figures["errors"]
    by_severity = ", ".join(f"{s} {n}" for s, n in sorted(errors["by_severity"].items()))
    by_category = ", ".join(f"{c} {n}" for c, n in sorted(errors["by_category"].items()))
    lines.append(
        f"Errors: {errors['new']} new"
        + (f" ({by_severity}; {by_category})" if errors["new"] else "")
        + f", {errors['open']} open in all"
    )
    door = figures.get("attendance")  # summaries stored before attendance have none
    if door and door["booked"]:
        lines.append(
            f"At the door: {door['arrived']} of {door['booked']} arrived, {door['no_shows']}"
            f" no-show(s), {door['late_pickups']} late pickup(s)"
        )
    waitlist = figures.get("waitlist")
    if waitlist is not None:
        lines.append(
            f"Waitlist: {waitlist['size']} waiting, {waitlist['offers']} offered a place,"
            f" {waitlist['conversions']} booked through an offer"
        )
    tickets = figures["tickets"]
    lines.append(f"Support tickets: {tickets['new']} new, {tickets['open']} open")
    hooks = figures["webhooks"]
    lag = hooks.get("lag_p95_seconds")
    lines.append(
        f"Webhooks: {hooks.get('received', 0)} received, {hooks.get('processed', 0)} processed,"
        f" {hooks.get('failed', 0)} failed, backlog {hooks.get('backlog', 0)}"
        + (f", lag p95 {lag:.2f} s" if lag is not None else "")
    )
    return "\n".join(lines)

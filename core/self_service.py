"""What a parent may do online with a booking right now, under the catalog's cancellation
policy (`Catalog.cancellation_policy`, docs/catalog.md): cancel for a full refund, cancel for
credit, or not at all; and whether it may be swapped to another day. Pure: `now` (aware) and
the time zone are arguments.

Days are counted as calendar days in the catalog's time zone between today and the booking's
day: with `full_refund_days_before = 7`, a camp on Monday the 11th is refunded when cancelled
on Monday the 4th or earlier, and credited from Tuesday the 5th until it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.catalog import CancellationPolicy
from core.payments import dollars

REFUND, CREDIT, NOT_ALLOWED = "refund", "credit", "not_allowed"


@dataclass(frozen=True)
class Options:
    """`cancel`: REFUND (of `amount` cents), CREDIT (`amount` kept on the order) or
    NOT_ALLOWED; `swap`: whether it may move to another day; `why`: one sentence for the
    parent, saying what they would get and until when."""

    cancel: str
    amount: int
    swap: bool
    why: str


def days_before(starts_at: datetime, now: datetime, tz: ZoneInfo) -> int:
    """Calendar days from today to the booking's day, in `tz` (0 on the day itself)."""
    return (starts_at.astimezone(tz).date() - now.astimezone(tz).date()).days


def may_swap_to(day: date, now: datetime, tz: ZoneInfo, policy: CancellationPolicy) -> bool:
    """Whether a day is far enough ahead to swap into."""
    return (day - now.astimezone(tz).date()).days >= policy.swap_days_before


def options(
    policy: CancellationPolicy | None, kind: str, status: str, starts_at: datetime,
    price: int, currency: str, now: datetime, tz: ZoneInfo,
) -> Options:  # fmt: skip
    """What a parent may do now with one booking (`starts_at` aware, `price` in cents)."""
    if policy is None:
        return Options(NOT_ALLOWED, 0, False, "Changes to this booking are made by our team:"
                       " write to us.")  # fmt: skip
    if status != "confirmed":
        return Options(NOT_ALLOWED, 0, False, f"This booking is {status}.")
    if starts_at <= now:
        return Options(NOT_ALLOWED, 0, False, "This booking has started.")
    days = days_before(starts_at, now, tz)
    swap = kind == "camp" and days >= policy.swap_days_before
    money = dollars(price, currency)
    if days >= policy.full_refund_days_before:
        last = _last_day(starts_at, tz, policy.full_refund_days_before)
        return Options(REFUND, price, swap, f"Cancel by {last} for a full refund of {money}.")
    soon = f"It is less than {policy.full_refund_days_before} days away"
    if policy.credit_after:
        why = f"{soon}: cancelling keeps {money} as credit for another booking."
        return Options(CREDIT, price, swap, why)
    return Options(NOT_ALLOWED, 0, swap, f"{soon}: it can no longer be cancelled online.")


def _last_day(starts_at: datetime, tz: ZoneInfo, days: int) -> str:
    last = starts_at.astimezone(tz).date() - timedelta(days=days)
    return f"{last:%A %-d %B}"

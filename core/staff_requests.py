"""What staff send to act on an order or an event (refund, cancel, move, end a subscription,
change a capacity), checked like a cart: every problem at its path, all at once.

Pure: the sidecar passes the parsed JSON body; each reader returns a value or raises
`InvalidRequest` with the problems.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from typing import Any

from core.validation import (
    MISSING,
    Invalid,
    Problem,
    Problems,
    date_value,
    text,
    time_value,
    whole_number,
)

MAX_REASON = 500
MAX_ITEMS = 50
MAX_CAPACITY = 1000
SUBSCRIPTION_ENDINGS = ("now", "period_end")


class InvalidRequest(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems

    def as_dict(self) -> dict[str, Any]:
        """The 422 body of every staff action."""
        return {"error": "invalid_request", "problems": [p.as_dict() for p in self.problems]}


@dataclass(frozen=True)
class RefundRequest:
    items: tuple[str, ...]  # order item ids; empty: the whole order (or `amount` of it)
    amount: int | None  # cents; None: the items' price, or all that is refundable
    reason: str
    end_subscription: str | None = None  # an Ignite order's: "now" or "period_end" too
    invoice: str | None = None  # an Ignite order's paid invoice (in_…) to refund from


@dataclass(frozen=True)
class MoveRequest:
    date: date
    session: str | None  # a camp's
    start_time: time | None  # a party's
    room: str | None  # a party's room; None: the first free one
    reason: str


@dataclass(frozen=True)
class CapacityRequest:
    capacity: int
    reason: str


@dataclass(frozen=True)
class EndSubscriptionRequest:
    when: str  # "now" or "period_end"
    reason: str


def _body(value: Any, allowed: tuple[str, ...], problems: Problems) -> dict[str, Any]:
    if not isinstance(value, dict):
        problems.add("", "expected a JSON object")
        return {}
    problems.reject_unknown_keys(value, allowed, "")
    return value


def _reason(body: dict[str, Any], problems: Problems) -> str:
    return (
        problems.check(
            "reason", body.get("reason", MISSING), lambda v: text(v, max_length=MAX_REASON)
        )
        or ""
    )


def _raise(problems: Problems) -> None:
    if problems.found:
        raise InvalidRequest(problems.found)


def _positive(value: Any) -> int:
    number = whole_number(value)
    if number <= 0:
        raise Invalid(f"must be more than 0 (cents), got {number}")
    return number


def parse_refund(value: Any) -> RefundRequest:
    problems = Problems()
    body = _body(value, ("items", "amount", "reason", "end_subscription", "invoice"), problems)
    items: list[str] = []
    raw = body.get("items", [])
    if not isinstance(raw, list):
        problems.add("items", "expected a list of order item ids")
    elif len(raw) > MAX_ITEMS:
        problems.add("items", f"at most {MAX_ITEMS} items at once, got {len(raw)}")
    else:
        for n, item in enumerate(raw):
            found = problems.check(f"items[{n}]", item, lambda v: text(v, max_length=200))
            if found is not None:
                if found in items:
                    problems.add(f"items[{n}]", f"{found} is already in the list")
                items.append(found)
    amount = None
    if body.get("amount") is not None:
        amount = problems.check("amount", body["amount"], _positive)
    ending = None
    if body.get("end_subscription") is not None:
        ending = problems.check("end_subscription", body["end_subscription"], _ending)
    invoice = None
    if body.get("invoice") is not None:
        invoice = problems.check("invoice", body["invoice"], _invoice_id)
    reason = _reason(body, problems)
    _raise(problems)
    return RefundRequest(tuple(items), amount, reason, ending, invoice)


def _invoice_id(value: Any) -> str:
    found = text(value, max_length=200)
    if not found.startswith("in_"):
        raise Invalid(f"must be a Stripe invoice id (in_…), got {found!r}")
    return found


def _ending(value: Any) -> str:
    if value not in SUBSCRIPTION_ENDINGS:
        raise Invalid(f"must be one of {', '.join(SUBSCRIPTION_ENDINGS)}")
    return value


def parse_reason(value: Any) -> str:
    """A body with only a reason (cancel a booking)."""
    problems = Problems()
    reason = _reason(_body(value, ("reason",), problems), problems)
    _raise(problems)
    return reason


def parse_move(value: Any) -> MoveRequest:
    problems = Problems()
    body = _body(value, ("date", "session", "start_time", "room", "reason"), problems)
    day = problems.check("date", body.get("date", MISSING), date_value)
    session = start = room = None
    if body.get("session") is not None:
        session = problems.check("session", body["session"], lambda v: text(v, max_length=40))
    if body.get("start_time") is not None:
        start = problems.check("start_time", body["start_time"], time_value)
    if body.get("room") is not None:
        room = problems.check("room", body["room"], lambda v: text(v, max_length=100))
    reason = _reason(body, problems)
    _raise(problems)
    return MoveRequest(day, session, start, room, reason)  # type: ignore[arg-type]


def parse_capacity(value: Any) -> CapacityRequest:
    problems = Problems()
    body = _body(value, ("capacity", "reason"), problems)

    def capacity(v: Any) -> int:
        number = whole_number(v)
        if not 0 <= number <= MAX_CAPACITY:
            raise Invalid(f"must be 0..{MAX_CAPACITY}, got {number}")
        return number

    places = problems.check("capacity", body.get("capacity", MISSING), capacity)
    reason = _reason(body, problems)
    _raise(problems)
    return CapacityRequest(places, reason)  # type: ignore[arg-type]


def parse_end_subscription(value: Any) -> EndSubscriptionRequest:
    problems = Problems()
    body = _body(value, ("when", "reason"), problems)

    ending = problems.check("when", body.get("when", MISSING), _ending)
    reason = _reason(body, problems)
    _raise(problems)
    return EndSubscriptionRequest(ending, reason)  # type: ignore[arg-type]

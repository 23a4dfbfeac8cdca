"""Attendance at the door: where a child stands on an event's day, and who may collect them.

Pure: `now` is an argument, every time is naive UTC as the store keeps them (or any one
time zone, as long as all of them are in it).

- A child **not arrived** has no check-in `NOT_ARRIVED_AFTER` (15 minutes) after the start.
- A **late pickup** is a child checked in and not checked out by the session's end, or
  checked out after it.
- A child is collected by the parent who booked, or one of the adults the parent named at
  checkout (`authorised_collectors`); anyone else needs a staff member's reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

NOT_ARRIVED_AFTER = timedelta(minutes=15)
MAX_REASON_LENGTH = 300
MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class Standing:
    """Where a child stands: one of `vocabulary.ATTENDANCE_STATES`, and its flags."""

    state: str
    not_arrived: bool
    late_pickup: bool

    @property
    def flags(self) -> list[str]:
        return [name for name in ("not_arrived", "late_pickup") if getattr(self, name)]


def standing(
    starts_at: datetime,
    ends_at: datetime,
    checked_in_at: datetime | None,
    checked_out_at: datetime | None,
    now: datetime,
) -> Standing:
    """Where a child booked into a session from `starts_at` to `ends_at` stands at `now`."""
    if checked_in_at is None:
        late_to_arrive = now >= starts_at + NOT_ARRIVED_AFTER
        return Standing("not_arrived" if late_to_arrive else "expected", late_to_arrive, False)
    if checked_out_at is None:
        late = now > ends_at
        return Standing("late_pickup" if late else "checked_in", False, late)
    return Standing("checked_out", False, checked_out_at > ends_at)


def same_person(a: str, b: str) -> bool:
    """ "Sam Lee", "sam lee" and "Sam  Lee " are one name to staff at the door."""
    return name_key(a) == name_key(b)


def name_key(name: str) -> str:
    return " ".join(name.casefold().split())


def may_collect(name: str, parent_name: str | None, collectors: Iterable[str]) -> bool:
    """Whether `name` is the parent who booked or an adult the parent named at checkout."""
    allowed = [n for n in (parent_name, *collectors) if n]
    return any(same_person(name, n) for n in allowed)


def who_may_collect(parent_name: str | None, collectors: Iterable[str]) -> list[str]:
    """The names staff may hand the child to, the parent first, each once."""
    names: dict[str, str] = {}
    for name in (parent_name, *collectors):
        if name and name_key(name) not in names:
            names[name_key(name)] = name
    return list(names.values())

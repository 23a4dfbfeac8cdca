"""Reading the catalog file's TOML: tables field by field, and each value checked.

`Entry` reads one table, recording every problem at its path instead of stopping at the
first, and reports keys nobody asked for, so a typo is caught instead of ignored. The
`as_…` converters check one value each (on the shared rules of `core/validation.py`) and
raise `Invalid` with the problem.

Pure: no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import fields
from datetime import date, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core import validation
from core.catalog import BILLING_INTERVALS, WEEKDAYS, Venue
from core.validation import Invalid, Problems

_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*")
_CURRENCY_PATTERN = re.compile(r"[a-z]{3}")
_T = TypeVar("_T")


# --- Tables --------------------------------------------------------------------------------------


REQUIRED = object()


class Entry:
    """Reads one TOML table field by field, recording problems instead of stopping at the first.

    Every key asked for is remembered, so whatever is left over in the table is reported as an
    unknown key: that is how a typo such as ``capactiy`` gets caught instead of ignored.
    """

    def __init__(self, table: dict[str, Any], path: str, problems: Problems) -> None:
        self.table = table
        self.path = path  # becomes "camps[summer-robotics]" once the id is known
        self.index_path = path  # stays "camps[3]": distinguishes entries that share an id
        self.problems = problems
        self.values: dict[str, Any] = {}

    def child(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def report(self, key: str, message: str) -> None:
        self.problems.add(self.child(key), message)

    def get(self, key: str, convert: Callable[[Any], Any], *, default: Any = REQUIRED) -> Any:
        """The converted value, the default if absent, or None once a problem is reported."""
        self.values[key] = None
        if key not in self.table:
            if default is REQUIRED:
                self.report(key, "missing (required)")
                return None
            self.values[key] = default
            return default
        try:
            self.values[key] = convert(self.table[key])
        except Invalid as err:
            self.report(key, str(err))
        return self.values[key]

    def get_list(
        self,
        key: str,
        convert: Callable[[Any], Any],
        *,
        default: Any = REQUIRED,
        allow_empty: bool = False,
    ) -> tuple[Any, ...]:
        """Each item converted; bad or repeated items are reported and left out."""
        items = self.get(key, as_list, default=default)
        if items is None:
            return ()
        if not items and not allow_empty:
            self.report(key, "must not be empty")
        converted: dict[Any, int] = {}
        for index, item in enumerate(items):
            try:
                value = convert(item)
            except Invalid as err:
                self.report(f"{key}[{index}]", str(err))
                continue
            if value in converted:
                shown = value.isoformat() if isinstance(value, date | time) else repr(value)
                self.report(f"{key}[{index}]", f"{shown} is listed twice")
            else:
                converted[value] = index
        self.values[key] = tuple(converted)
        return self.values[key]

    def entries(self, key: str, *, required: bool = False) -> list[Entry]:
        items = self.get(key, as_list, default=REQUIRED if required else [])
        if required and items == []:
            self.report(key, "must not be empty")
        found = []
        for index, item in enumerate(items or []):
            if isinstance(item, dict):
                found.append(Entry(item, self.child(f"{key}[{index}]"), self.problems))
            else:
                self.report(f"{key}[{index}]", f"expected a table, got {_describe(item)}")
        return found

    def sub_table(self, key: str) -> Entry | None:
        table = self.get(key, as_table)
        return None if table is None else Entry(table, self.child(key), self.problems)

    def identify(self) -> str | None:
        entry_id = self.get("id", as_id)
        if entry_id is not None:
            self.path = f"{self.index_path.rpartition('[')[0]}[{entry_id}]"
        return entry_id

    def finish(self) -> None:
        known = list(self.values)
        for key in self.table:
            if key not in self.values:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(known)}"
                self.report(key, f"unknown key; {hint}")

    def build(self, cls: type[_T], **overrides: Any) -> _T:
        """Report unknown keys, then make ``cls`` from the values read (TOML key = field name).

        Fields that failed validation are None; that is harmless because parse_catalog raises
        before any such object leaves this module.
        """
        self.finish()
        values = {**self.values, **overrides}
        return cls(**{field.name: values.get(field.name) for field in fields(cls)})


def report_duplicates(entries: list[Entry], key: str, what: str) -> None:
    first_seen: dict[Any, Entry] = {}
    for entry in entries:
        value = entry.values.get(key)
        if value is None:
            continue
        if value in first_seen:
            where = first_seen[value].index_path
            entry.problems.add(
                f"{entry.index_path}.{key}", f"{what} {value!r} is already used by {where}"
            )
        else:
            first_seen[value] = entry


# --- Values ---------------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "a table"
    return f"{type(value).__name__} {value}"  # TOML date or time


def as_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise Invalid(f"expected a list, got {_describe(value)}")
    return value


def as_table(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"expected a table, got {_describe(value)}")
    return value


def as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"expected true or false, got {_describe(value)}")
    return value


def as_text(value: Any) -> str:
    return validation.text(value, describe=_describe)


def as_long_text(value: Any) -> str:
    """Text that may run over lines, such as a description or an address."""
    return validation.text(value, multiline=True, describe=_describe)


def as_whole_number(value: Any) -> int:
    return validation.whole_number(value, _describe)


def checked(convert: Callable[[Any], Any], is_ok: Callable[[Any], Any], problem: str) -> Any:
    """``convert``, then reject results failing ``is_ok``; ``problem`` is formatted with it."""

    def check(value: Any) -> Any:
        result = convert(value)
        if not is_ok(result):
            raise Invalid(problem.format(result))
        return result

    return check


as_id = checked(
    as_text, _ID_PATTERN.fullmatch, "{!r} is not a valid id (lowercase letters, digits, dashes)"
)
as_positive = checked(as_whole_number, lambda n: n > 0, "must be greater than zero, got {}")
as_age = checked(as_whole_number, lambda n: n >= 0, "must not be negative, got {}")
as_days = checked(
    as_whole_number, lambda n: 0 <= n <= 365, "must be a number of days from 0 to 365, got {}"
)
as_currency = checked(
    as_text, _CURRENCY_PATTERN.fullmatch, "{!r} is not a currency code (3 lowercase letters)"
)
as_stripe_price = checked(
    as_text, lambda text: text.startswith("price_"), "{!r} must start with 'price_'"
)
as_billing_interval = checked(
    as_text, BILLING_INTERVALS.__contains__, "{!r} is not a billing interval (week or month)"
)


def as_date(value: Any) -> date:
    return validation.date_value(value, _describe)


def as_date_range(value: Any) -> tuple[date, date]:
    if not isinstance(value, list) or len(value) != 2:
        raise Invalid(f"expected [first, last] dates, got {value!r}")
    first, last = as_date(value[0]), as_date(value[1])
    if last < first:
        raise Invalid(f"ends on {last}, before it starts on {first}")
    return first, last


def as_time(value: Any) -> time:
    return validation.time_value(value, _describe)


def as_weekday(value: Any) -> int:
    if isinstance(value, str) and value in WEEKDAYS:
        return WEEKDAYS.index(value)
    raise Invalid(f"{value!r} is not a weekday (lowercase English name, e.g. 'saturday')")


def as_timezone(value: Any) -> str:
    name = as_text(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid(f"{name!r} is not an IANA time zone (e.g. 'Australia/Sydney')") from None
    return name


# Converters that need context; they raise at the item itself so its index is in the message.


def camp_day(holidays: frozenset[date]) -> Callable[[Any], date]:
    def convert(value: Any) -> date:
        day = as_date(value)
        if day.weekday() >= 5:
            raise Invalid(f"{day} is a {WEEKDAYS[day.weekday()].title()}; camps run on weekdays")
        if day in holidays:
            raise Invalid(f"{day} is a public holiday")
        return day

    return convert


def time_ending_same_day(duration_minutes: int | None) -> Callable[[Any], time]:
    def convert(value: Any) -> time:
        start = as_time(value)
        if duration_minutes is not None and (
            start.hour * 60 + start.minute + duration_minutes >= 24 * 60
        ):
            raise Invalid(f"{start:%H:%M} plus {duration_minutes} minutes runs past midnight")
        return start

    return convert


def known_id(what: str, known: list[str] | None, at: str = "") -> Callable[[Any], str]:
    """Text naming one of ``known``; None skips the check because the parent is already wrong."""

    def convert(value: Any) -> str:
        wanted = as_text(value)
        if known is not None and wanted not in known:
            raise Invalid(f"unknown {what} {wanted!r}{at} (known: {', '.join(known) or 'none'})")
        return wanted

    return convert


def room_of(venues: dict[str, Venue], venue_id: str | None) -> Callable[[Any], str]:
    venue = venues.get(venue_id) if venue_id is not None else None
    known = None if venue is None else [room.id for room in venue.rooms if room.id is not None]
    return known_id("room", known, at=f" at venue {venue_id!r}")

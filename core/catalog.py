"""The TinkerTank catalog: every holiday camp, party package and Ignite class we sell.

Staff edit ``data/catalog.toml`` by hand, so this module treats it as untrusted input and turns
it into frozen dataclasses the rest of the system can rely on without re-checking: every venue,
room and term reference resolves, every date is a real date, every price is a positive number of
cents. A bad file fails at start-up with *all* of its problems listed at once, so one round of
edits fixes everything instead of one restart per typo.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
BILLING_INTERVALS = ("week", "month")
CAMP_SESSION_KINDS = ("day", "all_day")
DEFAULT_TIMEZONE = "Australia/Sydney"
DEFAULT_CURRENCY = "aud"
DEFAULT_PARTY_MINUTES = 120

_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*")
# Python 3.11's date.fromisoformat also accepts "20270111" and "2027-W02-1"; staff should only
# ever need to recognise one spelling, so the shape is checked before parsing.
_DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME_PATTERN = re.compile(r"([0-9]{2}):([0-9]{2})")
_CURRENCY_PATTERN = re.compile(r"[a-z]{3}")
_T = TypeVar("_T")


class CatalogError(ValueError):
    """The catalog cannot be used; ``problems`` holds one readable line per problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        # Passing the list (not the message) to ValueError keeps the error picklable.
        super().__init__(self.problems)

    def __str__(self) -> str:
        count = len(self.problems)
        heading = f"catalog has {count} problem{'' if count == 1 else 's'}:"
        return "\n".join([heading, *(f"  - {problem}" for problem in self.problems)])


@dataclass(frozen=True)
class Room:
    id: str
    name: str


@dataclass(frozen=True)
class Venue:
    id: str
    name: str
    address: str
    rooms: tuple[Room, ...]


@dataclass(frozen=True)
class Term:
    id: str
    name: str
    start: date
    end: date


@dataclass(frozen=True)
class SessionTimes:
    start: time
    end: time


@dataclass(frozen=True, kw_only=True)
class Camp:
    kind: ClassVar[str] = "camp"
    id: str
    name: str
    venue: str
    room: str
    dates: tuple[date, ...]
    capacity: int
    prices: Mapping[str, int]  # cents, keyed by camp session kind: "day" and "all_day"
    min_age: int
    max_age: int
    description: str


@dataclass(frozen=True, kw_only=True)
class Party:
    kind: ClassVar[str] = "party"
    id: str
    name: str
    venue: str
    rooms: tuple[str, ...]
    weekdays: tuple[int, ...]  # 0 = Monday, as date.weekday()
    slots: tuple[time, ...]
    duration_minutes: int = DEFAULT_PARTY_MINUTES
    price: int  # cents
    max_guests: int
    first_date: date
    last_date: date
    description: str


@dataclass(frozen=True, kw_only=True)
class Ignite:
    kind: ClassVar[str] = "ignite"
    id: str
    name: str
    venue: str
    room: str
    weekday: int  # 0 = Monday, as date.weekday()
    start: time
    duration_minutes: int
    capacity: int
    terms: tuple[str, ...]
    excluded_dates: tuple[date, ...]
    stripe_price_id: str
    price: int  # cents per billing period
    billing_interval: str  # "week" | "month"
    min_age: int
    max_age: int
    description: str


Product = Camp | Party | Ignite


@dataclass(frozen=True, kw_only=True)
class Catalog:
    timezone: str
    currency: str
    venues: tuple[Venue, ...]
    terms: tuple[Term, ...]
    public_holidays: tuple[date, ...]
    camp_sessions: Mapping[str, SessionTimes]
    camps: tuple[Camp, ...]
    parties: tuple[Party, ...]
    ignite: tuple[Ignite, ...]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def products(self) -> dict[str, Product]:
        return {product.id: product for product in (*self.camps, *self.parties, *self.ignite)}

    def product(self, product_id: str) -> Product:
        return _find(self.products.values(), product_id, "product")

    def venue(self, venue_id: str) -> Venue:
        return _find(self.venues, venue_id, "venue")

    def term(self, term_id: str) -> Term:
        return _find(self.terms, term_id, "term")


def _find(items: Any, wanted: str, what: str) -> Any:
    for item in items:
        if item.id == wanted:
            return item
    raise KeyError(f"unknown {what} {wanted!r}")


def load_catalog(path: str | Path) -> Catalog:
    """Read and validate the catalog file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CatalogError([f"{path}: cannot read catalog: {err}"]) from err
    return parse_catalog(text, source=str(path))


def parse_catalog(text: str, source: str = "catalog.toml") -> Catalog:
    """Validate catalog TOML; ``source`` names the file in every problem message."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        # tomllib's message already ends "(at line N, column M)", which is what staff need.
        raise CatalogError([f"{source}: not valid TOML: {err}"]) from err

    problems = _Problems(source)
    root = _Entry(data, "", problems)
    timezone = root.get("timezone", _as_timezone, default=DEFAULT_TIMEZONE)
    currency = root.get("currency", _as_currency, default=DEFAULT_CURRENCY)
    # Required (even if empty) because a forgotten list would silently schedule on holidays.
    public_holidays = root.get_list("public_holidays", _as_date, allow_empty=True)
    holidays = frozenset(public_holidays)
    camp_sessions = _parse_camp_sessions(root)

    venue_entries = root.entries("venues", required=True)
    venues = tuple(_parse_venue(entry) for entry in venue_entries)
    _report_duplicates(venue_entries, "id", "venue id")
    venues_by_id: dict[str, Venue] = {}
    for venue in venues:
        if venue.id is not None:
            venues_by_id.setdefault(venue.id, venue)

    term_entries = root.entries("terms")
    terms = tuple(_parse_term(entry) for entry in term_entries)
    _report_duplicates(term_entries, "id", "term id")
    term_ids = list(dict.fromkeys(term.id for term in terms if term.id is not None))

    camp_entries = root.entries("camps")
    camps = tuple(_parse_camp(entry, venues_by_id, holidays) for entry in camp_entries)
    party_entries = root.entries("parties")
    parties = tuple(_parse_party(entry, venues_by_id) for entry in party_entries)
    _report_overlapping_parties(party_entries, parties)
    ignite_entries = root.entries("ignite")
    ignite = tuple(_parse_ignite(entry, venues_by_id, term_ids) for entry in ignite_entries)
    # Bookings, calendar events and Stripe metadata are keyed by product id alone.
    _report_duplicates([*camp_entries, *party_entries, *ignite_entries], "id", "product id")
    # The webhook finds the Ignite program from the Stripe price on the subscription.
    _report_duplicates(ignite_entries, "stripe_price_id", "Stripe price")
    root.finish()

    if problems.messages:
        raise CatalogError(problems.messages)
    return Catalog(
        timezone=timezone,
        currency=currency,
        venues=venues,
        terms=terms,
        public_holidays=tuple(sorted(public_holidays)),
        camp_sessions=camp_sessions,
        camps=camps,
        parties=parties,
        ignite=ignite,
    )


# --- Entries -------------------------------------------------------------------------------------


class _Invalid(Exception):
    """One value failed a check; the message becomes a problem at that value's path."""


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.messages: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.messages.append(f"{self.source}: {path}: {message}")


_REQUIRED = object()


class _Entry:
    """Reads one TOML table field by field, recording problems instead of stopping at the first.

    Every key asked for is remembered, so whatever is left over in the table is reported as an
    unknown key: that is how a typo such as ``capactiy`` gets caught instead of ignored.
    """

    def __init__(self, table: dict[str, Any], path: str, problems: _Problems) -> None:
        self.table = table
        self.path = path  # becomes "camps[summer-robotics]" once the id is known
        self.index_path = path  # stays "camps[3]": distinguishes entries that share an id
        self.problems = problems
        self.values: dict[str, Any] = {}

    def child(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def report(self, key: str, message: str) -> None:
        self.problems.add(self.child(key), message)

    def get(self, key: str, convert: Callable[[Any], Any], *, default: Any = _REQUIRED) -> Any:
        """The converted value, the default if absent, or None once a problem is reported."""
        self.values[key] = None
        if key not in self.table:
            if default is _REQUIRED:
                self.report(key, "missing (required)")
                return None
            self.values[key] = default
            return default
        try:
            self.values[key] = convert(self.table[key])
        except _Invalid as err:
            self.report(key, str(err))
        return self.values[key]

    def get_list(
        self,
        key: str,
        convert: Callable[[Any], Any],
        *,
        default: Any = _REQUIRED,
        allow_empty: bool = False,
    ) -> tuple[Any, ...]:
        """Each item converted; bad or repeated items are reported and left out."""
        items = self.get(key, _as_list, default=default)
        if items is None:
            return ()
        if not items and not allow_empty:
            self.report(key, "must not be empty")
        converted: dict[Any, int] = {}
        for index, item in enumerate(items):
            try:
                value = convert(item)
            except _Invalid as err:
                self.report(f"{key}[{index}]", str(err))
                continue
            if value in converted:
                shown = value.isoformat() if isinstance(value, date | time) else repr(value)
                self.report(f"{key}[{index}]", f"{shown} is listed twice")
            else:
                converted[value] = index
        self.values[key] = tuple(converted)
        return self.values[key]

    def entries(self, key: str, *, required: bool = False) -> list[_Entry]:
        items = self.get(key, _as_list, default=_REQUIRED if required else [])
        if required and items == []:
            self.report(key, "must not be empty")
        found = []
        for index, item in enumerate(items or []):
            if isinstance(item, dict):
                found.append(_Entry(item, self.child(f"{key}[{index}]"), self.problems))
            else:
                self.report(f"{key}[{index}]", f"expected a table, got {_describe(item)}")
        return found

    def sub_table(self, key: str) -> _Entry | None:
        table = self.get(key, _as_table)
        return None if table is None else _Entry(table, self.child(key), self.problems)

    def identify(self) -> str | None:
        entry_id = self.get("id", _as_id)
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


def _report_duplicates(entries: list[_Entry], key: str, what: str) -> None:
    first_seen: dict[Any, _Entry] = {}
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


# --- Sections ------------------------------------------------------------------------------------


def _parse_camp_sessions(root: _Entry) -> Mapping[str, SessionTimes]:
    sessions = {}
    table = root.sub_table("camp_sessions")
    if table is not None:
        for kind in CAMP_SESSION_KINDS:
            session = table.sub_table(kind)
            if session is not None:
                start, end = session.get("start", _as_time), session.get("end", _as_time)
                if start is not None and end is not None and end <= start:
                    session.report("end", f"{end:%H:%M} is not after start {start:%H:%M}")
                sessions[kind] = session.build(SessionTimes)
        table.finish()
    return MappingProxyType(sessions)


def _parse_venue(entry: _Entry) -> Venue:
    entry.identify()
    entry.get("name", _as_text)
    entry.get("address", _as_text)
    room_entries = entry.entries("rooms", required=True)
    rooms = []
    for room in room_entries:
        room.identify()
        room.get("name", _as_text)
        rooms.append(room.build(Room))
    _report_duplicates(room_entries, "id", "room id")
    return entry.build(Venue, rooms=tuple(rooms))


def _parse_term(entry: _Entry) -> Term:
    entry.identify()
    entry.get("name", _as_text)
    start, end = entry.get("start", _as_date), entry.get("end", _as_date)
    if start is not None and end is not None and end < start:
        entry.report("end", f"{end} is before start {start}")
    return entry.build(Term)


def _parse_camp(entry: _Entry, venues: dict[str, Venue], holidays: frozenset[date]) -> Camp:
    entry.identify()
    entry.get("name", _as_text)
    venue_id = entry.get("venue", _known_id("venue", list(venues)))
    entry.get("room", _room_of(venues, venue_id))
    dates = _parse_camp_dates(entry, holidays)
    entry.get("capacity", _as_positive)
    prices = {}
    price_table = entry.sub_table("prices")
    if price_table is not None:
        prices = {kind: price_table.get(kind, _as_positive) for kind in CAMP_SESSION_KINDS}
        price_table.finish()
    _parse_ages(entry)
    entry.get("description", _as_text)
    return entry.build(Camp, dates=dates, prices=MappingProxyType(prices))


def _parse_camp_dates(entry: _Entry, holidays: frozenset[date]) -> tuple[date, ...]:
    problems_before = len(entry.problems.messages)
    explicit = entry.get_list("dates", _camp_day(holidays), default=(), allow_empty=True)
    claimed = dict.fromkeys(explicit, "dates")

    def expand(value: Any) -> tuple[date, date]:
        first, last = _as_date_range(value)
        span = (first + timedelta(days=n) for n in range((last - first).days + 1))
        days = [day for day in span if day.weekday() < 5 and day not in holidays]
        if not days:
            raise _Invalid(f"{first} to {last} has no weekdays that are not public holidays")
        overlap = [day for day in days if day in claimed]
        if overlap:
            raise _Invalid(f"{overlap[0]} is already covered by {claimed[overlap[0]]}")
        claimed.update(dict.fromkeys(days, f"the range {first} to {last}"))
        return first, last

    # Ranges keep the file short, so they skip weekends and holidays instead of rejecting them;
    # an explicit date was typed on purpose, so a weekend or holiday there is a mistake.
    entry.get_list("date_ranges", expand, default=(), allow_empty=True)
    if not claimed and len(entry.problems.messages) == problems_before:
        entry.report("dates", "a camp needs at least one date (give dates or date_ranges)")
    return tuple(sorted(claimed))


def _parse_party(entry: _Entry, venues: dict[str, Venue]) -> Party:
    entry.identify()
    entry.get("name", _as_text)
    venue_id = entry.get("venue", _known_id("venue", list(venues)))
    entry.get_list("rooms", _room_of(venues, venue_id))
    entry.get_list("weekdays", _as_weekday)
    duration = entry.get("duration_minutes", _as_positive, default=DEFAULT_PARTY_MINUTES)
    slots = entry.get_list("slots", _time_ending_same_day(duration))
    entry.get("price", _as_positive)
    entry.get("max_guests", _as_positive)
    first_date, last_date = entry.get("first_date", _as_date), entry.get("last_date", _as_date)
    if first_date is not None and last_date is not None and last_date < first_date:
        entry.report("last_date", f"{last_date} is before first_date {first_date}")
    entry.get("description", _as_text)
    return entry.build(Party, slots=tuple(sorted(slots)))


def _report_overlapping_parties(entries: list[_Entry], parties: tuple[Party, ...]) -> None:
    """Two party slots in one room that overlap without starting together.

    A booked party holds its room by the slot's start (the events' slot key), so slots that
    start together exclude each other; a 10:00 and an 11:00 party would both be sold."""

    def minutes(t: time) -> int:
        return t.hour * 60 + t.minute

    complete = [
        (entry, party) for entry, party in zip(entries, parties, strict=True)
        if None not in (party.venue, party.rooms, party.weekdays, party.slots,
                        party.duration_minutes, party.first_date, party.last_date)
    ]  # fmt: skip
    for i, (entry, party) in enumerate(complete):
        for _, other in complete[: i + 1]:
            shared_rooms = set(party.rooms) & set(other.rooms)
            if (
                party.venue != other.venue
                or not shared_rooms
                or not set(party.weekdays) & set(other.weekdays)
                or party.last_date < other.first_date
                or other.last_date < party.first_date
            ):
                continue
            for slot in party.slots:
                start, end = minutes(slot), minutes(slot) + party.duration_minutes
                for other_slot in other.slots:
                    other_start = minutes(other_slot)
                    other_end = other_start + other.duration_minutes
                    if other_start == start or other_end <= start or end <= other_start:
                        continue
                    if other is party and other_start > start:
                        continue  # each pair of one party's slots is reported once
                    whose = "its" if other is party else f"{other.id}'s"
                    entry.report(
                        "slots",
                        f"{slot:%H:%M} ({party.duration_minutes} min) overlaps {whose}"
                        f" {other_slot:%H:%M} ({other.duration_minutes} min) in"
                        f" {', '.join(sorted(shared_rooms))}",
                    )


def _parse_ignite(entry: _Entry, venues: dict[str, Venue], term_ids: list[str]) -> Ignite:
    entry.identify()
    entry.get("name", _as_text)
    venue_id = entry.get("venue", _known_id("venue", list(venues)))
    entry.get("room", _room_of(venues, venue_id))
    entry.get("weekday", _as_weekday)
    duration = entry.get("duration_minutes", _as_positive)
    entry.get("start", _time_ending_same_day(duration))
    entry.get("capacity", _as_positive)
    entry.get_list("terms", _known_id("term", term_ids))
    excluded = entry.get_list("excluded_dates", _as_date, default=(), allow_empty=True)
    entry.get("stripe_price_id", _as_stripe_price)
    entry.get("price", _as_positive)
    entry.get("billing_interval", _as_billing_interval)
    _parse_ages(entry)
    entry.get("description", _as_text)
    return entry.build(Ignite, excluded_dates=tuple(sorted(excluded)))


def _parse_ages(entry: _Entry) -> None:
    min_age, max_age = entry.get("min_age", _as_age), entry.get("max_age", _as_age)
    if min_age is not None and max_age is not None and min_age > max_age:
        entry.report("min_age", f"{min_age} is above max_age {max_age}")


# --- Values --------------------------------------------------------------------------------------


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


def _as_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _Invalid(f"expected a list, got {_describe(value)}")
    return value


def _as_table(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(f"expected a table, got {_describe(value)}")
    return value


def _as_text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected text, got {_describe(value)}")
    if not value.strip():
        raise _Invalid("must not be empty")
    return value


def _as_whole_number(value: Any) -> int:
    # bool is a subclass of int: without this check `capacity = true` would quietly mean 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"expected a whole number, got {_describe(value)}")
    return value


def _checked(convert: Callable[[Any], Any], is_ok: Callable[[Any], Any], problem: str) -> Any:
    """``convert``, then reject results failing ``is_ok``; ``problem`` is formatted with it."""

    def check(value: Any) -> Any:
        result = convert(value)
        if not is_ok(result):
            raise _Invalid(problem.format(result))
        return result

    return check


_as_id = _checked(
    _as_text, _ID_PATTERN.fullmatch, "{!r} is not a valid id (lowercase letters, digits, dashes)"
)
_as_positive = _checked(_as_whole_number, lambda n: n > 0, "must be greater than zero, got {}")
_as_age = _checked(_as_whole_number, lambda n: n >= 0, "must not be negative, got {}")
_as_currency = _checked(
    _as_text, _CURRENCY_PATTERN.fullmatch, "{!r} is not a currency code (3 lowercase letters)"
)
_as_stripe_price = _checked(
    _as_text, lambda text: text.startswith("price_"), "{!r} must start with 'price_'"
)
_as_billing_interval = _checked(
    _as_text, BILLING_INTERVALS.__contains__, "{!r} is not a billing interval (week or month)"
)


def _as_date(value: Any) -> date:
    # tomllib turns 2027-01-11T09:00 into a datetime, which is also a date: reject it first.
    if isinstance(value, datetime):
        raise _Invalid(f"{value.isoformat()} has a time of day; expected a date (YYYY-MM-DD)")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE_PATTERN.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _Invalid(f"{value!r} is not a date (YYYY-MM-DD)")


def _as_date_range(value: Any) -> tuple[date, date]:
    if not isinstance(value, list) or len(value) != 2:
        raise _Invalid(f"expected [first, last] dates, got {value!r}")
    first, last = _as_date(value[0]), _as_date(value[1])
    if last < first:
        raise _Invalid(f"ends on {last}, before it starts on {first}")
    return first, last


def _as_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    match = _TIME_PATTERN.fullmatch(value) if isinstance(value, str) else None
    if match and int(match[1]) < 24 and int(match[2]) < 60:
        return time(int(match[1]), int(match[2]))
    raise _Invalid(f"{value!r} is not a time (HH:MM)")


def _as_weekday(value: Any) -> int:
    if isinstance(value, str) and value in WEEKDAYS:
        return WEEKDAYS.index(value)
    raise _Invalid(f"{value!r} is not a weekday (lowercase English name, e.g. 'saturday')")


def _as_timezone(value: Any) -> str:
    name = _as_text(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _Invalid(f"{name!r} is not an IANA time zone (e.g. 'Australia/Sydney')") from None
    return name


# Converters that need context; they raise at the item itself so its index is in the message.


def _camp_day(holidays: frozenset[date]) -> Callable[[Any], date]:
    def convert(value: Any) -> date:
        day = _as_date(value)
        if day.weekday() >= 5:
            raise _Invalid(f"{day} is a {WEEKDAYS[day.weekday()].title()}; camps run on weekdays")
        if day in holidays:
            raise _Invalid(f"{day} is a public holiday")
        return day

    return convert


def _time_ending_same_day(duration_minutes: int | None) -> Callable[[Any], time]:
    def convert(value: Any) -> time:
        start = _as_time(value)
        if duration_minutes is not None and (
            start.hour * 60 + start.minute + duration_minutes >= 24 * 60
        ):
            raise _Invalid(f"{start:%H:%M} plus {duration_minutes} minutes runs past midnight")
        return start

    return convert


def _known_id(what: str, known: list[str] | None, at: str = "") -> Callable[[Any], str]:
    """Text naming one of ``known``; None skips the check because the parent is already wrong."""

    def convert(value: Any) -> str:
        wanted = _as_text(value)
        if known is not None and wanted not in known:
            raise _Invalid(f"unknown {what} {wanted!r}{at} (known: {', '.join(known) or 'none'})")
        return wanted

    return convert


def _room_of(venues: dict[str, Venue], venue_id: str | None) -> Callable[[Any], str]:
    venue = venues.get(venue_id) if venue_id is not None else None
    known = None if venue is None else [room.id for room in venue.rooms if room.id is not None]
    return _known_id("room", known, at=f" at venue {venue_id!r}")

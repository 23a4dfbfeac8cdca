"""The catalog file: staff edit ``data/catalog.toml`` by hand, so it is untrusted input.

A bad file fails at start-up with *all* of its problems listed at once (each as
``source: path: message``), so one round of edits fixes everything instead of one restart
per typo. What a valid file becomes is `core/catalog.py`'s `Catalog`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from core.catalog import (
    CAMP_SESSION_KINDS,
    DEFAULT_CURRENCY,
    DEFAULT_PARTY_MINUTES,
    DEFAULT_TIMEZONE,
    SELF_SERVICE_KINDS,
    Camp,
    CancellationPolicy,
    Catalog,
    CatalogError,
    Ignite,
    Party,
    Room,
    SessionTimes,
    Term,
    Venue,
)
from core.catalog_fields import (
    Entry,
    as_age,
    as_billing_interval,
    as_bool,
    as_currency,
    as_date,
    as_date_range,
    as_days,
    as_long_text,
    as_positive,
    as_stripe_price,
    as_table,
    as_text,
    as_time,
    as_timezone,
    as_weekday,
    camp_day,
    known_id,
    report_duplicates,
    room_of,
    time_ending_same_day,
)
from core.validation import Invalid, Problems


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

    problems = Problems()
    root = Entry(data, "", problems)
    timezone = root.get("timezone", as_timezone, default=DEFAULT_TIMEZONE)
    currency = root.get("currency", as_currency, default=DEFAULT_CURRENCY)
    # Required (even if empty) because a forgotten list would silently schedule on holidays.
    public_holidays = root.get_list("public_holidays", as_date, allow_empty=True)
    holidays = frozenset(public_holidays)
    camp_sessions = _parse_camp_sessions(root)

    venue_entries = root.entries("venues", required=True)
    venues = tuple(_parse_venue(entry) for entry in venue_entries)
    report_duplicates(venue_entries, "id", "venue id")
    venues_by_id: dict[str, Venue] = {}
    for venue in venues:
        if venue.id is not None:
            venues_by_id.setdefault(venue.id, venue)

    term_entries = root.entries("terms")
    terms = tuple(_parse_term(entry) for entry in term_entries)
    report_duplicates(term_entries, "id", "term id")
    term_ids = list(dict.fromkeys(term.id for term in terms if term.id is not None))

    camp_entries = root.entries("camps")
    camps = tuple(_parse_camp(entry, venues_by_id, holidays) for entry in camp_entries)
    party_entries = root.entries("parties")
    parties = tuple(_parse_party(entry, venues_by_id) for entry in party_entries)
    _report_overlapping_parties(party_entries, parties)
    ignite_entries = root.entries("ignite")
    ignite = tuple(_parse_ignite(entry, venues_by_id, term_ids) for entry in ignite_entries)
    cancellation_policy = _parse_cancellation_policy(root)
    # Bookings, calendar events and Stripe metadata are keyed by product id alone.
    report_duplicates([*camp_entries, *party_entries, *ignite_entries], "id", "product id")
    # The webhook finds the Ignite program from the Stripe price on the subscription.
    report_duplicates(ignite_entries, "stripe_price_id", "Stripe price")
    root.finish()

    if problems.found:
        raise CatalogError([f"{source}: {p.path}: {p.message}" for p in problems.found])
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
        cancellation_policy=cancellation_policy,
    )


# --- Sections ------------------------------------------------------------------------------------


def _parse_camp_sessions(root: Entry) -> Mapping[str, SessionTimes]:
    sessions = {}
    table = root.sub_table("camp_sessions")
    if table is not None:
        for kind in CAMP_SESSION_KINDS:
            session = table.sub_table(kind)
            if session is not None:
                start, end = session.get("start", as_time), session.get("end", as_time)
                if start is not None and end is not None and end <= start:
                    session.report("end", f"{end:%H:%M} is not after start {start:%H:%M}")
                sessions[kind] = session.build(SessionTimes)
        table.finish()
    return MappingProxyType(sessions)


def _parse_cancellation_policy(root: Entry) -> Mapping[str, CancellationPolicy]:
    """`[cancellation_policy.camp]` and `[cancellation_policy.party]`, each key optional
    (`CancellationPolicy`'s defaults); a kind left out keeps the defaults."""
    table = root.get("cancellation_policy", as_table, default=None)
    policies = {kind: CancellationPolicy() for kind in SELF_SERVICE_KINDS}
    if table is None:
        return MappingProxyType(policies)
    section = Entry(table, root.child("cancellation_policy"), root.problems)
    defaults = CancellationPolicy()
    for kind in SELF_SERVICE_KINDS:
        if kind not in table:
            section.values[kind] = None  # known, so not reported as unknown
            continue
        entry = section.sub_table(kind)
        if entry is None:
            continue
        policies[kind] = entry.build(
            CancellationPolicy,
            full_refund_days_before=entry.get(
                "full_refund_days_before", as_days, default=defaults.full_refund_days_before
            ),
            credit_after=entry.get("credit_after", as_bool, default=defaults.credit_after),
            swap_days_before=entry.get(
                "swap_days_before", as_days, default=defaults.swap_days_before
            ),
        )
    section.finish()
    return MappingProxyType(policies)


def _parse_venue(entry: Entry) -> Venue:
    entry.identify()
    entry.get("name", as_text)
    entry.get("address", as_long_text)
    room_entries = entry.entries("rooms", required=True)
    rooms = []
    for room in room_entries:
        room.identify()
        room.get("name", as_text)
        rooms.append(room.build(Room))
    report_duplicates(room_entries, "id", "room id")
    return entry.build(Venue, rooms=tuple(rooms))


def _parse_term(entry: Entry) -> Term:
    entry.identify()
    entry.get("name", as_text)
    start, end = entry.get("start", as_date), entry.get("end", as_date)
    if start is not None and end is not None and end < start:
        entry.report("end", f"{end} is before start {start}")
    return entry.build(Term)


def _parse_camp(entry: Entry, venues: dict[str, Venue], holidays: frozenset[date]) -> Camp:
    entry.identify()
    entry.get("name", as_text)
    venue_id = entry.get("venue", known_id("venue", list(venues)))
    entry.get("room", room_of(venues, venue_id))
    dates = _parse_camp_dates(entry, holidays)
    entry.get("capacity", as_positive)
    prices = {}
    price_table = entry.sub_table("prices")
    if price_table is not None:
        prices = {kind: price_table.get(kind, as_positive) for kind in CAMP_SESSION_KINDS}
        price_table.finish()
    _parse_ages(entry)
    entry.get("description", as_long_text)
    return entry.build(Camp, dates=dates, prices=MappingProxyType(prices))


def _parse_camp_dates(entry: Entry, holidays: frozenset[date]) -> tuple[date, ...]:
    problems_before = len(entry.problems)
    explicit = entry.get_list("dates", camp_day(holidays), default=(), allow_empty=True)
    claimed = dict.fromkeys(explicit, "dates")

    def expand(value: Any) -> tuple[date, date]:
        first, last = as_date_range(value)
        span = (first + timedelta(days=n) for n in range((last - first).days + 1))
        days = [day for day in span if day.weekday() < 5 and day not in holidays]
        if not days:
            raise Invalid(f"{first} to {last} has no weekdays that are not public holidays")
        overlap = [day for day in days if day in claimed]
        if overlap:
            raise Invalid(f"{overlap[0]} is already covered by {claimed[overlap[0]]}")
        claimed.update(dict.fromkeys(days, f"the range {first} to {last}"))
        return first, last

    # Ranges keep the file short, so they skip weekends and holidays instead of rejecting them;
    # an explicit date was typed on purpose, so a weekend or holiday there is a mistake.
    entry.get_list("date_ranges", expand, default=(), allow_empty=True)
    if not claimed and len(entry.problems) == problems_before:
        entry.report("dates", "a camp needs at least one date (give dates or date_ranges)")
    return tuple(sorted(claimed))


def _parse_party(entry: Entry, venues: dict[str, Venue]) -> Party:
    entry.identify()
    entry.get("name", as_text)
    venue_id = entry.get("venue", known_id("venue", list(venues)))
    entry.get_list("rooms", room_of(venues, venue_id))
    entry.get_list("weekdays", as_weekday)
    duration = entry.get("duration_minutes", as_positive, default=DEFAULT_PARTY_MINUTES)
    slots = entry.get_list("slots", time_ending_same_day(duration))
    entry.get("price", as_positive)
    entry.get("max_guests", as_positive)
    first_date, last_date = entry.get("first_date", as_date), entry.get("last_date", as_date)
    if first_date is not None and last_date is not None and last_date < first_date:
        entry.report("last_date", f"{last_date} is before first_date {first_date}")
    entry.get("description", as_long_text)
    return entry.build(Party, slots=tuple(sorted(slots)))


def _report_overlapping_parties(entries: list[Entry], parties: tuple[Party, ...]) -> None:
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


def _parse_ignite(entry: Entry, venues: dict[str, Venue], term_ids: list[str]) -> Ignite:
    entry.identify()
    entry.get("name", as_text)
    venue_id = entry.get("venue", known_id("venue", list(venues)))
    entry.get("room", room_of(venues, venue_id))
    entry.get("weekday", as_weekday)
    duration = entry.get("duration_minutes", as_positive)
    entry.get("start", time_ending_same_day(duration))
    entry.get("capacity", as_positive)
    entry.get_list("terms", known_id("term", term_ids))
    excluded = entry.get_list("excluded_dates", as_date, default=(), allow_empty=True)
    entry.get("stripe_price_id", as_stripe_price)
    entry.get("price", as_positive)
    entry.get("billing_interval", as_billing_interval)
    _parse_ages(entry)
    entry.get("description", as_long_text)
    return entry.build(Ignite, excluded_dates=tuple(sorted(excluded)))


def _parse_ages(entry: Entry) -> None:
    min_age, max_age = entry.get("min_age", as_age), entry.get("max_age", as_age)
    if min_age is not None and max_age is not None and min_age > max_age:
        entry.report("min_age", f"{min_age} is above max_age {max_age}")

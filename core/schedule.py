"""When and where each thing we sell happens: catalog entries turned into calendar events.

A camp day, a party slot or an Ignite class becomes a `PlannedEvent` with a slot key, the
database's unique key for "this event exists once", so two payments for the same camp day land
on one event instead of creating two. Every time in the catalog is Sydney wall-clock time; the
events carry UTC instants, because that is what the store keeps and what calendars exchange.

Pure: no I/O and no clock. Anything that depends on "now" takes it as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypedDict, TypeVar
from zoneinfo import ZoneInfo

from core.catalog import (
    WEEKDAYS,
    Camp,
    Catalog,
    Ignite,
    Party,
    Product,
    Term,
)
from core.slot_keys import (
    camp_slot_key,
    event_uid,
    ignite_slot_key,
    party_slot_key,
    require_date,
)

# RFC 5545 BYDAY codes, indexed like date.weekday() (0 = Monday).
_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_SESSION_LABELS = {"day": "day session", "all_day": "all-day session"}

_P = TypeVar("_P", Camp, Party, Ignite)


class ScheduleError(ValueError):
    """A request the catalog does not allow; the message says what was asked and why not."""


@dataclass(frozen=True)
class PlannedEvent:
    """One event as it will be stored in the `events` table; times are aware UTC datetimes."""

    slot_key: str
    kind: str  # "camp" | "party" | "ignite"
    product_id: str
    title: str
    venue_id: str
    room_id: str
    local_date: date  # the Sydney date, which can differ from starts_at's UTC date
    starts_at: datetime
    ends_at: datetime
    capacity: int
    uid: str

    def __post_init__(self) -> None:
        # Naive datetimes here would be stored as if they were UTC: catch the mix-up at once.
        for name in ("starts_at", "ends_at"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() != timedelta(0):
                raise ValueError(f"{name} must be an aware UTC datetime, got {value!r}")
        if self.ends_at <= self.starts_at:
            raise ValueError(f"event {self.slot_key} ends at or before it starts")

    @property
    def starts_at_naive_utc(self) -> datetime:
        """`starts_at` for the store, whose TIMESTAMP columns hold naive UTC."""
        return self.starts_at.replace(tzinfo=None)

    @property
    def ends_at_naive_utc(self) -> datetime:
        """`ends_at` for the store, whose TIMESTAMP columns hold naive UTC."""
        return self.ends_at.replace(tzinfo=None)


class IgniteRecurrence(TypedDict):
    """One term of an Ignite program as an RFC 5545 recurrence (DTSTART + RRULE + EXDATE)."""

    dtstart: datetime  # aware, catalog time zone: the first class that actually runs
    rrule: str
    exdates: list[datetime]  # aware, catalog time zone: skipped classes after dtstart
    duration_minutes: int
    timezone: str


# --- Camps ---------------------------------------------------------------------------------------


def camp_event(catalog: Catalog, camp_id: str, day: date, session: str) -> PlannedEvent:
    """The calendar event for one session ("day" or "all_day") of a camp on one of its days."""
    camp = _product_of_kind(catalog, camp_id, Camp, "camp")
    require_date(day)
    times = catalog.camp_sessions.get(session)
    if times is None:
        sessions = ", ".join(catalog.camp_sessions)
        raise ScheduleError(
            f"cannot book camp {camp.id} on {day}: unknown session {session!r} "
            f"(sessions: {sessions})"
        )
    if day not in camp.dates:
        raise ScheduleError(
            f"{day} is not a day of camp {camp.id} ({_why_not_a_camp_day(catalog, camp, day)})"
        )
    slot_key = camp_slot_key(camp.id, day, session)
    return PlannedEvent(
        slot_key=slot_key,
        kind=Camp.kind,
        product_id=camp.id,
        title=f"{camp.name} — {_SESSION_LABELS.get(session, session)}",
        venue_id=camp.venue,
        room_id=camp.room,
        local_date=day,
        # Both ends are wall-clock times from the catalog, so each is converted on its own.
        starts_at=_utc(catalog.tz, day, times.start),
        ends_at=_utc(catalog.tz, day, times.end),
        capacity=camp.capacity,
        uid=event_uid(slot_key),
    )


def _why_not_a_camp_day(catalog: Catalog, camp: Camp, day: date) -> str:
    if day in catalog.public_holidays:
        return "it is a public holiday"
    if day.weekday() >= 5:
        return f"it is a {_weekday_name(day.weekday())}; camps run on weekdays"
    return f"the camp runs on {len(camp.dates)} days between {camp.dates[0]} and {camp.dates[-1]}"


# --- Parties -------------------------------------------------------------------------------------


def party_event(
    catalog: Catalog, party_id: str, day: date, start: time, room_id: str
) -> PlannedEvent:
    """The calendar event for one party in one room at one of the package's start slots.

    Every reason the request breaks the package's rules is listed at once, so the customer
    (or staff member) can fix the booking in one go.
    """
    party = _product_of_kind(catalog, party_id, Party, "party")
    require_date(day)
    problems = []
    if not party.first_date <= day <= party.last_date:
        problems.append(
            f"{day} is outside its booking window {party.first_date} to {party.last_date}"
        )
    if day.weekday() not in party.weekdays:
        allowed = " and ".join(_weekday_name(weekday) for weekday in party.weekdays)
        problems.append(f"{day} is a {_weekday_name(day.weekday())}; it runs on {allowed}")
    if start not in party.slots:
        slots = ", ".join(f"{slot:%H:%M}" for slot in party.slots)
        problems.append(f"{start:%H:%M} is not one of its start times ({slots})")
    if room_id not in party.rooms:
        problems.append(f"room {room_id!r} is not one of its rooms ({', '.join(party.rooms)})")
    if problems:
        raise ScheduleError(
            f"cannot book party {party.id} on {day} at {start:%H:%M} in room {room_id}: "
            + "; ".join(problems)
        )
    slot_key = party_slot_key(party.venue, room_id, day, start)
    starts_at = _utc(catalog.tz, day, start)
    return PlannedEvent(
        slot_key=slot_key,
        kind=Party.kind,
        product_id=party.id,
        title=party.name,
        venue_id=party.venue,
        room_id=room_id,
        local_date=day,
        starts_at=starts_at,
        # Elapsed minutes, not wall-clock: a party lasts its length even across a DST change.
        ends_at=starts_at + timedelta(minutes=party.duration_minutes),
        capacity=1,  # the whole room is the party's: one booking fills it
        uid=event_uid(slot_key),
    )


def party_room_candidates(catalog: Catalog, party_id: str) -> tuple[str, ...]:
    """The rooms a party may use, most preferred first (the order staff listed them)."""
    return _product_of_kind(catalog, party_id, Party, "party").rooms


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Whether two half-open intervals [start, end) share any time.

    Half-open so that one party ending at 12:00 and the next starting at 12:00 do not clash.
    """
    return a_start < b_end and b_start < a_end


# --- Ignite --------------------------------------------------------------------------------------


def ignite_class_dates(catalog: Catalog, program_id: str) -> list[date]:
    """Every date the program meets: its weekday in each of its terms, less skipped days."""
    program = _product_of_kind(catalog, program_id, Ignite, "Ignite program")
    days: set[date] = set()  # a set, in case two of the program's terms overlap
    for term_id in program.terms:
        held, _skipped = _term_days(catalog, program, catalog.term(term_id))
        days.update(held)
    return sorted(days)


def ignite_events(
    catalog: Catalog, program_id: str, start: date | None = None, end: date | None = None
) -> list[PlannedEvent]:
    """The program's class events, optionally only those on local dates start..end inclusive."""
    program = _product_of_kind(catalog, program_id, Ignite, "Ignite program")
    return [
        _ignite_event(catalog, program, day)
        for day in ignite_class_dates(catalog, program.id)
        if (start is None or start <= day) and (end is None or day <= end)
    ]


def ignite_classes_in_period(
    catalog: Catalog, program_id: str, period_start: datetime, period_end: datetime
) -> list[PlannedEvent]:
    """The classes starting in [period_start, period_end): what one Stripe invoice pays for.

    Half-open like Stripe's own periods, so consecutive invoices never both claim a class.
    """
    for name, value in (("period_start", period_start), ("period_end", period_end)):
        if value.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return [
        event
        for event in ignite_events(catalog, program_id)
        if period_start <= event.starts_at < period_end
    ]


def ignite_recurrence(catalog: Catalog, program_id: str, term_id: str) -> IgniteRecurrence:
    """One term of a program as DTSTART, RRULE and EXDATEs for a recurring calendar invite.

    DTSTART is the first class that actually runs, because some calendar clients show DTSTART
    even when an EXDATE removes it. UNTIL is the end of the term's last local day, written in
    UTC as RFC 5545 §3.3.10 requires when DTSTART has a TZID: writing the local 23:59:59 with a
    "Z" would stretch the rule up to eleven hours past the term, far enough to catch a Saturday
    morning class on the day after a term that ends on a Friday.
    """
    program = _product_of_kind(catalog, program_id, Ignite, "Ignite program")
    if term_id not in program.terms:
        raise ScheduleError(
            f"Ignite program {program.id} does not run in term {term_id!r} "
            f"(terms: {', '.join(program.terms)})"
        )
    term = catalog.term(term_id)
    held, skipped = _term_days(catalog, program, term)
    if not held:
        raise ScheduleError(
            f"Ignite program {program.id} has no classes in term {term.id}: every "
            f"{_weekday_name(program.weekday)} from {term.start} to {term.end} is skipped"
        )
    tz = catalog.tz
    until = datetime.combine(term.end, time(23, 59, 59), tzinfo=tz).astimezone(UTC)
    return IgniteRecurrence(
        dtstart=_local(tz, held[0], program.start),
        rrule=f"FREQ=WEEKLY;BYDAY={_BYDAY[program.weekday]};UNTIL={until:%Y%m%dT%H%M%SZ}",
        exdates=[_local(tz, day, program.start) for day in skipped if day > held[0]],
        duration_minutes=program.duration_minutes,
        timezone=catalog.timezone,
    )


def ignite_series(catalog: Catalog, program_id: str) -> IgniteRecurrence:
    """The whole program as one weekly series: from its first class to its last, with
    every week it does not meet (school holidays, public holidays, closures) as an EXDATE.
    This is the program's recurring template, the rule its class events come from."""
    program = _product_of_kind(catalog, program_id, Ignite, "Ignite program")
    held = ignite_class_dates(catalog, program_id)
    if not held:
        raise ScheduleError(f"Ignite program {program.id} has no classes")
    weekly = [held[0] + timedelta(weeks=n) for n in range((held[-1] - held[0]).days // 7 + 1)]
    classes = set(held)
    tz = catalog.tz
    until = datetime.combine(held[-1], time(23, 59, 59), tzinfo=tz).astimezone(UTC)
    return IgniteRecurrence(
        dtstart=_local(tz, held[0], program.start),
        rrule=f"FREQ=WEEKLY;BYDAY={_BYDAY[program.weekday]};UNTIL={until:%Y%m%dT%H%M%SZ}",
        exdates=[_local(tz, day, program.start) for day in weekly if day not in classes],
        duration_minutes=program.duration_minutes,
        timezone=catalog.timezone,
    )


def template_id(program_id: str) -> str:
    """The recurring template of an Ignite program (one per program)."""
    return f"tpl_{program_id}"


def _term_days(catalog: Catalog, program: Ignite, term: Term) -> tuple[list[date], list[date]]:
    """The program's weekday in the term (inclusive), split into held and skipped dates."""
    skip = set(catalog.public_holidays) | set(program.excluded_dates)
    first = term.start + timedelta(days=(program.weekday - term.start.weekday()) % 7)
    weekly = [first + timedelta(weeks=n) for n in range((term.end - first).days // 7 + 1)]
    held = [day for day in weekly if day not in skip]
    skipped = [day for day in weekly if day in skip]
    return held, skipped


def _ignite_event(catalog: Catalog, program: Ignite, day: date) -> PlannedEvent:
    slot_key = ignite_slot_key(program.id, day)
    starts_at = _utc(catalog.tz, day, program.start)
    return PlannedEvent(
        slot_key=slot_key,
        kind=Ignite.kind,
        product_id=program.id,
        title=program.name,
        venue_id=program.venue,
        room_id=program.room,
        local_date=day,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=program.duration_minutes),
        capacity=program.capacity,
        uid=event_uid(slot_key),
    )


# --- Helpers -------------------------------------------------------------------------------------


def _product_of_kind(catalog: Catalog, product_id: str, cls: type[_P], what: str) -> _P:
    try:
        product: Product = catalog.product(product_id)
    except KeyError:
        raise ScheduleError(f"unknown {what} {product_id!r}") from None
    if not isinstance(product, cls):
        raise ScheduleError(f"{product_id!r} is a {product.kind}, not a {what}")
    return product


def _local(tz: ZoneInfo, day: date, at: time) -> datetime:
    """The aware wall-clock time ``at`` on ``day``; refused if clocks skip over it.

    In the hour repeated when daylight saving ends, the first (daylight) occurrence is meant.
    """
    local = datetime.combine(day, at, tzinfo=tz)
    # zoneinfo quietly accepts a time in the spring-forward gap and lands an hour off.
    if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ScheduleError(f"{day} {at:%H:%M} does not exist in {tz.key}: the clocks skip it")
    return local


def _utc(tz: ZoneInfo, day: date, at: time) -> datetime:
    return _local(tz, day, at).astimezone(UTC)


def _weekday_name(weekday: int) -> str:
    return WEEKDAYS[weekday].title()

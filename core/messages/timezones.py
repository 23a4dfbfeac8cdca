"""The VTIMEZONE of an invite: one STANDARD and one DAYLIGHT observance, each with a yearly
RRULE, the way calendar programs write their own.

`icalendar` writes a zone from the zoneinfo database as every past and future clock change,
one RDATE each (about 130 for Sydney, 1970 to 2038). RFC 5545 allows that, but Outlook is
known to shift events in RDATE-based zones, and ical.js reads only the first value of a
comma-separated RDATE. Two observances with RRULEs read the same everywhere. They are derived
from the zoneinfo database itself, and used only when they reproduce every clock change of
the years around the invite's events; a zone whose rules changed in that span (or that has
no yearly rule) gets the full list of changes instead, one RDATE a line.

Pure: the zone and the years come in as arguments.
"""

from __future__ import annotations

import calendar as month_calendar
import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
CHECKED_YEARS = 12  # the yearly rule must give every change of this many years from the first


@dataclass(frozen=True)
class Change:
    """One clock change: the wall-clock time it happens at, in the offset before it."""

    local: datetime  # naive, in `before`
    before: timedelta
    after: timedelta
    name: str  # the abbreviation after it (AEST, AEDT)


@functools.cache
def changes_in(tz: ZoneInfo, year: int) -> tuple[Change, ...]:
    """The clock changes of `year`, in order (none for a zone without daylight saving).
    Kept once worked out: every invite checks twelve years of them."""
    found = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    step = timedelta(days=1)
    while moment < end:
        later = min(moment + step, end)
        if moment.astimezone(tz).utcoffset() != later.astimezone(tz).utcoffset():
            low, high = moment, later  # the change is in (low, high]: narrow it to a second
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(tz).utcoffset() == low.astimezone(tz).utcoffset():
                    low = middle
                else:
                    high = middle
            high = high.replace(second=0, microsecond=0)  # changes happen on the minute
            before = low.astimezone(tz).utcoffset()
            after_local = high.astimezone(tz)
            found.append(
                Change(
                    local=(high + before).replace(tzinfo=None),
                    before=before,
                    after=after_local.utcoffset(),
                    name=after_local.tzname() or "",
                )
            )
        moment = later
    return tuple(found)


def yearly_rules(change: Change) -> list[str]:
    """The rules the change may follow: `FREQ=YEARLY;BYMONTH=4;BYDAY=1SU`, its month and
    nth weekday, and, in the month's last week, `-1SU` (the last one) as well."""
    day = change.local
    weekday = WEEKDAYS[day.weekday()]
    last_day = month_calendar.monthrange(day.year, day.month)[1]
    nths = [] if day.day > 28 else [str((day.day - 1) // 7 + 1)]
    if day.day > last_day - 7:
        nths.insert(0, "-1")
    return [f"FREQ=YEARLY;BYMONTH={day.month};BYDAY={nth}{weekday}" for nth in nths]


def _rule_date(year: int, rule: str) -> datetime:
    parts = dict(part.split("=") for part in rule.split(";"))
    month = int(parts["BYMONTH"])
    nth, weekday = int(parts["BYDAY"][:-2]), WEEKDAYS.index(parts["BYDAY"][-2:])
    days = [
        day
        for day in range(1, month_calendar.monthrange(year, month)[1] + 1)
        if datetime(year, month, day).weekday() == weekday
    ]
    return datetime(year, month, days[nth - 1 if nth > 0 else nth])


def rules_hold(tz: ZoneInfo, first_year: int, rules: list[tuple[str, Change]]) -> bool:
    """Whether the changes of `first_year`, repeated by their yearly rules, are every change
    of the years that follow it."""
    for year in range(first_year, first_year + CHECKED_YEARS):
        actual = changes_in(tz, year)
        expected = [
            (_rule_date(year, rule).replace(hour=c.local.hour, minute=c.local.minute), c.before)
            for rule, c in rules
        ]
        if sorted((c.local, c.before) for c in actual) != sorted(expected):
            return False
    return True


def vtimezone(tz: ZoneInfo, first_year: int) -> icalendar.Timezone | None:
    """The zone as one STANDARD and one DAYLIGHT observance with yearly RRULEs, starting in
    `first_year` (at or before the invite's first event); None when the zone has no such
    rule over the years checked."""
    changes = changes_in(tz, first_year)
    zone = icalendar.Timezone()
    zone.add("tzid", str(tz))
    if not changes:
        if changes_in(tz, first_year + 1) or changes_in(tz, first_year + 2):
            return None
        moment = datetime(first_year, 1, 1, tzinfo=tz)
        standard = icalendar.TimezoneStandard()
        standard.add("dtstart", datetime(first_year, 1, 1))
        standard.add("tzoffsetfrom", moment.utcoffset())
        standard.add("tzoffsetto", moment.utcoffset())
        standard.add("tzname", moment.tzname() or str(tz))
        zone.add_component(standard)
        return zone
    if len(changes) != 2:
        return None
    chosen = next(
        (
            [(first, changes[0]), (second, changes[1])]
            for first in yearly_rules(changes[0])
            for second in yearly_rules(changes[1])
            if rules_hold(tz, first_year, [(first, changes[0]), (second, changes[1])])
        ),
        None,
    )
    if chosen is None:
        return None
    for rule, change in chosen:
        daylight = change.after > change.before
        observance = icalendar.TimezoneDaylight() if daylight else icalendar.TimezoneStandard()
        observance.add("dtstart", change.local)
        observance.add("tzoffsetfrom", change.before)
        observance.add("tzoffsetto", change.after)
        observance.add("tzname", change.name)
        observance.add("rrule", icalendar.vRecur.from_ical(rule))
        zone.add_component(observance)
    return zone

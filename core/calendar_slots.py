"""Every slot the catalog sells between two local dates, booked or not, and the fill staff
read on the calendar.

An event row exists in the store only once its first place is booked (`store/bookings.py`),
so a calendar built from stored events alone hides the camp days nobody has booked yet.
Here the catalog's own slots are planned (`core/schedule.py`), so the calendar can show
"0/24" too. A camp day's two sessions share one pool of places (`camp_capacity_key`): the
fill staff read for either session is the day's.

Pure: no I/O and no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from core.catalog import Catalog
from core.schedule import PlannedEvent, ScheduleError, camp_event, ignite_events, party_event


def planned_between(
    catalog: Catalog, first: date, end: date, kind: str | None = None
) -> list[PlannedEvent]:
    """The catalog's slots on local dates `first` up to, not including, `end` (one event per
    slot key; a slot the clocks skip over is left out, as it cannot be sold)."""
    planned: dict[str, PlannedEvent] = {}
    for event in _all_slots(catalog, first, end, kind):
        planned.setdefault(event.slot_key, event)
    return sorted(planned.values(), key=lambda e: (e.starts_at, e.slot_key))


def _all_slots(
    catalog: Catalog, first: date, end: date, kind: str | None
) -> Iterable[PlannedEvent]:
    if kind in (None, "camp"):
        for camp in catalog.camps:
            for day in camp.dates:
                if first <= day < end:
                    for session in catalog.camp_sessions:
                        yield from _planned(camp_event, catalog, camp.id, day, session)
    if kind in (None, "party"):
        for party in catalog.parties:
            day = max(first, party.first_date)
            while day < end and day <= party.last_date:
                if day.weekday() in party.weekdays:
                    for start in party.slots:
                        for room in party.rooms:
                            yield from _planned(party_event, catalog, party.id, day, start, room)
                day += timedelta(days=1)
    if kind in (None, "ignite"):
        last = end - timedelta(days=1)
        for program in catalog.ignite:
            try:
                yield from ignite_events(catalog, program.id, first, last)
            except ScheduleError:
                continue


def _planned(make: Any, catalog: Catalog, *args: Any) -> Iterable[PlannedEvent]:
    try:
        yield make(catalog, *args)
    except ScheduleError:
        return


def fill_key(slot_key: str) -> str:
    """What a slot's places are counted against: a camp day for either of its sessions
    (`camp:<product>:<date>`), the slot itself otherwise."""
    return slot_key.rsplit(":", 1)[0] if slot_key.startswith("camp:") else slot_key


def place_names(catalog: Catalog, venue_id: str, room_id: str) -> tuple[str, str]:
    """The venue's and room's names as staff know them; an id the catalog no longer has is
    shown as it is."""
    for venue in catalog.venues:
        if venue.id == venue_id:
            rooms = {room.id: room.name for room in venue.rooms}
            return venue.name, rooms.get(room_id, room_id)
    return venue_id, room_id


def with_day_fill(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each event (with `slot_key`, `booked`, `capacity`) gets `day_booked` and
    `day_capacity`: for a camp session, its camp day's bookings across both sessions against
    the day's places; for anything else, its own."""
    booked: dict[str, int] = {}
    for event in events:
        key = fill_key(event["slot_key"])
        booked[key] = booked.get(key, 0) + int(event.get("booked") or 0)
    for event in events:
        event["day_booked"] = booked[fill_key(event["slot_key"])]
        event["day_capacity"] = event.get("capacity")
    return events

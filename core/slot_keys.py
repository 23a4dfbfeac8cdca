"""Slot keys and UIDs: the names that make each planned event exist once.

A slot key is the database's unique key for "this event exists once" (two payments for the
same camp day land on one event); the iCalendar UID is derived from it alone, so calendar
clients can match updates and cancellations to the invite forever.

Pure: no I/O.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

from core.catalog import CAMP_SESSION_KINDS

UID_DOMAIN = "tinkertank.com.au"


def camp_capacity_key(camp_id: str, day: date) -> str:
    """What a camp's seats are counted against: one camp day, shared by both sessions.

    A child in the day session and a child in the all-day session sit in the same room, so
    the day's capacity is one pool even though each session is its own calendar event.
    """
    return f"camp:{camp_id}:{require_date(day).isoformat()}"


def camp_slot_key(camp_id: str, day: date, session: str) -> str:
    return f"{camp_capacity_key(camp_id, day)}:{session}"


def party_slot_key(venue_id: str, room_id: str, day: date, start: time) -> str:
    # Keyed by room and start, not by order: a room holds one party at a time, so a second
    # payment for the same room and slot collides on the unique key instead of double-booking.
    return f"party:{venue_id}:{room_id}:{day.isoformat()}:{start:%H:%M}"


def ignite_slot_key(program_id: str, day: date) -> str:
    return f"ignite:{program_id}:{day.isoformat()}"


# Same shape as catalog ids; repeated here because the catalog keeps its pattern private.
_ID = r"[a-z0-9][a-z0-9-]*"
_DATE = r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
_SESSION = "|".join(re.escape(kind) for kind in CAMP_SESSION_KINDS)
_SLOT_KEY_PATTERNS = {
    "camp": re.compile(rf"camp:(?P<product>{_ID}):{_DATE}:(?P<session>{_SESSION})"),
    "party": re.compile(
        rf"party:(?P<venue>{_ID}):(?P<room>{_ID}):{_DATE}:(?P<hour>\d{{2}}):(?P<minute>\d{{2}})"
    ),
    "ignite": re.compile(rf"ignite:(?P<product>{_ID}):{_DATE}"),
}


def event_uid(slot_key: str) -> str:
    """The iCalendar UID of the event with this slot key; the same key gives the same UID forever.

    Calendar clients match updates and cancellations to the invite by UID, so it depends on
    nothing but the slot key. Fields are joined with "." because ids may contain "-" but never
    ".": with "-" as the separator, party rooms "a-b"/"c" and "a"/"b-c" would share a UID.
    Dates and times lose their punctuation, leaving only characters safe in any calendar
    client, e.g. ``camp.summer-robotics.20270112.day@tinkertank.com.au``.
    """
    kind = slot_key.partition(":")[0]
    pattern = _SLOT_KEY_PATTERNS.get(kind)
    match = pattern.fullmatch(slot_key) if pattern else None
    if match is None:
        raise ValueError(f"{slot_key!r} is not a camp, party or Ignite slot key")
    fields = match.groupdict()
    on = f"{fields['year']}{fields['month']}{fields['day']}"
    if kind == "camp":
        local = f"camp.{fields['product']}.{on}.{fields['session']}"
    elif kind == "party":
        at = f"{fields['hour']}{fields['minute']}"
        local = f"party.{fields['venue']}.{fields['room']}.{on}.{at}"
    else:
        local = f"ignite.{fields['product']}.{on}"
    return f"{local}@{UID_DOMAIN}"


def require_date(day: date) -> date:
    # A datetime is a date too, but never equals one: it would silently match no camp day.
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"expected a date, got {day!r}")
    return day

"""The Calendar page's entries and options: what staff see for each slot, as plain functions.

The API gives every catalog slot in a range (`GET /api/events`), booked or not. A camp day's
two sessions share its places, so they show as one entry for the day, with the day's fill
(`9:00 Robotics Bootcamp 18/24`); a party room slot and an Ignite class show on their own.
Colour says the kind (the background) and how full it is (the border and the shade).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dashboard import formatting as fmt

# Fill bands, emptiest first: (lowest share booked, name, border colour, what staff read).
FILL_BANDS = (
    (0.0, "empty", "#9e9e9e", "nobody booked yet"),
    (0.01, "open", "#2e7d32", "places free"),
    (0.75, "filling", "#f9a825", "three quarters booked or more"),
    (1.0, "full", "#c62828", "full"),
)
# Week and day views show business hours only, with events tall enough to read.
OPTIONS = {
    "locale": "en-au",  # Intl's Australian formats: "Mon 11 Jan", 24-hour "9:00"
    "firstDay": 1,
    "timeZone": "local",  # overwritten with the business time zone by `options`
    "headerToolbar": {"left": "", "center": "title", "right": ""},
    # Week and day columns are dates ("Mon 11 Jan"); a month's columns are weekdays ("Mon").
    "views": {
        "timeGrid": {
            "dayHeaderFormat": {
                "weekday": "short",
                "day": "numeric",
                "month": "short",
                "omitCommas": True,
            },
        },
        "dayGridMonth": {"dayHeaderFormat": {"weekday": "short"}},
    },
    "eventTimeFormat": {"hour": "numeric", "minute": "2-digit", "hour12": False},
    "slotLabelFormat": {"hour": "numeric", "minute": "2-digit", "hour12": False},
    "listDayFormat": {"weekday": "long", "day": "numeric", "month": "long"},
    "listDaySideFormat": False,
    "slotMinTime": "08:00:00",
    "slotMaxTime": "18:00:00",
    "eventMinHeight": 44,
    "slotEventOverlap": False,
    "allDaySlot": False,
    "dayMaxEvents": False,  # every slot shows: the row grows (the height is automatic)
    "eventDisplay": "block",
    "displayEventTime": False,  # the start time is in the title
    "height": "auto",  # every row of the month, nothing cut off
    "nowIndicator": True,
}
MAX_DAYS = 400  # the longest range GET /api/events answers
VIEWS = {"Day": "timeGridDay", "Week": "timeGridWeek", "Month": "dayGridMonth", "List": "list"}
# The border shows the fill band; the shade tells an empty slot from a booked one at a glance.
CSS = """
.fc-event { border-width: 0 0 0 6px !important; }
.fc-event.fill-empty { opacity: 0.55; }
.fc-event-title { white-space: normal !important; font-weight: 500; }
.fc-daygrid-event .fc-event-title { font-size: 0.8em; }
.fc-timegrid-event .fc-event-title { font-size: 0.78em; line-height: 1.2; }
"""


def band(booked: int, capacity: int | None) -> tuple[str, str, str]:
    """The fill band of `booked` of `capacity`: (name, border colour, what it means)."""
    share = booked / capacity if capacity else (1.0 if booked else 0.0)
    chosen = FILL_BANDS[0]
    for fill_band in FILL_BANDS:
        if share >= fill_band[0]:
            chosen = fill_band
    return chosen[1], chosen[2], chosen[3]


def slots(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API's events as what staff book and fill: one per camp day (both sessions, its
    day's fill), one per party room slot or Ignite class. Each has `id` (`campday:<camp>:
    <date>`, an event id, or `slot:<slot key>` when nobody is booked yet), `kind`, `title`,
    `starts_at`, `ends_at`, `booked`, `capacity`, `venue_name`, `room_name`, and
    `event_ids` (the stored events behind it)."""
    found: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.get("kind") == "camp" and event.get("slot_key", "").startswith("camp:"):
            _, product, day, _session = event["slot_key"].split(":")
            key = f"campday:{product}:{day}"
            title = event["title"].split(" — ")[0]
        else:
            key = event.get("event_id") or f"slot:{event.get('slot_key')}"
            title = event["title"]
        slot = found.get(key)
        if slot is None:
            found[key] = {
                "id": key,
                "kind": event.get("kind"),
                "title": title,
                "product_id": event.get("product_id"),
                "starts_at": event["starts_at"],
                "ends_at": event["ends_at"],
                "booked": event.get("day_booked", event.get("booked", 0)),
                "capacity": event.get("day_capacity", event.get("capacity")),
                "venue_name": event.get("venue_name") or event.get("venue_id"),
                "room_name": event.get("room_name") or event.get("room_id"),
                "event_ids": [event["event_id"]] if event.get("event_id") else [],
            }
        else:
            slot["starts_at"] = min(slot["starts_at"], event["starts_at"])
            slot["ends_at"] = max(slot["ends_at"], event["ends_at"])
            if event.get("event_id"):
                slot["event_ids"].append(event["event_id"])
    return sorted(found.values(), key=lambda s: (s["starts_at"], s["title"], s["id"]))


def free_parties_by_day(
    slots_: list[dict[str, Any]], tz: ZoneInfo, by_time: bool = False
) -> list[dict[str, Any]]:
    """For the month: the party rooms nobody has booked, one entry per day (`partyday:<date>`,
    "Party rooms free: 9"), so that a weekend cell shows its booked parties and a count,
    not nine empty slots; for the week, one per start time (`partyday:<date>T<HH:MM>`,
    "10:00 Party rooms free: 3"), so that a column is not split into slivers. Each keeps
    `free`: the slots it stands for."""
    kept: list[dict[str, Any]] = []
    free: dict[str, dict[str, Any]] = {}
    for slot in slots_:
        if slot.get("kind") != "party" or slot["booked"]:
            kept.append(slot)
            continue
        local = fmt.parse_instant(slot["starts_at"]).astimezone(tz)
        day = f"{local:%Y-%m-%dT%H:%M}" if by_time else local.date().isoformat()
        group = free.setdefault(day, {
            "id": f"partyday:{day}", "kind": "party", "title": "Party rooms free",
            "product_id": None, "starts_at": slot["starts_at"], "ends_at": slot["ends_at"],
            "booked": 0, "capacity": 0, "venue_name": "", "room_name": "", "event_ids": [],
            "free": [],
        })  # fmt: skip
        group["free"].append(slot)
        group["capacity"] += slot["capacity"] or 1
        group["starts_at"] = min(group["starts_at"], slot["starts_at"])
        group["ends_at"] = max(group["ends_at"], slot["ends_at"])
    for group in free.values():
        at = f"{start_time(group['starts_at'], tz)} " if by_time else ""
        group["title"] = f"{at}Party rooms free: {len(group['free'])}"
        group["room_name"] = f"{len(group['free'])} slots"
    return sorted([*kept, *free.values()], key=lambda s: (s["starts_at"], s["title"], s["id"]))


def start_time(text: str | None, tz: ZoneInfo) -> str:
    """`9:00`, `15:30`: a start time as on a timetable."""
    moment = fmt.parse_instant(text)
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return f"{local.hour}:{local:%M}"


def label(slot: dict[str, Any], tz: ZoneInfo) -> str:
    """`9:00 Robotics Bootcamp 18/24`: the time, the name, the fill."""
    return f"{start_time(slot['starts_at'], tz)} {slot['title']} " + fmt.fill(
        slot["booked"], slot["capacity"]
    )


def entries(slots_: list[dict[str, Any]], tz: ZoneInfo) -> list[dict[str, Any]]:
    """FullCalendar event objects: local times, the kind's colour, the fill band's border."""
    result = []
    for slot in slots_:
        colour = fmt.KIND_COLOURS.get(slot.get("kind") or "", fmt.OTHER_COLOUR)
        name, border, _ = band(slot["booked"], slot["capacity"])
        result.append(
            {
                "id": slot["id"],
                "title": slot["title"]
                if "free" in slot
                else f"{label(slot, tz)} · {slot['room_name']}",
                "start": fmt.local_iso(slot["starts_at"], tz),
                "end": fmt.local_iso(slot["ends_at"], tz),
                "backgroundColor": colour,
                "borderColor": border,
                "classNames": [f"fill-{name}"],
                "extendedProps": {
                    "kind": slot.get("kind"),
                    "booked": slot["booked"],
                    "capacity": slot["capacity"],
                    "venue": slot["venue_name"],
                    "room": slot["room_name"],
                },
            }
        )
    return result


def visible_range(view: str, chosen: date, until: date | None = None) -> tuple[date, date]:
    """The local dates [first, end) a view shows around the chosen day: the day; its week
    (Monday first); the month's grid (whole weeks around the month); or, for the list, the
    chosen range (the chosen month when no end is given)."""
    if view == "Day":
        return chosen, chosen + timedelta(days=1)
    if view == "Week":
        monday = chosen - timedelta(days=chosen.weekday())
        return monday, monday + timedelta(days=7)
    month = chosen.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    if view == "List":
        end = until + timedelta(days=1) if until and until >= chosen else None
        if end and (end - chosen).days > MAX_DAYS:
            end = chosen + timedelta(days=MAX_DAYS)  # what the API gives in one call
        return (chosen, end) if end else (month, next_month)
    first = month - timedelta(days=month.weekday())
    last = next_month + timedelta(days=(7 - next_month.weekday()) % 7)
    return first, last


def options(view: str, first: date, end: date, timezone: str) -> dict[str, Any]:
    """The calendar's options for a view of [first, end)."""
    chosen = {
        **OPTIONS,
        "timeZone": timezone,
        "initialView": VIEWS[view],
        "initialDate": first.isoformat(),
    }
    if view == "List":
        chosen["visibleRange"] = {"start": first.isoformat(), "end": end.isoformat()}
        chosen["displayEventTime"] = True
    if view == "Month":
        # The month itself, not the grid's first Monday.
        chosen["initialDate"] = (first + timedelta(days=7)).replace(day=1).isoformat()
    return chosen

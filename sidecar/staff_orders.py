"""The staff API's business views: the day's figures, orders, one order's story, and the
calendar with its rosters (the dashboard's Live, Orders and Calendar pages).

Business days are dates in the catalog's time zone; each becomes a UTC range here
(`core.business_days`) before it reaches SQL.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.business_days import day_bounds, local_midnight_utc, local_today, utc_bounds
from core.calendar_slots import place_names, planned_between, with_day_fill
from core.clock import unix, utcnow
from core.slot_keys import camp_capacity_key
from core.timeline import order_timeline
from core.vocabulary import FULFILLMENT_STATUSES, KINDS, PAYMENT_STATUSES
from sidecar.staff_api import (
    BadRequest,
    choice,
    day,
    jsonable,
    not_found,
    paging,
    staff_only,
    text,
)
from sidecar.staff_identity import withhold_notes
from store import calendar
from store import capacity as capacity_overrides
from store import order_detail as one_order
from store import staff_reads as staff

MAX_CALENDAR_DAYS = 400


async def kpis(request: Request) -> Response:
    catalog = request.app.state.catalog
    now = utcnow()
    business_day = day(request, "date") or local_today(now, catalog.tz)
    start, stop = day_bounds(business_day, catalog.tz)
    figures = await request.app.state.database.aread(staff.kpis, start, stop, now)
    # Counted by this process, not stored: a refused delivery leaves nothing in the database.
    refusals = request.app.state.webhook_stats.live(unix())
    return JSONResponse(jsonable({"date": business_day, "currency": catalog.currency, **figures,
                                  "sms_enabled": request.app.state.settings.sms_enabled,
                                  "signature_refusals": refusals,
                                  "watch": request.app.state.watchdog.live()}))  # fmt: skip


async def list_orders(request: Request) -> Response:
    limit, offset = paging(request)
    tz = request.app.state.catalog.tz
    since, until = day(request, "since"), day(request, "until")
    if since and until and until < since:
        raise BadRequest("until must not be before since")
    search = staff.OrderSearch(
        q=text(request, "q"),
        payment_status=choice(request, "payment_status", PAYMENT_STATUSES),
        fulfillment_status=choice(request, "fulfillment_status", FULFILLMENT_STATUSES),
        kind=choice(request, "kind", KINDS),
        created_from=local_midnight_utc(since, tz) if since else None,
        # `until` is a whole day: orders created on it are in.
        created_before=local_midnight_utc(until + timedelta(days=1), tz) if until else None,
    )
    found = await request.app.state.database.aread(staff.find_orders, search, limit, offset)
    return JSONResponse(
        {"total": found["total"], "total_exact": found["total_exact"], "limit": limit,
         "offset": offset, "orders": jsonable(found["orders"])}
    )  # fmt: skip


async def order_detail(request: Request) -> Response:
    detail = await request.app.state.database.aread(
        one_order.order_detail, request.path_params["order_id"]
    )
    if detail is None:
        return not_found()
    withhold_notes(request, detail.get("students") or [])
    detail["timeline"] = order_timeline(
        detail["stripe_events"],
        detail["steps"],
        detail["messages"],
        detail["errors"],
        detail["actions"],
    )
    return JSONResponse(jsonable(detail))


async def list_events(request: Request) -> Response:
    start, end = day(request, "start"), day(request, "end")
    if start is None or end is None:
        raise BadRequest("start and end are required, as YYYY-MM-DD (end exclusive)")
    if not start < end:
        raise BadRequest("end must be after start (end is exclusive)")
    if (end - start).days > MAX_CALENDAR_DAYS:
        raise BadRequest(f"at most {MAX_CALENDAR_DAYS} days at a time")
    kind = choice(request, "kind", KINDS)
    catalog = request.app.state.catalog
    first, stop = utc_bounds(start, end, catalog.tz)
    # The answer is kept with the fingerprint of what it was made from
    # (store/calendar.py): while that holds, the store sends no rows and the kept body is
    # the answer.
    kept = _kept_bodies(request.app.state)
    key = (start, end, kind)
    known, body = kept.get(key, (None, b""))
    mark, rows = await request.app.state.database.aread(
        calendar.events_between_if_changed, first, stop, kind, known
    )
    if rows is None:
        return Response(body, media_type="application/json")
    body = orjson.dumps({"events": _events_between(catalog, start, end, kind, rows)})
    kept.pop(key, None)
    if mark is not None and len(body) <= KEPT_CALENDAR_BYTES:
        while kept and (len(kept) >= KEPT_CALENDARS or sum(len(b) for _, b in kept.values())
                        + len(body) > KEPT_CALENDAR_BYTES):  # fmt: skip
            kept.pop(next(iter(kept)))  # the oldest
        kept[key] = (mark, body)
    return Response(body, media_type="application/json")


# The encoded answers of the last few calendar ranges, with their fingerprints (a month of a
# big calendar is 3.6 MB of JSON, the 16 weeks of the Summaries page 13 MB: a few of them,
# within a bound).
KEPT_CALENDARS = 4
KEPT_CALENDAR_BYTES = 24 << 20


def _kept_bodies(state) -> dict[tuple, tuple[tuple, bytes]]:
    kept = getattr(state, "calendar_bodies", None)
    if kept is None:
        kept = state.calendar_bodies = {}
    return kept


def _events_between(catalog, start: date, end: date, kind: str | None, rows: list[tuple]) -> list:
    """The stored events of `rows` and the catalog's slots nobody has booked yet, in time
    order, each with its day's fill and the names of its place."""
    events = [_event(row) for row in rows]
    # The catalog's slots nobody has booked yet have no event row: they show at 0.
    stored = {e["slot_key"] for e in events}
    events += [_planned(p) for p in planned_between(catalog, start, end, kind)
               if p.slot_key not in stored]  # fmt: skip
    events.sort(key=lambda e: (e["starts_at"], e["slot_key"]))
    names: dict[tuple[str, str], tuple[str, str]] = {}
    for event in with_day_fill(events):
        place = (event["venue_id"], event["room_id"])
        if place not in names:
            names[place] = place_names(catalog, *place)
        event["venue_name"], event["room_name"] = names[place]
    return events


def _event(row: tuple) -> dict:
    """A row of `calendar.events_between` (`EVENT_COLUMNS`, booked and slot key), its times
    ("YYYY-MM-DD HH:MM:SS", UTC) as every staff endpoint gives them. Written out rather
    than zipped: a month of a big calendar is thousands of these."""
    (event_id, kind, title, product_id, venue_id, room_id, starts, ends, capacity, status, booked,
     slot_key) = row  # fmt: skip
    return {"event_id": event_id, "slot_key": slot_key, "kind": kind, "title": title,
            "product_id": product_id, "venue_id": venue_id, "room_id": room_id,
            "starts_at": starts.replace(" ", "T") + "Z", "ends_at": ends.replace(" ", "T") + "Z",
            "capacity": capacity, "status": status, "booked": booked}  # fmt: skip


def _planned(planned) -> dict:
    """A catalog slot with no event yet: no id, nobody booked."""
    return {"event_id": None, "slot_key": planned.slot_key, "kind": planned.kind,
            "title": planned.title, "product_id": planned.product_id,
            "venue_id": planned.venue_id, "room_id": planned.room_id,
            "starts_at": f"{planned.starts_at_naive_utc:%Y-%m-%dT%H:%M:%S}Z",
            "ends_at": f"{planned.ends_at_naive_utc:%Y-%m-%dT%H:%M:%S}Z",
            "capacity": planned.capacity, "status": "scheduled", "booked": 0}  # fmt: skip


async def event_roster(request: Request) -> Response:
    found = await request.app.state.database.aread(calendar.roster, request.path_params["event_id"])
    if found is None:
        return not_found()
    withhold_notes(request, found["roster"])
    event = found["event"]
    event["day_capacity"] = event["capacity"]
    event["venue_name"], event["room_name"] = place_names(
        request.app.state.catalog, event["venue_id"], event["room_id"]
    )
    return JSONResponse(jsonable(found))


async def camp_day_roster(request: Request) -> Response:
    """Everyone on one camp's day, both sessions; the day's places from the catalog, or
    staff's capacity override of that day."""
    catalog = request.app.state.catalog
    product_id = request.path_params["product_id"]
    camp = next((c for c in catalog.camps if c.id == product_id), None)
    if camp is None:
        return not_found(f"no camp {product_id!r} in the catalog")
    on = day_of(request.path_params["date"])
    if on not in camp.dates:
        return not_found(f"{camp.name} does not run on {on}")
    start, stop = day_bounds(on, catalog.tz)
    found = await request.app.state.database.aread(calendar.camp_day_roster, product_id, start,
                                                   stop)  # fmt: skip
    withhold_notes(request, found["roster"])
    key = camp_capacity_key(camp.id, on)
    places = (await request.app.state.database.aread(capacity_overrides.overrides, [key])).get(
        key, camp.capacity
    )
    venue_name, room_name = place_names(catalog, camp.venue, camp.room)
    booked = sum(1 for p in found["roster"] if p["status"] == "confirmed")
    return JSONResponse(jsonable({
        "camp": {"product_id": camp.id, "title": camp.name, "date": on, "venue_id": camp.venue,
                 "room_id": camp.room, "venue_name": venue_name, "room_name": room_name,
                 "capacity": places, "booked": booked},
        "events": found["events"], "roster": found["roster"],
    }))  # fmt: skip


def day_of(text_value: str) -> date:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text_value):
            raise ValueError
        return date.fromisoformat(text_value)
    except ValueError:
        raise BadRequest(f"date must be YYYY-MM-DD, got {text_value[:20]!r}") from None


MAX_TREND_DAYS = 366


async def webhook_lag(request: Request) -> Response:
    """Each of the last `days` business days (today last): events processed and their lag."""
    text_days = request.query_params.get("days", "30")
    if not text_days.isdigit() or not 1 <= int(text_days) <= MAX_TREND_DAYS:
        raise BadRequest(f"days must be a whole number 1..{MAX_TREND_DAYS}")
    tz = request.app.state.catalog.tz
    today = local_today(utcnow(), tz)
    days = [today - timedelta(days=n) for n in range(int(text_days) - 1, -1, -1)]
    bounds = [(d.isoformat(), *day_bounds(d, tz)) for d in days]
    rows = await request.app.state.database.aread(staff.webhook_lag_by_day, bounds)
    return JSONResponse({"days": rows})


routes = [
    Route("/api/kpis", staff_only(kpis)),
    Route("/api/orders", staff_only(list_orders)),
    Route("/api/orders/{order_id}", staff_only(order_detail)),
    Route("/api/events", staff_only(list_events)),
    Route("/api/events/{event_id}/roster", staff_only(event_roster)),
    Route("/api/camp-days/{product_id}/{date}/roster", staff_only(camp_day_roster)),
    Route("/api/trends/webhooks", staff_only(webhook_lag)),
]

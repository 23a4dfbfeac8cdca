"""The staff API's business views: the day's figures, orders, one order's story, and the
calendar with its rosters (the dashboard's Live, Orders and Calendar pages).

Business days are dates in the catalog's time zone; each becomes a UTC range here
(`core.business_days`) before it reaches SQL.
"""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.business_days import day_bounds, local_midnight_utc, local_today, utc_bounds
from core.clock import unix, utcnow
from core.timeline import order_timeline
from core.vocabulary import FULFILLMENT_STATUSES, KINDS, PAYMENT_STATUSES
from sidecar.staff_api import (
    BadRequest,
    choice,
    day,
    fast_json,
    jsonable,
    not_found,
    paging,
    staff_only,
    text,
)
from sidecar.staff_identity import withhold_notes
from store import calendar
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
                                  "signature_refusals": refusals}))  # fmt: skip


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
        detail["stripe_events"], detail["steps"], detail["messages"], detail["errors"]
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
    first, stop = utc_bounds(start, end, request.app.state.catalog.tz)
    rows = await request.app.state.database.aread(calendar.events_between, first, stop, kind)
    return fast_json({"events": [_event(row) for row in rows]})


def _event(row: tuple) -> dict:
    """A row of `calendar.events_between` (`EVENT_COLUMNS` and booked), its times
    ("YYYY-MM-DD HH:MM:SS", UTC) as every staff endpoint gives them. Written out rather
    than zipped: a month of a big calendar is thousands of these."""
    event_id, kind, title, product_id, venue_id, room_id, starts, ends, capacity, status, booked = (
        row
    )
    return {"event_id": event_id, "kind": kind, "title": title, "product_id": product_id,
            "venue_id": venue_id, "room_id": room_id, "starts_at": starts.replace(" ", "T") + "Z",
            "ends_at": ends.replace(" ", "T") + "Z", "capacity": capacity, "status": status,
            "booked": booked}  # fmt: skip


async def event_roster(request: Request) -> Response:
    found = await request.app.state.database.aread(calendar.roster, request.path_params["event_id"])
    if found is None:
        return not_found()
    withhold_notes(request, found["roster"])
    return JSONResponse(jsonable(found))


routes = [
    Route("/api/kpis", staff_only(kpis)),
    Route("/api/orders", staff_only(list_orders)),
    Route("/api/orders/{order_id}", staff_only(order_detail)),
    Route("/api/events", staff_only(list_events)),
    Route("/api/events/{event_id}/roster", staff_only(event_roster)),
]

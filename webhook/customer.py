"""Customer-facing pages and files: `GET /orders/{order_id}/calendar.ics` (SPEC §6)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.catalog import Catalog
from core.invites import InviteEvent, render_calendar
from core.store import orders


def _location(catalog: Catalog, venue_id: str) -> str:
    try:
        venue = catalog.venue(venue_id)
    except KeyError:
        return venue_id
    return f"{venue.name}, {venue.address}"


async def calendar_file(request: Request) -> Response:
    key = request.path_params["order_id"]
    if len(key) > 255:
        return JSONResponse({"error": "not_found"}, status_code=404)
    rows = await request.app.state.database.aread(orders.calendar_rows, key)
    if rows is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    catalog: Catalog = request.app.state.catalog
    tz = catalog.tz
    invites = [
        InviteEvent(
            uid=uid,
            sequence=sequence,
            title=title,
            start=starts_at.replace(tzinfo=UTC),
            end=ends_at.replace(tzinfo=UTC),
            location=_location(catalog, venue_id),
            cancelled=cancelled,
        )
        for uid, sequence, title, starts_at, ends_at, venue_id, cancelled in rows["events"]
    ]
    for uid, sequence, product_id, rrule, first_start, minutes, excluded, ended in rows["series"]:
        program = catalog.products.get(product_id)
        start = first_start.replace(tzinfo=tz)  # stored as local wall-clock time
        invites.append(
            InviteEvent(
                uid=uid,
                sequence=sequence,
                title=program.name if program else product_id,
                start=start,
                end=start + timedelta(minutes=minutes),
                location=_location(catalog, program.venue) if program else "",
                cancelled=ended,
                rrule=rrule,
                exdates=tuple(
                    datetime.combine(date.fromisoformat(day), start.time(), tzinfo=tz)
                    for day in json.loads(excluded)
                ),
            )
        )
    body = render_calendar(invites, tz, datetime.now(UTC))
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="tinkertank-{rows["order_id"]}.ics"',
            "Cache-Control": "no-store",
        },
    )

"""Customer-facing pages and files: `GET /orders/{order_id}/calendar.ics` (SPEC §6)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.catalog import Catalog
from core.invites import calendar_method, order_invites, render_calendar
from core.store import orders


async def calendar_file(request: Request) -> Response:
    key = request.path_params["order_id"]
    if len(key) > 255:
        return JSONResponse({"error": "not_found"}, status_code=404)
    rows = await request.app.state.database.aread(orders.calendar_rows, key)
    if rows is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    catalog: Catalog = request.app.state.catalog
    invites = order_invites(rows, catalog)
    body = render_calendar(invites, catalog.tz, datetime.now(UTC), calendar_method(invites))
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="tinkertank-{rows["order_id"]}.ics"',
            "Cache-Control": "no-store",
        },
    )

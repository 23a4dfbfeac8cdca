"""`GET /api/catalog`: what staff can book by phone (core/bookable.py), for the dashboard's
booking and repair forms: every role may read it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.bookable import bookable
from core.business_days import local_today
from core.clock import utcnow
from sidecar.staff_api import fast_json, staff_only


async def catalog(request: Request) -> Response:
    products = request.app.state.catalog
    today = local_today(utcnow(), products.tz)
    return fast_json({"today": today.isoformat(), "timezone": str(products.tz),
                      "products": bookable(products, today)})  # fmt: skip


routes = [Route("/api/catalog", staff_only(catalog))]

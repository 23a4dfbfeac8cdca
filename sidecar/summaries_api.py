"""Staff API: the daily summaries and the trends (docs/http-api.md, Staff API).

    GET  /api/summaries?since=&until=&limit&offset   stored summaries, newest first
    GET  /api/summaries/{date}                       one stored summary
    POST /api/summaries/run {"date", "post", "force"} compute, store, maybe post to Slack
    GET  /api/trends?days=30                         revenue, bookings and fill per day

The figures are read on a read cursor (they take a moment over a large database), then
stored, and the Slack message queued, in one write.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import clock, summary
from core.catalog import Catalog
from runtime.store_client import StoreClient
from sidecar.json_body import json_object
from sidecar.staff_api import _jsonable, _page, staff_only
from store import summaries
from store import trends as kept_trends
from store.database import Database

DEFAULT_TREND_DAYS = 30
EARLIEST = date(2000, 1, 1)  # and no UTC range arithmetic near year 1


def _invalid(message: str, error: str = "invalid_query") -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=422)


def _date(text: str | None, name: str) -> date | JSONResponse | None:
    if text is None or text == "":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return _invalid(f"{name} must be a date YYYY-MM-DD, not {text!r}")


async def list_summaries(request: Request) -> Response:
    page = _page(request)
    if isinstance(page, JSONResponse):
        return page
    limit, offset = page
    since = _date(request.query_params.get("since"), "since")
    until = _date(request.query_params.get("until"), "until")
    for value in (since, until):
        if isinstance(value, JSONResponse):
            return value
    rows, total = await request.app.state.database.aread(
        summaries.stored_between, since, until, limit, offset
    )
    return JSONResponse(
        {"total": total, "limit": limit, "offset": offset,
         "summaries": [_jsonable(row) for row in rows]}
    )  # fmt: skip


async def get_summary(request: Request) -> Response:
    day = _date(request.path_params["date"], "the date")
    if isinstance(day, JSONResponse):
        return day
    row = await request.app.state.database.aread(summaries.stored, day)
    if row is None:
        return JSONResponse(
            {"error": "not_found", "message": f"no summary stored for {day}; run one"},
            status_code=404,
        )
    return JSONResponse(_jsonable(row))


def _flag(body: dict[str, Any], name: str) -> bool | JSONResponse:
    value = body.get(name, False)
    if not isinstance(value, bool):
        return _invalid(f"{name} must be true or false", "invalid_body")
    return value


async def run_summary(request: Request) -> Response:
    body = await json_object(request)
    if isinstance(body, Response):
        return body
    app = request.app
    catalog, settings = app.state.catalog, app.state.settings
    now = clock.now()
    today = summary.local_today(now, catalog.tz)
    day = summary.yesterday(now, catalog.tz)
    if body.get("date") is not None:
        try:
            day = date.fromisoformat(body["date"])
        except (TypeError, ValueError):
            return _invalid(f"date must be a date YYYY-MM-DD, not {body['date']!r}", "invalid_body")
    if day > today:
        return _invalid(f"{day} has not begun yet in {catalog.tz.key}", "invalid_body")
    if day < EARLIEST:
        return _invalid(f"there is nothing to sum up before {EARLIEST}", "invalid_body")
    post, force = _flag(body, "post"), _flag(body, "force")
    for flag in (post, force):
        if isinstance(flag, JSONResponse):
            return flag
    post = post or force  # forcing a post is posting
    slack_missing = post and not settings.slack_webhook_url

    result = await store_day(
        app.state.database, catalog, day, now, post and not slack_missing, force
    )
    stored = _jsonable(result["summary"])
    if slack_missing:
        return JSONResponse(
            {"error": "slack_not_configured", "summary": stored, "posted": False,
             "message": f"the summary for {day} was stored but not posted:"
                        " SLACK_WEBHOOK_URL is not set"},
            status_code=409,
        )  # fmt: skip
    if result["posted"]:
        message = f"summary for {day} stored and queued for Slack"
    elif post:
        message = (
            f"summary for {day} stored; it was already posted to Slack at"
            f" {stored['posted_at']} (force to post it again)"
        )
    else:
        message = f"summary for {day} stored (not posted)"
    return JSONResponse({"summary": stored, "posted": result["posted"], "message": message})


async def store_day(
    database: StoreClient | Database,
    catalog: Catalog,
    day: date,
    now: datetime,
    post: bool,
    force: bool,
) -> dict[str, Any]:
    """Compute business `day`'s figures as they stand `now`, store them and, when `post`,
    queue the Slack message (once per day unless `force`): what `POST /api/summaries/run`
    and the sidecar's own daily run (sidecar/scheduled_runs.py) both do."""
    stamp = now.replace(tzinfo=None)
    figures = await database.aread(summaries.compute, day, catalog.tz.key, catalog.currency, stamp)
    text = summary.summary_text(figures)
    return await database.awrite(summaries.store, day, figures, text, stamp, post, force)


async def trends(request: Request) -> Response:
    text = request.query_params.get("days", str(DEFAULT_TREND_DAYS))
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= summary.MAX_TREND_DAYS:
        return _invalid(f"days must be a whole number 1..{summary.MAX_TREND_DAYS}")
    catalog = request.app.state.catalog
    day_list = summary.trend_days(clock.now(), catalog.tz, days)
    rows = await request.app.state.database.aread(kept_trends.trends, day_list, catalog.tz.key)
    return JSONResponse({"days": rows})


routes = [
    Route("/api/summaries", staff_only(list_summaries)),
    Route("/api/summaries/run", staff_only(run_summary), methods=["POST"]),
    Route("/api/summaries/{date}", staff_only(get_summary)),
    Route("/api/trends", staff_only(trends)),
]

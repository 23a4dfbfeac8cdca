"""The staff API (bearer `ADMIN_TOKEN`): what the dashboard and the CLI read and do.

This first slice shows the webhook inbox; reads are filtered and paged in SQL.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.store import fulfilment, inbox, orders, reminders, worker
from core.store.database import utcnow
from core.store.error_log import entries as error_log_entries
from core.store.fulfilment import STEPS
from webhook.json_body import read_json

MAX_PAGE = 500


def _authorised(request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = request.app.state.settings.admin_token
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), expected.encode()
    )


def staff_only(endpoint):
    async def guarded(request: Request) -> Response:
        if not _authorised(request):
            return JSONResponse(
                {"error": "unauthorised", "message": "send Authorization: Bearer <ADMIN_TOKEN>"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await endpoint(request)

    return guarded


def _page(request: Request) -> tuple[int, int] | JSONResponse:
    try:
        limit = int(request.query_params.get("limit", "50"))
        offset = int(request.query_params.get("offset", "0"))
    except ValueError:
        return JSONResponse(
            {"error": "invalid_query", "message": "limit and offset must be whole numbers"},
            status_code=422,
        )
    if not (1 <= limit <= MAX_PAGE and offset >= 0):
        return JSONResponse(
            {"error": "invalid_query", "message": f"limit must be 1..{MAX_PAGE}, offset >= 0"},
            status_code=422,
        )
    return limit, offset


async def list_inbox(request: Request) -> Response:
    page = _page(request)
    if isinstance(page, JSONResponse):
        return page
    limit, offset = page
    status = request.query_params.get("status")
    if status is not None and status not in inbox.INBOX_STATUSES:
        return JSONResponse(
            {"error": "invalid_query", "message": f"status must be one of {inbox.INBOX_STATUSES}"},
            status_code=422,
        )
    event_type = request.query_params.get("type")
    database = request.app.state.database

    rows, total = await database.aread(
        inbox.list_events, status=status, event_type=event_type, limit=limit, offset=offset
    )
    return JSONResponse(
        {"total": total, "limit": limit, "offset": offset, "events": [_jsonable(r) for r in rows]}
    )


async def inbox_event(request: Request) -> Response:
    row = await request.app.state.database.aread(inbox.get_event, request.path_params["event_id"])
    if row is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    return JSONResponse(_jsonable(row))


async def inbox_counts(request: Request) -> Response:
    return JSONResponse(await request.app.state.database.aread(inbox.count_by_status))


def _jsonable(row: dict) -> dict:
    """Stored timestamps are naive UTC; say so on the wire."""
    return {k: (v.isoformat() + "Z" if isinstance(v, datetime) else v) for k, v in row.items()}


async def order_counts(request: Request) -> Response:
    return JSONResponse(await request.app.state.database.aread(orders.counts))


async def error_log(request: Request) -> Response:
    page = _page(request)
    if isinstance(page, JSONResponse):
        return page
    limit, offset = page
    order_id = request.query_params.get("order_id")
    rows, total = await request.app.state.database.aread(error_log_entries, order_id, limit, offset)
    return JSONResponse(
        {"total": total, "limit": limit, "offset": offset, "errors": [_jsonable(r) for r in rows]}
    )


async def retry_step(request: Request) -> Response:
    order_id, step = request.path_params["order_id"], request.path_params["step"]
    if step not in STEPS:
        return JSONResponse(
            {"error": "not_found", "message": f"no step {step!r}; steps are {', '.join(STEPS)}"},
            status_code=404,
        )
    retried = await request.app.state.database.awrite(worker.retry_step, order_id, step, utcnow())
    if not retried:
        return JSONResponse(
            {"error": "not_retried", "message": f"{step} of {order_id} is not failed"},
            status_code=409,
        )
    return JSONResponse({"retried": True, "order_id": order_id, "step": step})


async def reprocess_event(request: Request) -> Response:
    event_id = request.path_params["event_id"]
    done = await request.app.state.database.awrite(worker.reprocess_event, event_id, utcnow())
    if not done:
        return JSONResponse(
            {
                "error": "not_reprocessed",
                "message": "only a failed or ignored event can be reprocessed; a processed"
                " event's effects stand",
            },
            status_code=409,
        )
    return JSONResponse({"reprocessing": True, "event_id": event_id})


_RESEND_REFUSALS = {
    "not_found": (404, "no such order"),
    "no_email": (409, "the order has no customer email address"),
    "not_confirmed": (409, "nothing is booked on this order yet; the confirmation goes out"
                      " by itself once it is"),
    "pending": (409, "a confirmation for this order is already waiting to be sent"),
}  # fmt: skip


async def resend_confirmation(request: Request) -> Response:
    database = request.app.state.database
    order_id = await database.aread(orders.find_order_id, request.path_params["order_id"])
    outcome = "not_found"
    if order_id is not None:
        outcome = await database.awrite(fulfilment.resend_confirmation, order_id, utcnow())
    if outcome != "queued":
        status, message = _RESEND_REFUSALS[outcome]
        return JSONResponse({"error": outcome, "message": message}, status_code=status)
    return JSONResponse(
        {"queued": True, "order_id": order_id,
         "message": f"confirmation for {order_id} queued to send again"}
    )  # fmt: skip


async def run_reminders(request: Request) -> Response:
    """Queue the reminders due now; `tinkertank remind` calls this every hour."""
    body = await read_json(request, 64 * 1024, empty={})
    if isinstance(body, Response):
        return body
    if not isinstance(body, dict):
        return JSONResponse(
            {"error": "invalid_request", "message": "the body must be a JSON object"},
            status_code=422,
        )
    hours = body.get("window_hours", reminders.DEFAULT_WINDOW.total_seconds() / 3600)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 24 * 14:
        return JSONResponse(
            {"error": "invalid_request", "message": "window_hours must be a number, 0 < h <= 336"},
            status_code=422,
        )
    queued = await request.app.state.database.awrite(
        reminders.queue_reminders, utcnow(), timedelta(hours=hours)
    )
    return JSONResponse(
        {"queued": queued, "window_hours": hours,
         "message": f"{queued} reminder(s) queued for events in the next {hours:g} hours"}
    )  # fmt: skip


routes = [
    Route("/api/inbox", staff_only(list_inbox)),
    Route("/api/inbox/counts", staff_only(inbox_counts)),
    Route("/api/inbox/{event_id}", staff_only(inbox_event)),
    Route("/api/inbox/{event_id}/reprocess", staff_only(reprocess_event), methods=["POST"]),
    Route("/api/errors", staff_only(error_log)),
    Route("/api/orders/counts", staff_only(order_counts)),
    Route("/api/orders/{order_id}/steps/{step}/retry", staff_only(retry_step), methods=["POST"]),
    Route(
        "/api/orders/{order_id}/resend-confirmation",
        staff_only(resend_confirmation),
        methods=["POST"],
    ),
    Route("/api/reminders/run", staff_only(run_reminders), methods=["POST"]),
]

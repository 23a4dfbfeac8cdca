"""The staff API (bearer `ADMIN_TOKEN` or a staff session): what the dashboard and the CLI
read and do.

This module holds the guard (who may call which route: `staff_only`, `admin_only`), the
parsing every staff endpoint shares, and the operational views: the webhook inbox, the
error log and the outbox, with their repairs. Orders, the day's figures and the calendar
are in `sidecar/staff_orders.py`. Reads are filtered and paged in SQL (`store/`); bad
parameters answer 422 saying which.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import clock
from core.clock import utcnow
from core.staff_accounts import may
from core.vocabulary import (
    ERROR_CATEGORIES,
    INBOX_STATUSES,
    INBOX_VIEWS,
    MESSAGE_CHANNELS,
    MESSAGE_STATUSES,
    SEVERITIES,
    STEPS,
)
from fulfilment import repairs, worker
from fulfilment import steps as fulfilment
from sidecar import sms
from sidecar.json_body import json_object
from sidecar.staff_identity import actor, identify
from store import error_log, inbox, order_views, outbox, reminders

log = logging.getLogger(__name__)

MAX_PAGE = 500
MAX_BODY = 64 * 1024
MAX_BULK = 500  # error-log entries per bulk action
MAX_NAME = 100  # characters of the "by" of an action


class Answered(Exception):
    """A request answered before its endpoint could act (a body too large, not JSON)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class BadRequest(Exception):
    """A query parameter or body staff sent that cannot be used: 422 saying why."""

    def __init__(self, message: str, error: str = "invalid_query") -> None:
        super().__init__(message)
        self.error = error
        self.message = message


# What each role may do (docs/security.md, Staff roles). A route's need follows from its
# method unless the route says otherwise: reading (GET) needs an analyst, acting (POST and
# the rest) staff; `admin_only` routes (accounts, capacity, catalog) need an admin, and
# `analysts_too` lets an analyst use a POST that only reads (the SQL page).
READ_METHODS = ("GET", "HEAD")


def needed_role(method: str) -> str:
    return "analyst" if method in READ_METHODS else "staff"


def staff_only(endpoint, role: str | None = None):
    """The guard of every staff route: a known bearer token (401 otherwise) whose role may
    use the route (403 otherwise), and the staff API's refusals as 422s."""

    async def guarded(request: Request) -> Response:
        member = await identify(request)
        if member is None:
            return JSONResponse(
                {"error": "unauthorised",
                 "message": "send Authorization: Bearer <token> (ADMIN_TOKEN, or a session"
                            " token from POST /api/login); this one is missing, unknown,"
                            " expired or revoked"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
        needed = role or needed_role(request.method)
        if not may(member.role, needed):
            return JSONResponse(
                {"error": "forbidden",
                 "message": f"{member.name} is signed in as {member.role}; "
                            f"{request.method} {request.url.path} needs {needed}"
                            f"{' or admin' if needed == 'staff' else ''}"},
                status_code=403,
            )  # fmt: skip
        try:
            return await endpoint(request)
        except BadRequest as exc:
            return JSONResponse({"error": exc.error, "message": exc.message}, status_code=422)
        except Answered as exc:
            return exc.response

    return guarded


def admin_only(endpoint):
    """For accounts, capacity and the catalog: an admin (or the ADMIN_TOKEN) only."""
    return staff_only(endpoint, role="admin")


def analysts_too(endpoint):
    """A POST that only reads (the analysts' SQL): an analyst may use it."""
    return staff_only(endpoint, role="analyst")


# --- parsing what staff send ---------------------------------------------------------------


def paging(request: Request) -> tuple[int, int]:
    """`limit` and `offset` of a list."""
    try:
        limit = int(request.query_params.get("limit", "50"))
        offset = int(request.query_params.get("offset", "0"))
    except ValueError:
        raise BadRequest("limit and offset must be whole numbers") from None
    if not (1 <= limit <= MAX_PAGE and offset >= 0):
        raise BadRequest(f"limit must be 1..{MAX_PAGE}, offset >= 0")
    return limit, offset


def choice(request: Request, name: str, allowed: Sequence[str]) -> str | None:
    """An optional parameter that must be one of `allowed` (empty means not given)."""
    value = request.query_params.get(name) or None
    if value is not None and value not in allowed:
        raise BadRequest(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def text(request: Request, name: str, max_length: int = 200) -> str | None:
    value = (request.query_params.get(name) or "").strip() or None
    if value is not None and len(value) > max_length:
        raise BadRequest(f"{name} is longer than {max_length} characters")
    return value


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def day(request: Request, name: str) -> date | None:
    """An optional YYYY-MM-DD parameter."""
    value = request.query_params.get(name) or None
    if value is None:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} must be a date as YYYY-MM-DD; got {value!r}") from None


def _flag(request: Request, name: str) -> bool | None:
    value = choice(request, name, ("true", "false"))
    return None if value is None else value == "true"


async def json_body(request: Request) -> dict[str, Any]:
    """An action's body: a JSON object (empty means {}), or the 4xx that refuses it."""
    value = await json_object(request, MAX_BODY)
    if isinstance(value, Response):
        raise Answered(value)
    return value


def _by(body: dict[str, Any], request: Request | None = None) -> str:
    """Who is acting, shown on what they resolved: a signed-in staff member's own name
    (`staff_identity.actor`, when `request` is given); for the ADMIN_TOKEN, the name its
    caller sends as "by" (the dashboard sends who logged in to it)."""
    if request is not None and not request.state.staff.machine:
        return actor(request)
    by = body.get("by")
    if not isinstance(by, str) or not by.strip() or len(by) > MAX_NAME:
        raise BadRequest(f'"by" must name who is acting (1..{MAX_NAME} characters)', "invalid_body")
    return by.strip()


def jsonable(value: Any) -> Any:
    """Stored timestamps are naive UTC: on the wire they say so (ISO 8601 with Z). Dates
    (an item's day) stay dates."""
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


# The names the first slice used.
_jsonable = jsonable
_page = paging


def fast_json(content: Any) -> Response:
    """A JSON response encoded with orjson: a month of a big calendar is 9,000 events, which
    the standard library takes 28 ms to encode and orjson 3. Naive timestamps are written as
    `jsonable` writes them (ISO 8601 with Z), so a big answer need not go through it first
    (the Check-in page's day: 1.3 MB, 48 ms through `jsonable` and `json`, 3 ms here)."""
    return Response(
        orjson.dumps(content, option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z),
        media_type="application/json",
    )


def page_of(items: str, rows: list[dict], total: int, limit: int, offset: int) -> Response:
    return fast_json(
        {"total": total, "limit": limit, "offset": offset, items: [jsonable(r) for r in rows]}
    )


def not_found(message: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": "not_found", **({"message": message} if message else {})}, status_code=404
    )


# --- the webhook inbox ---------------------------------------------------------------------


async def list_inbox(request: Request) -> Response:
    limit, offset = paging(request)
    status = choice(request, "status", INBOX_STATUSES + INBOX_VIEWS)
    event_type = text(request, "type")
    rows, total = await request.app.state.database.aread(
        inbox.list_events, status=status, event_type=event_type, limit=limit, offset=offset
    )
    return page_of("events", rows, total, limit, offset)


async def inbox_event(request: Request) -> Response:
    row = await request.app.state.database.aread(inbox.get_event, request.path_params["event_id"])
    if row is None:
        return not_found()
    return JSONResponse(jsonable(row))


async def inbox_counts(request: Request) -> Response:
    return JSONResponse(await request.app.state.database.aread(inbox.count_by_status))


async def inbox_views(request: Request) -> Response:
    return JSONResponse(await request.app.state.database.aread(inbox.count_views))


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
    # Nothing in the database records who asked: the log does (staff_identity.actor).
    log.info("%s reprocessed %s", actor(request), event_id)
    return JSONResponse({"reprocessing": True, "event_id": event_id})


# --- orders: counts and step retries -------------------------------------------------------


async def order_counts(request: Request) -> Response:
    return JSONResponse(await request.app.state.database.aread(order_views.counts))


async def retry_step(request: Request) -> Response:
    order_id, step = request.path_params["order_id"], request.path_params["step"]
    if step not in STEPS:
        return not_found(f"no step {step!r}; steps are {', '.join(STEPS)}")
    retried = await request.app.state.database.awrite(worker.retry_step, order_id, step, utcnow())
    if not retried:
        return JSONResponse(
            {"error": "not_retried", "message": f"{step} of {order_id} is not failed"},
            status_code=409,
        )
    log.info("%s retried %s of %s", actor(request), step, order_id)
    return JSONResponse({"retried": True, "order_id": order_id, "step": step})


# --- the error log -------------------------------------------------------------------------


async def list_errors(request: Request) -> Response:
    limit, offset = paging(request)
    newest = choice(request, "order", ("oldest", "newest")) == "newest"
    rows, total = await request.app.state.database.aread(
        error_log.entries,
        text(request, "order_id"),
        limit,
        offset,
        category=choice(request, "category", ERROR_CATEGORIES),
        severity=choice(request, "severity", SEVERITIES),
        resolved=_flag(request, "resolved"),
        newest_first=newest,
    )
    return page_of("errors", rows, total, limit, offset)


async def resolve_error(request: Request) -> Response:
    error_id = request.path_params["error_id"]
    by = _by(await json_body(request), request)
    outcome = await request.app.state.database.awrite(error_log.resolve, error_id, by, utcnow())
    if outcome == "not_found":
        return not_found()
    if outcome == "already":
        return JSONResponse(
            {"error": "already_resolved", "message": f"{error_id} was already resolved"},
            status_code=409,
        )
    return JSONResponse(
        {"resolved": True, "error_id": error_id, "message": f"{error_id} resolved by {by}"}
    )


_BULK_ACTIONS = {"resolve": repairs.resolve_entries, "retry": repairs.retry_entries}


async def bulk_errors(request: Request) -> Response:
    body = await json_body(request)
    action = body.get("action")
    if action not in _BULK_ACTIONS:
        raise BadRequest('"action" must be "resolve" or "retry"', "invalid_body")
    ids = body.get("error_ids")
    if (
        not isinstance(ids, list)
        or not ids
        or len(ids) > MAX_BULK
        or not all(isinstance(i, str) and 0 < len(i) <= 100 for i in ids)
    ):
        raise BadRequest(f'"error_ids" must be a list of 1..{MAX_BULK} error ids', "invalid_body")
    by = _by(body, request)
    unique = list(dict.fromkeys(ids))
    result = await request.app.state.database.awrite(_BULK_ACTIONS[action], unique, by, utcnow())
    verb = "resolved" if action == "resolve" else "retried (and resolved)"
    message = f"{result['done']} of {len(unique)} entries {verb} by {by}"
    if result["skipped"]:
        message += f"; {len(result['skipped'])} skipped"
    return JSONResponse({**result, "message": message})


# --- the outbox ----------------------------------------------------------------------------


async def list_outbox(request: Request) -> Response:
    limit, offset = paging(request)
    rows, total = await request.app.state.database.aread(
        outbox.messages,
        status=choice(request, "status", MESSAGE_STATUSES),
        channel=choice(request, "channel", MESSAGE_CHANNELS),
        order_id=text(request, "order_id"),
        limit=limit,
        offset=offset,
    )
    return page_of("messages", rows, total, limit, offset)


async def retry_message(request: Request) -> Response:
    message_id = request.path_params["message_id"]
    outcome = await request.app.state.database.awrite(outbox.retry, message_id, utcnow())
    if outcome == "not_found":
        return not_found()
    if outcome == "not_failed":
        return JSONResponse(
            {"error": "not_retried", "message": f"{message_id} is not failed"}, status_code=409
        )
    return JSONResponse(
        {"retried": True, "message_id": message_id,
         "message": f"{message_id} is queued again with a fresh set of attempts"}
    )  # fmt: skip


# --- customer messages: resend a confirmation, queue the reminders --------------------------

_RESEND_REFUSALS = {
    "not_found": (404, "no such order"),
    "no_email": (409, "the order has no customer email address"),
    "not_confirmed": (409, "nothing is booked on this order yet; the confirmation goes out"
                      " by itself once it is"),
    "pending": (409, "a confirmation for this order is already waiting to be sent"),
}  # fmt: skip


async def resend_confirmation(request: Request) -> Response:
    database = request.app.state.database
    order_id = await database.aread(order_views.find_order_id, request.path_params["order_id"])
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
    body = await json_body(request)
    hours = body.get("window_hours", reminders.DEFAULT_WINDOW.total_seconds() / 3600)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 24 * 14:
        raise BadRequest("window_hours must be a number, 0 < h <= 336", "invalid_body")
    queued = await request.app.state.database.awrite(
        reminders.queue_reminders, utcnow(), timedelta(hours=hours)
    )
    texts = await sms.queue_reminder_texts(
        request.app.state.database, request.app.state.settings, clock.now()
    )
    return JSONResponse(
        {"queued": queued, "window_hours": hours, "sms_queued": texts,
         "message": f"{queued} reminder(s) queued for events in the next {hours:g} hours"
                    + (f"; {texts} text(s) for today and tomorrow" if texts else "")}
    )  # fmt: skip


routes = [
    Route("/api/inbox", staff_only(list_inbox)),
    Route("/api/inbox/counts", staff_only(inbox_counts)),
    Route("/api/inbox/views", staff_only(inbox_views)),
    Route("/api/inbox/{event_id}", staff_only(inbox_event)),
    Route("/api/inbox/{event_id}/reprocess", staff_only(reprocess_event), methods=["POST"]),
    Route("/api/errors", staff_only(list_errors)),
    Route("/api/errors/bulk", staff_only(bulk_errors), methods=["POST"]),
    Route("/api/errors/{error_id}/resolve", staff_only(resolve_error), methods=["POST"]),
    Route("/api/outbox", staff_only(list_outbox)),
    Route("/api/outbox/{message_id}/retry", staff_only(retry_message), methods=["POST"]),
    # Before /api/orders/{order_id} (sidecar/staff_orders.py): "counts" is not an order id.
    Route("/api/orders/counts", staff_only(order_counts)),
    Route("/api/orders/{order_id}/steps/{step}/retry", staff_only(retry_step), methods=["POST"]),
    Route(
        "/api/orders/{order_id}/resend-confirmation",
        staff_only(resend_confirmation),
        methods=["POST"],
    ),
    Route("/api/reminders/run", staff_only(run_reminders), methods=["POST"]),
]

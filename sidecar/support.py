"""`POST /api/support/booking-issue` for customers, and the staff's ticket endpoints.

201  the ticket is stored, with its reply email and staff notice queued in the same write
413  the body is larger than MAX_BODY_BYTES; refused while reading
422  not JSON, or not a valid request: every problem with its path
429  too many requests from this email address (counted in the database) or from this
     client (in memory); `Retry-After` says when to try again

Whether the order reference names an order is never part of the answer (store/tickets.py).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from email.utils import parseaddr
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.clock import utcnow
from core.messages import pages
from core.messages.emails import support_address
from core.support import (
    BookingIssue,
    ClientLimiter,
    InvalidRequest,
    validate_booking_issue,
    validate_ticket_reply,
    validate_ticket_update,
)
from core.vocabulary import TICKET_STATUSES
from sidecar.clients import client_key
from sidecar.customer import MAX_KEY_LENGTH, _Page
from sidecar.json_body import BodyRefused, read_bytes, read_json
from sidecar.staff_api import _jsonable, _page, staff_only
from sidecar.staff_identity import acting_name, actor
from store import tickets

log = logging.getLogger(__name__)

# Room for the largest valid request even when a client escapes every character (a
# 4,000-character message of emoji as \ud83d\ude00 pairs is 48,000 bytes); no more.
MAX_BODY_BYTES = 64 * 1024
# The success page's form: its fields, and how its problems name them.
FORM_FIELDS = ("category", "message", "name", "email")
FORM_LABELS = {"order_id": "Order", "category": "What is it about", "message": "Your message",
               "name": "Your first name", "email": "Your email"}  # fmt: skip


def _too_many(seconds: float, message: str) -> JSONResponse:
    wait = max(1, math.ceil(seconds))
    return JSONResponse(
        {"error": "too_many_requests", "message": f"{message}; try again in {_minutes(wait)}",
         "retry_after": wait},
        status_code=429,
        headers={"Retry-After": str(wait)},
    )  # fmt: skip


def _minutes(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


class BookingIssues:
    """`POST /api/support/booking-issue`; holds the per-client limiter of this process."""

    def __init__(self, limiter: ClientLimiter | None = None) -> None:
        self.limiter = limiter or ClientLimiter()

    async def handle(self, request: Request) -> Response:
        body = await read_json(request, MAX_BODY_BYTES)
        if isinstance(body, Response):
            return body
        try:
            issue = validate_booking_issue(body)
        except InvalidRequest as exc:
            return JSONResponse(exc.as_dict(), status_code=422)

        result = await self._open(request, issue)
        if "retry_after" in result:
            return _too_many(result["retry_after"], result["why"])
        ticket_id = result["ticket_id"]
        return JSONResponse(
            {
                "ticket_id": ticket_id,
                "status": "open",
                "message": f"We've emailed you a copy of your request, reference {ticket_id}."
                " Our team will answer by email.",
            },
            status_code=201,
        )

    async def _open(self, request: Request, issue: BookingIssue) -> dict:
        """Store the ticket: `{"ticket_id"}`, or `{"retry_after", "why"}` past a limit."""
        wait = self.limiter.check(client_key(request), time.monotonic())
        if wait:
            return {"retry_after": wait, "why": "too many support requests from your network"}
        settings = request.app.state.settings
        result = await request.app.state.database.awrite(
            tickets.open_ticket,
            issue,
            utcnow(),
            settings.slack_webhook_url is not None,
            parseaddr(settings.email_from)[1] or settings.email_from,
        )
        if "retry_after" in result:
            return {**result, "why": "too many support requests from this email address"}
        return result

    async def form(self, request: Request) -> Response:
        """`POST /orders/{order_id}/support`: the success page's plain HTML form (no script
        needed), answered with a page: the reference, or the form again with what to fix."""
        page = _Page(request)
        order_id = request.path_params["order_id"][:MAX_KEY_LENGTH]
        try:
            raw = await read_bytes(request, MAX_BODY_BYTES)
        except BodyRefused as exc:
            return JSONResponse({"error": "body_refused", "message": str(exc)}, exc.status)
        fields = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
        values = {key: fields.get(key, [""])[0] for key in FORM_FIELDS}
        body = {"order_id": order_id, **values}

        def answer(status: int = 200, **shown) -> Response:
            html = pages.render_support_answer(
                order_id, page.base_url, page.support_email, page.nonce, **shown
            )
            return page.html(html, status_code=status, forms=True)

        try:
            issue = validate_booking_issue(body)
        except InvalidRequest as exc:
            problems = [f"{FORM_LABELS.get(p.path, p.path or 'form')}: {p.message}"
                        for p in exc.problems]  # fmt: skip
            return answer(422, values=values, problems=problems)
        result = await self._open(request, issue)
        if "retry_after" in result:
            return answer(429, retry_minutes=math.ceil(result["retry_after"] / 60))
        return answer(201, ticket_id=result["ticket_id"])


async def list_tickets(request: Request) -> Response:
    page = _page(request)
    if isinstance(page, JSONResponse):
        return page
    limit, offset = page
    status = request.query_params.get("status") or None
    if status is not None and status not in TICKET_STATUSES:
        return JSONResponse(
            {"error": "invalid_query",
             "message": f"status must be one of {', '.join(TICKET_STATUSES)}"},
            status_code=422,
        )  # fmt: skip
    rows, total = await request.app.state.database.aread(
        tickets.list_tickets, status, limit, offset
    )
    return JSONResponse(
        {"total": total, "limit": limit, "offset": offset, "tickets": [_jsonable(r) for r in rows]}
    )


async def ticket(request: Request) -> Response:
    """GET one ticket; POST `{"status", "staff_note"}` to change it."""
    ticket_id = request.path_params["ticket_id"].strip().upper()[:32]
    database = request.app.state.database
    if request.method == "GET":
        row = await database.aread(tickets.get_ticket, ticket_id)
        if row is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        history = await database.aread(tickets.replies, ticket_id)
        return JSONResponse(_jsonable({**row, "replies": history}))

    body = await read_json(request, MAX_BODY_BYTES)
    if isinstance(body, Response):
        return body
    try:
        update = validate_ticket_update(body)
    except InvalidRequest as exc:
        return JSONResponse(exc.as_dict(), status_code=422)
    row = await database.awrite(tickets.update_ticket, ticket_id, update, utcnow())
    if row is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    log.info("%s updated ticket %s", actor(request), ticket_id)
    done = [f"status {row['status']}"] if update.status else []
    if update.staff_note is not None:
        done.append("note cleared" if not update.staff_note else "note saved")
    return JSONResponse(
        {"updated": True, "ticket": _jsonable(row), "message": f"{ticket_id}: {', '.join(done)}"}
    )


async def reply(request: Request) -> Response:
    """`POST /api/tickets/{ticket_id}/replies` `{"reply_id", "body", "close", "by"}`: email
    the parent (threaded to the ticket), keep it on the ticket, move its status."""
    ticket_id = request.path_params["ticket_id"].strip().upper()[:32]
    body = await read_json(request, MAX_BODY_BYTES)
    if isinstance(body, Response):
        return body
    try:
        answer = validate_ticket_reply(body)
    except InvalidRequest as exc:
        return JSONResponse(exc.as_dict(), status_code=422)
    # A signed-in member replies in their own name; the ADMIN_TOKEN names who in "by".
    answer = dataclasses.replace(answer, by=acting_name(request, answer.by))
    settings = request.app.state.settings
    sender = support_address(settings.email_from)
    domain = sender.rpartition("@")[2] or "tinkertank.invalid"
    result = await request.app.state.database.awrite(
        tickets.reply_to_ticket, ticket_id, answer, utcnow(), domain, sender
    )
    if result is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    status = result["ticket"]["status"]
    said = "reply emailed" if result["new"] else "this reply was already sent"
    return JSONResponse(
        _jsonable({**result, "message": f"{ticket_id}: {said}; status {status}"}),
        status_code=201 if result["new"] else 200,
    )


# Tickets are families' own words: not for the analyst role (docs/security.md, Staff roles).
staff_routes = [
    Route("/api/tickets", staff_only(list_tickets, role="staff")),
    Route("/api/tickets/{ticket_id}", staff_only(ticket, role="staff"), methods=["GET", "POST"]),
    Route("/api/tickets/{ticket_id}/replies", staff_only(reply), methods=["POST"]),
]

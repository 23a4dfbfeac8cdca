"""`POST /api/events/{event_id}/messages`: staff message every family booked on an event
(a heatwave closure), from a template or their own subject and body, by email and (where
SMS is configured) a short text to each family's mobile; `GET` lists what was sent, by whom
and when, to which addresses, and which channels this sidecar can send (`channels`).

201  queued (or, for a resubmit of the same `message_id`, already queued: `queued` is 0)
404  no such event
422  not JSON, or not a valid message (`sms` where SMS is off): every problem with its path
"""

from __future__ import annotations

import dataclasses
from datetime import UTC

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.clock import utcnow
from core.messages import emails, roster
from core.messages.invites import venue_line
from core.support import InvalidRequest
from sidecar.staff_api import json_body, jsonable, staff_only
from sidecar.staff_identity import acting_name
from store import calendar, roster_messages


def _not_found() -> JSONResponse:
    return JSONResponse({"error": "not_found", "message": "no such event"}, status_code=404)


async def messages(request: Request) -> Response:
    event_id = request.path_params["event_id"]
    database = request.app.state.database
    if request.method == "GET":
        if await database.aread(calendar.roster, event_id) is None:
            return _not_found()
        sent = await database.aread(roster_messages.sent_messages, event_id)
        channels = {"email": True, "sms": request.app.state.settings.sms_enabled}
        return JSONResponse(
            {"event_id": event_id, "channels": channels, "messages": jsonable(sent)}
        )
    body = await json_body(request)
    try:
        message = roster.validate(body, sms_enabled=request.app.state.settings.sms_enabled)
        # A signed-in member sends in their own name; the ADMIN_TOKEN names who in "by".
        message = dataclasses.replace(message, sent_by=acting_name(request, message.sent_by))
    except InvalidRequest as exc:
        return JSONResponse(exc.as_dict(), status_code=422)
    found = await database.aread(calendar.roster, event_id)
    if found is None:
        return _not_found()
    event = found["event"]
    catalog, settings = request.app.state.catalog, request.app.state.settings
    facts = {"title": event["title"], "starts_at": event["starts_at"].replace(tzinfo=UTC),
             "ends_at": event["ends_at"].replace(tzinfo=UTC)}  # fmt: skip
    subject, text = roster.render(
        message,
        facts,
        venue_line(catalog, event["venue_id"]),
        catalog.tz,
        emails.support_address(settings.email_from),
    )  # fmt: skip
    result = await database.awrite(
        roster_messages.send_to_roster,
        event_id,
        {"message_id": message.message_id, "template": message.template, "subject": subject,
         "text": text, "sms_text": roster.sms_text(message, facts, catalog.tz),
         "channels": message.channels, "sent_by": message.sent_by},
        utcnow(),
    )  # fmt: skip
    if result is None:
        return _not_found()
    families = result["families"]
    counted = f"{families} famil{'y' if families == 1 else 'ies'}"
    by_channel = result["queued_by_channel"]
    how = ", ".join(
        f"{n} {'SMS' if channel == 'sms' else 'email' + ('' if n == 1 else 's')}"
        for channel, n in by_channel.items()
    )
    said = (
        f"queued for {counted} ({how})"
        if result["queued"]
        else f"already sent (to {counted}); nothing more queued"
    )
    return JSONResponse(jsonable({**result, "message": f"{result['subject']}: {said}"}),
                        status_code=201)  # fmt: skip


routes = [
    Route("/api/events/{event_id}/messages", staff_only(messages), methods=["GET", "POST"]),
]

"""`POST /api/inbox/import`: events fetched from Stripe's API, fed into the inbox (reconcile).

`tinkertank reconcile` lists recent events through Stripe's API and posts them here. They
are stored exactly as webhook deliveries are (the same insert, keyed by the Stripe event
id, status `received` so the worker processes them); an event already in the inbox, from a
webhook or an earlier reconcile, stores nothing. No signature: these came over an
authenticated API call made with our secret key, and only staff can post them.
"""

from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.clock import utcnow
from core.stripe_events import NotAnEvent, parse_event
from sidecar.json_body import json_object
from sidecar.staff_api import staff_only
from store import inbox

log = logging.getLogger(__name__)

MAX_IMPORT_BODY = 32 * 1024 * 1024
MAX_EVENTS = 1000  # Stripe pages hold up to 100


def _invalid(message: str, problems: list[dict] | None = None) -> JSONResponse:
    body: dict = {"error": "invalid_body", "message": message}
    if problems:
        body["problems"] = problems
    return JSONResponse(body, status_code=422)


async def import_events(request: Request) -> Response:
    body = await json_object(request, MAX_IMPORT_BODY)
    if isinstance(body, Response):
        return body
    events = body.get("events")
    if not isinstance(events, list):
        return _invalid('send {"events": [event objects from Stripe\'s API]}')
    if len(events) > MAX_EVENTS:
        return _invalid(f"at most {MAX_EVENTS} events per request")
    parsed, problems = {}, []
    for index, event in enumerate(events):
        try:
            if not isinstance(event, dict):
                raise NotAnEvent("not a JSON object")
            found = parse_event(json.dumps(event, separators=(",", ":")))
        except NotAnEvent as exc:
            problems.append({"path": f"events[{index}]", "message": str(exc)})
            continue
        parsed.setdefault(found.event_id, found)  # the same event twice is one event
    if problems:
        return _invalid("some events are not Stripe events; nothing was imported", problems)
    received_at = utcnow()
    fresh = list(parsed.values())
    stored = await request.app.state.database.awrite(
        inbox.store_events_skipping_duplicates, [(event, received_at) for event in fresh]
    ) if fresh else []  # fmt: skip
    imported = [event.event_id for event, new in zip(fresh, stored, strict=True) if new]
    if imported:
        log.info(
            "reconcile: imported %d event(s) missing from the inbox: %s",
            len(imported),
            ", ".join(imported),
        )
    return JSONResponse(
        {
            "imported": len(imported),
            "already_present": len(events) - len(imported),
            "imported_ids": imported,
        }
    )


routes = [Route("/api/inbox/import", staff_only(import_events), methods=["POST"])]

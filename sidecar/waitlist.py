"""The waitlist over HTTP (docs/http-api.md).

- `POST /api/waitlist` (public, for the storefront when checkout answers 409): the same
  body and validation as `POST /api/checkout`, with one item; the same per-mailbox and
  per-client limits. 201 with the entry, 200 when the family already waits for that event.
- Staff: `GET /api/waitlist` (the events with families waiting), `GET /api/waitlist?event=…`
  (an event's list in order), `POST /api/waitlist/reorder`, `POST /api/waitlist/{entry_id}/remove`
  and `POST /api/waitlist/run` (the offer pass, at once).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import clock
from core.cart import InvalidCart
from core.clock import utcnow
from core.waitlist import OFFER_HOURS
from fulfilment import waitlist_offers
from sidecar.checkout import MAX_CHECKOUT_BODY, hold_limits, too_many_holds
from sidecar.clients import client_key
from sidecar.json_body import read_json
from sidecar.staff_api import BadRequest, _by, json_body, jsonable, not_found, staff_only, text
from store import waitlist as entries

MAX_ENTRIES = 500  # ids in one reorder


def _public(entry: dict) -> dict:
    """What the storefront is told: never another family's details."""
    return jsonable(
        {k: entry[k] for k in ("entry_id", "event_key", "label", "position", "status")}
        | {"offer_hours": OFFER_HOURS}
    )


async def join_waitlist(request: Request) -> Response:
    app = request.app
    catalog = app.state.catalog
    body = await read_json(request, MAX_CHECKOUT_BODY, error="invalid_cart")
    if isinstance(body, Response):
        return body
    now = clock.now()
    try:
        cart = waitlist_offers.waitlist_cart(body, catalog, now.astimezone(catalog.tz).date())
    except InvalidCart as exc:
        return JSONResponse(exc.as_dict(), status_code=422)
    joined = await app.state.database.awrite(
        waitlist_offers.join, body, cart, client_key(request),
        hold_limits(app.state.settings), utcnow(),
    )  # fmt: skip
    if joined.refusal:
        return too_many_holds(joined.refusal, None)
    return JSONResponse(_public(joined.entry), status_code=201 if joined.created else 200)


async def list_waitlist(request: Request) -> Response:
    database = request.app.state.database
    event = text(request, "event", 1000)
    if event is None:
        return JSONResponse({"events": await database.aread(entries.events)})
    rows = await database.aread(entries.event_entries, event)
    return JSONResponse({"event": event, "entries": jsonable(rows)})


async def reorder_waitlist(request: Request) -> Response:
    body = await json_body(request)
    by = _by(body, request)
    event, ids = body.get("event"), body.get("entry_ids")
    if not isinstance(event, str) or not event:
        raise BadRequest('"event" must name the event (its event_key)', "invalid_body")
    if (
        not isinstance(ids, list)
        or not 0 < len(ids) <= MAX_ENTRIES
        or not all(isinstance(i, str) and 0 < len(i) <= 100 for i in ids)
        or len(set(ids)) != len(ids)
    ):
        raise BadRequest(
            f'"entry_ids" must list 1..{MAX_ENTRIES} distinct entry ids, first first',
            "invalid_body",
        )
    database = request.app.state.database
    known = {row["entry_id"] for row in await database.aread(entries.event_entries, event)}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise BadRequest(f"not entries of {event}: {', '.join(unknown)}", "invalid_body")
    await database.awrite(entries.reorder, event, ids, utcnow())
    rows = await database.aread(entries.event_entries, event)
    return JSONResponse({"event": event, "by": by, "entries": jsonable(rows)})


async def remove_entry(request: Request) -> Response:
    body = await json_body(request)
    by = _by(body, request)
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 500:
        raise BadRequest('"reason" must be text of at most 500 characters', "invalid_body")
    entry_id = request.path_params["entry_id"]
    database = request.app.state.database
    removed = await database.awrite(
        waitlist_offers.remove, entry_id, f"removed by {by}" + (f": {reason}" if reason else ""),
        utcnow(),
    )  # fmt: skip
    if removed == "not_found":
        return not_found(f"no waitlist entry {entry_id}")
    if removed == "closed":
        return JSONResponse(
            {"error": "not_open", "message": f"{entry_id} is no longer on the waitlist"},
            status_code=409,
        )
    return JSONResponse(jsonable(await database.aread(entries.entry, entry_id)))


async def run_offers(request: Request) -> Response:
    done = await request.app.state.database.awrite(waitlist_offers.run, utcnow())
    return JSONResponse(done)


public_routes = [Route("/api/waitlist", join_waitlist, methods=["POST"])]
routes = [
    # Families' carts (children's notes): staff only (docs/security.md, Staff roles).
    Route("/api/waitlist", staff_only(list_waitlist, role="staff"), methods=["GET"]),
    Route("/api/waitlist/reorder", staff_only(reorder_waitlist), methods=["POST"]),
    Route("/api/waitlist/run", staff_only(run_offers), methods=["POST"]),
    Route("/api/waitlist/{entry_id}/remove", staff_only(remove_entry), methods=["POST"]),
]

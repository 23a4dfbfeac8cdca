"""`POST /api/checkout` and `GET /api/orders/{order_id}/status` (docs/http-api.md).

Checkout: validate the cart against the catalog (422 with every problem), take places for
every item and store the pending order in one write (409 when a place is gone), then ask
Stripe for a Checkout Session (idempotently, keyed by the order id) and answer 201 with
its URL. If Stripe cannot be reached the places are given back and the storefront is told
to try again (503): the parent has not paid, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, timedelta

import stripe
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core import clock
from core.cart import InvalidCart
from core.cart_rules import validate_checkout
from core.checkout import HoldLimits, checkout_session_params, hold_expiry
from core.clock import utcnow
from core.settings import Settings
from sidecar.clients import client_key
from sidecar.json_body import read_json
from store import order_views, orders

log = logging.getLogger(__name__)

MAX_CHECKOUT_BODY = 64 * 1024


def stripe_client(settings: Settings) -> stripe.StripeClient | None:
    if not settings.stripe_secret_key:
        return None
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses={"api": settings.stripe_api_base},
        max_network_retries=2,
    )


async def create_checkout(request: Request) -> Response:
    app = request.app
    settings: Settings = app.state.settings
    catalog = app.state.catalog
    body = await read_json(request, MAX_CHECKOUT_BODY, error="invalid_cart")
    if isinstance(body, Response):
        return body
    now = clock.now()
    try:
        cart = validate_checkout(body, catalog, today=now.astimezone(catalog.tz).date())
    except InvalidCart as exc:
        return JSONResponse(exc.as_dict(), status_code=422)
    client: stripe.StripeClient | None = app.state.stripe
    if client is None:
        return JSONResponse(
            {"error": "unavailable", "message": "checkout is not configured (STRIPE_SECRET_KEY)"},
            status_code=503,
        )

    order_id = orders.new_id("ord")
    expires_at = hold_expiry(now)
    new_order = orders.new_order(order_id, cart, catalog, now, client_key(request))
    store = app.state.database
    placed = await store.awrite(orders.place_checkout, new_order, hold_limits(settings))
    if placed.refusal:
        return too_many_holds(placed.refusal, placed.retry_after)
    if placed.problems:
        return JSONResponse({"error": "unavailable", "problems": placed.problems}, status_code=409)
    # The mailbox's earlier unpaid checkouts were released in that write: close them at
    # Stripe too, after answering, so that they cannot be paid for places no longer held.
    expire_replaced = BackgroundTask(expire_sessions, client, placed.replaced_sessions)

    # Stripe wants the session to live at least 30 minutes from *its* clock; a second of
    # slack keeps a slow request from being refused.
    params = checkout_session_params(
        order_id, cart, catalog, settings.public_base_url, expires_at + timedelta(seconds=5)
    )
    try:
        session = await asyncio.to_thread(
            client.v1.checkout.sessions.create, params, {"idempotency_key": order_id}
        )
    except Exception as exc:  # refused, unreachable, or a bug: the parent has not paid
        log.error("checkout %s: no Checkout Session: %s", order_id, exc)
        detail = exc.user_message if isinstance(exc, stripe.StripeError) else None
        reason = f"Stripe Checkout Session not created: {detail or exc}"
        await store.awrite(orders.abandon_checkout, order_id, reason, utcnow())
        return JSONResponse(
            {"error": "payment_unavailable", "message": "payments are unavailable; try again"},
            status_code=503,
        )
    await store.awrite(orders.attach_checkout_session, order_id, session.id, utcnow())
    return JSONResponse(
        {"order_id": order_id, "checkout_url": session.url, "expires_at": expires_at.isoformat()},
        status_code=201,
        background=expire_replaced,
    )


def hold_limits(settings: Settings) -> HoldLimits:
    return HoldLimits(
        per_email=settings.checkout_places_per_email,
        per_client=settings.checkout_places_per_client,
        client_share_percent=settings.checkout_client_share_percent,
    )


def too_many_holds(reason: str, retry_after: int | None) -> JSONResponse:
    """429: a hold limit; `Retry-After` when waiting for holds to lapse would help."""
    if retry_after is None:
        message = f"{reason}."
        headers = {}
    else:
        minutes = math.ceil(retry_after / 60)
        message = f"{reason}; try again in {minutes} minute{'' if minutes == 1 else 's'}."
        headers = {"Retry-After": str(retry_after)}
    return JSONResponse(
        {"error": "too_many_holds", "message": message, "retry_after": retry_after},
        status_code=429,
        headers=headers,
    )


async def expire_sessions(client: stripe.StripeClient, session_ids: list[str]) -> None:
    """Best effort: a session left open lapses at Stripe by itself within 30 minutes, and a
    late payment of it still books (a lapsed hold takes a place again when one is free)."""
    for session_id in session_ids:
        try:
            await asyncio.to_thread(client.v1.checkout.sessions.expire, session_id)
        except Exception as exc:
            log.warning("could not expire replaced Checkout Session %s: %s", session_id, exc)


async def order_status(request: Request) -> Response:
    key = request.path_params["order_id"]
    if len(key) > 255:
        return JSONResponse({"error": "not_found"}, status_code=404)
    status = await request.app.state.database.aread(order_views.order_status, key)
    if status is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    tz = request.app.state.catalog.tz
    for booking in status["bookings"]:
        event = booking["event"]
        for field in ("start", "end"):
            event[field] = event[field].replace(tzinfo=UTC).astimezone(tz).isoformat()
    base = request.app.state.settings.public_base_url
    status["calendar_url"] = f"{base}/orders/{status['order_id']}/calendar.ics"
    return JSONResponse(status, headers={"Cache-Control": "no-store"})

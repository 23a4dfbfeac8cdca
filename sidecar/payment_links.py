"""`GET /orders/{order_id}/pay`: the link a waitlist offer or a staff booking emails.

It opens Stripe Checkout for an order whose places are held for the family: the Checkout
Session is made when the link is first opened (idempotently, keyed by the order), lapses
with the hold, and is reused while it is open. A paid order goes to its processing page;
an order whose hold has gone answers 410 with a page that says so.
"""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import UTC

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core import clock
from core.checkout import checkout_session_params
from core.messages import pages
from core.waitlist import pay_session_expiry, stored_cart
from sidecar.customer import _Page
from store import orders, staff_bookings

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 255


def _message(page: _Page, title: str, text: str, status: int) -> Response:
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><main><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(text)}</p><p>Questions? {html.escape(page.support_email)}</p></main>"
    )
    return page.html(body, status_code=status)


async def pay(request: Request) -> Response:
    page = _Page(request)
    order_id = request.path_params["order_id"]
    if len(order_id) > MAX_KEY_LENGTH:
        return page.not_found()
    database = request.app.state.database
    rows = await database.aread(staff_bookings.pay_rows, order_id)
    if rows is None:
        return page.not_found()
    if rows["payment_status"] not in pages.UNPAID:
        return page.see_other(pages.order_paths(order_id)["processing_url"])
    now = clock.now()
    utc_now = now.astimezone(UTC).replace(tzinfo=None)
    held_until = rows["held_until"]
    if rows["payment_status"] != "pending" or held_until is None or held_until <= utc_now:
        return _message(
            page,
            "This link has expired",
            "The place was held for you until the link expired, and has gone to the next"
            " family. Reply to our email or call us and we will see what we can do.",
            410,
        )
    client = request.app.state.stripe
    if client is None:
        return _message(page, "Payments are unavailable", "Please try again shortly.", 503)
    try:
        session = None
        if rows["checkout_session_id"]:
            session = await asyncio.to_thread(
                client.v1.checkout.sessions.retrieve, rows["checkout_session_id"]
            )
        if session is None or session.status != "open":
            catalog = request.app.state.catalog
            expires_at = pay_session_expiry(held_until.replace(tzinfo=UTC), now)
            params = checkout_session_params(
                order_id, stored_cart(rows, catalog), catalog,
                request.app.state.settings.public_base_url, expires_at,
            )  # fmt: skip
            attempt = "first" if not rows["checkout_session_id"] else rows["checkout_session_id"]
            session = await asyncio.to_thread(
                client.v1.checkout.sessions.create, params,
                {"idempotency_key": f"{order_id}:pay:{attempt}"},
            )  # fmt: skip
            await database.awrite(
                orders.attach_checkout_session, order_id, session.id, clock.utcnow()
            )
    except Exception as exc:  # refused or unreachable: the hold stays, the link too
        log.error("payment link %s: no Checkout Session: %s", order_id, exc)
        return _message(page, "Payments are unavailable", "Please try again shortly.", 503)
    response = page.see_other(session.url)
    return response


routes = [Route("/orders/{order_id}/pay", pay)]

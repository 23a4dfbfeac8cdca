"""Customer-facing pages and files (docs/http-api.md): the order's calendar file and the
pages Stripe Checkout returns to (processing, success, cancelled). The HTML comes from
`core/messages/pages.py`.

Order ids are secrets carried in URLs, so these answers are never cached, never leak their
address as a Referer, and allow only their own inline script and style (by nonce).
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from core import clock
from core.catalog import Catalog
from core.messages import pages
from core.messages.emails import support_address
from core.messages.invites import (
    calendar_method,
    calendar_parties,
    order_invites,
    render_calendar,
)
from core.settings import Settings
from store import order_views, orders

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 255


async def calendar_file(request: Request) -> Response:
    key = request.path_params["order_id"]
    if len(key) > MAX_KEY_LENGTH:
        return JSONResponse({"error": "not_found"}, status_code=404)
    rows = await request.app.state.database.aread(order_views.calendar_rows, key)
    if rows is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    catalog: Catalog = request.app.state.catalog
    invites = order_invites(rows, catalog)
    method = calendar_method(invites)  # CANCEL once nothing is left: an import removes them
    parties = calendar_parties(request.app.state.settings.email_from, rows)
    body = render_calendar(invites, catalog.tz, clock.now(), method, *parties)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="tinkertank-{rows["order_id"]}.ics"',
            "Cache-Control": "no-store",
        },
    )


def _security_headers(nonce: str, storefront_origin: str, forms: bool = False) -> dict[str, str]:
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src 'nonce-{nonce}'",
            f"style-src 'nonce-{nonce}'",
            "connect-src 'self'",  # the processing page polls the status API
            "img-src 'self'",
            "base-uri 'none'",
            # Only pages with a form (support, unsubscribe) may post, and only to us.
            "form-action 'self'" if forms else "form-action 'none'",
            # The storefront may show the pages in a frame (and hear the success page's
            # message); nobody else may.
            f"frame-ancestors 'self' {storefront_origin}",
        ]
    )
    return {
        "Cache-Control": "no-store",
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


class _Page:
    """What every page needs: a fresh nonce and the settings' URLs."""

    def __init__(self, request: Request) -> None:
        settings: Settings = request.app.state.settings
        self.base_url = settings.public_base_url
        self.support_email = support_address(settings.email_from)
        self.nonce = secrets.token_urlsafe(16)

    def html(self, body: str, status_code: int = 200, forms: bool = False) -> HTMLResponse:
        headers = _security_headers(self.nonce, pages.origin_of(self.base_url), forms)
        return HTMLResponse(body, status_code=status_code, headers=headers)

    def not_found(self) -> HTMLResponse:
        body = pages.render_not_found(self.base_url, self.support_email, self.nonce)
        return self.html(body, status_code=404)

    def see_other(self, path: str) -> RedirectResponse:
        response = RedirectResponse(path, status_code=303)
        response.headers.update({"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
        return response


async def _abandon(request: Request, order_id: str, session_id: str) -> bool:
    """The parent left the checkout: expire its session at Stripe so it can no longer be
    paid, then give its places back now rather than in up to 30 minutes. False (places
    kept until the hold lapses) when Stripe cannot be reached or the session is not open."""
    client = request.app.state.stripe
    if client is None:
        return False
    try:
        session = await asyncio.to_thread(client.v1.checkout.sessions.expire, session_id)
    except Exception as exc:  # already complete or expired, or Stripe unreachable
        log.info("cancel page of %s: session %s not expired: %s", order_id, session_id, exc)
        return False
    if session.status != "expired":
        return False
    await request.app.state.database.awrite(
        orders.release_abandoned_checkout, order_id, clock.utcnow()
    )
    return True


async def _rows(request: Request) -> dict | None:
    key = request.path_params["order_id"]
    if len(key) > MAX_KEY_LENGTH:
        return None
    return await request.app.state.database.aread(order_views.customer_page_rows, key)


async def processing_page(request: Request) -> Response:
    page = _Page(request)
    rows = await _rows(request)
    if rows is None:
        return page.not_found()
    status = rows["status"]
    if pages.order_state(status) == pages.CONFIRMED:
        # A reload (the no-script fallback) or a late visit goes straight to the bookings.
        return page.see_other(pages.order_paths(status["order_id"])["success_url"])
    return page.html(pages.render_processing(status, page.base_url, page.support_email, page.nonce))


async def success_page(request: Request) -> Response:
    page = _Page(request)
    rows = await _rows(request)
    if rows is None:
        return page.not_found()
    status = rows["status"]
    if pages.order_state(status) != pages.CONFIRMED:
        return page.see_other(pages.order_paths(status["order_id"])["processing_url"])
    catalog: Catalog = request.app.state.catalog
    return page.html(
        pages.render_success(rows, catalog, page.base_url, page.support_email, page.nonce),
        forms=True,  # the support form posts to /orders/{order_id}/support
    )


async def cancelled_page(request: Request) -> Response:
    page = _Page(request)
    rows = await _rows(request)
    if rows is None:
        return page.not_found()
    status = rows["status"]
    if status["payment_status"] not in pages.UNPAID:
        # Paid after all (another tab, a bank debit): the processing page says where it is.
        return page.see_other(pages.order_paths(status["order_id"])["processing_url"])
    session_id = rows["checkout_session_id"]
    if (
        status["payment_status"] == "pending"
        and session_id
        and await _abandon(request, status["order_id"], session_id)
    ):
        rows = await _rows(request) or rows
    tz = request.app.state.catalog.tz
    body = pages.render_cancelled(
        rows, tz, clock.now(), page.base_url, page.support_email, page.nonce
    )
    return page.html(body)

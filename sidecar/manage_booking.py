"""The parent's "manage booking" pages (docs/http-api.md, Customer pages; issue 12 item 6),
opened from the signed, expiring link in confirmation and reminder emails
(core/manage_link.py). Plain HTML forms, no script, the customer pages' CSP:

- `GET /manage/{token}`: the order's camp days and parties, each with what may be done now
  under the catalog's cancellation policy (core/self_service.py);
- `GET /manage/{token}/cancel/{booking_id}`: what cancelling would give, and a confirm form;
  `POST` does it: inside the full-refund window a refund through Stripe, made as staff's
  is (sidecar/staff_actions.ask_refund; Stripe's `charge.refunded` cancels the booking),
  after it a cancel with credit (fulfilment/self_service.py), or a refusal;
- `GET /manage/{token}/swap/{booking_id}`: the camp's other days with a place free, and a
  confirm form; `POST` moves the booking as staff's move does, capacity checked in the
  single writer.

A forged link answers 403 and an expired one 410, each with a page saying what to do. Each
confirm form carries a one-time token (core/manage_link.form_token) signed for its order,
booking and action: a POST without a genuine one changes nothing (403), and the same form
posted twice does one thing. Every change is on the order's timeline as `parent <email>`.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core import clock, manage_link, self_service
from core.messages import pages
from core.staff_requests import RefundRequest
from fulfilment import self_service as parents
from sidecar.customer import _Page
from sidecar.json_body import BodyRefused, read_bytes
from sidecar.staff_actions import ask_refund

MAX_FORM_BYTES = 4 * 1024
CANCEL, SWAP = "cancel", "swap"
STALE_FORM = "This form has expired or is not ours: open the booking again and try from there."


class _Manage:
    """One request on a manage link: the page kit, the link read, and the order."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.page = _Page(request)
        self.token = request.path_params["token"]
        self.key = manage_link.key_from(
            request.app.state.settings.admin_token, request.app.state.settings.manage_link_secret
        )
        self.state, self.order_id = manage_link.read(self.key, self.token, clock.now())
        self.home = f"/manage/{self.token}"

    def render(self, state: str, status_code: int = 200, **values) -> Response:
        body = pages.render_manage(state, self.page.base_url, self.page.support_email,
                                   self.page.nonce, home=self.home, **values)  # fmt: skip
        return self.page.html(body, status_code=status_code, forms=True)

    def refused(self) -> Response | None:
        """The page for a link that is not genuine: 403 forged, 410 expired."""
        if self.state == manage_link.FORGED:
            return self.render("forged", 403, order_id=None)
        if self.state == manage_link.EXPIRED:
            return self.render("expired", 410, order_id=None)
        return None

    async def view(self) -> dict | None:
        app = self.request.app
        return await app.state.database.aread(
            parents.manage_view, self.order_id, str(app.state.settings.catalog_path), clock.now()
        )


def _booking(order: dict, booking_id: str) -> dict | None:
    return next((b for b in order["bookings"] if b["booking_id"] == booking_id), None)


async def _form(request: Request) -> dict[str, str] | None:
    try:
        raw = await read_bytes(request, MAX_FORM_BYTES)
    except BodyRefused:
        return None
    fields = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: values[0] for key, values in fields.items()}


async def manage_page(request: Request) -> Response:
    manage = _Manage(request)
    if (refused := manage.refused()) is not None:
        return refused
    order = await manage.view()
    if order is None:
        return manage.page.not_found()
    return manage.render("list", order=order, order_id=order["order_id"],
                         tz=request.app.state.catalog.tz)  # fmt: skip


async def cancel_page(request: Request) -> Response:
    manage = _Manage(request)
    if (refused := manage.refused()) is not None:
        return refused
    order = await manage.view()
    booking = _booking(order, request.path_params["booking_id"]) if order else None
    if order is None or booking is None:
        return manage.page.not_found()
    tz = request.app.state.catalog.tz
    shown = {"order": order, "order_id": order["order_id"], "booking": booking, "tz": tz}
    if request.method == "GET":
        if booking["options"].cancel == self_service.NOT_ALLOWED:
            return manage.render("refused", 409, message=booking["options"].why, **shown)
        form = manage_link.form_token(manage.key, order["order_id"], booking["booking_id"], CANCEL)
        return manage.render("confirm_cancel", form_token=form, **shown)
    fields = await _form(request) or {}
    nonce = manage_link.form_nonce(manage.key, fields.get("form_token", ""), order["order_id"],
                                   booking["booking_id"], CANCEL)  # fmt: skip
    if nonce is None:
        return manage.render("refused", 403, message=STALE_FORM, **shown)
    choice = booking["options"].cancel
    if booking["status"] == "cancelled":
        return manage.render("done", message="This booking is cancelled.", **shown)
    if choice == self_service.REFUND or booking["refund_pending"]:  # again: the same refund
        return await _refund(request, manage, order, booking, shown)
    app = request.app
    outcome = await app.state.database.awrite(
        parents.cancel_for_credit, order["order_id"], booking["booking_id"],
        str(app.state.settings.catalog_path), clock.now(),
    )  # fmt: skip
    if outcome.status != 200:
        return manage.render("refused", outcome.status, message=outcome.message, **shown)
    credit = outcome.details.get("credit_text")
    message = (f"Cancelled. {credit} is kept as credit on your order for another booking."
               if credit else "This booking is cancelled.")  # fmt: skip
    return manage.render("done", message=message, **shown)


async def _refund(request: Request, manage: _Manage, order: dict, booking: dict,
                  shown: dict) -> Response:  # fmt: skip
    wanted = RefundRequest(items=(booking["order_item_id"],), amount=None,
                           reason=parents.CANCEL_REASON)  # fmt: skip
    status, body = await ask_refund(request.app, order["order_id"], wanted,
                                    f"parent {order['customer_email']}", None)  # fmt: skip
    if status == 200 or body.get("error") == "refund_in_progress":  # a double submit
        refund = f"{body['amount_text']} is" if "amount_text" in body else "Your money is"
        message = (f"Cancelled: {refund} being refunded to your card. You'll get an email"
                   " when the booking is cancelled, in a minute or two.")  # fmt: skip
        return manage.render("done", message=message, **shown)
    if status == 503:
        return manage.render("refused", 503, message="We couldn't reach our payment provider,"
                             " so nothing was changed. Please try again in a few minutes.",
                             **shown)  # fmt: skip
    message = body.get("message") or "This booking cannot be refunded online."
    return manage.render("refused", 409, message=message, **shown)


async def swap_page(request: Request) -> Response:
    manage = _Manage(request)
    if (refused := manage.refused()) is not None:
        return refused
    order = await manage.view()
    booking = _booking(order, request.path_params["booking_id"]) if order else None
    if order is None or booking is None:
        return manage.page.not_found()
    tz = request.app.state.catalog.tz
    shown = {"order": order, "order_id": order["order_id"], "booking": booking, "tz": tz}
    if request.method == "GET":
        if not booking["options"].swap:
            return manage.render("refused", 409, message="This booking cannot be swapped"
                                 " online.", **shown)  # fmt: skip
        form = manage_link.form_token(manage.key, order["order_id"], booking["booking_id"], SWAP)
        return manage.render("choose_swap", form_token=form, **shown)
    fields = await _form(request) or {}
    nonce = manage_link.form_nonce(manage.key, fields.get("form_token", ""), order["order_id"],
                                   booking["booking_id"], SWAP)  # fmt: skip
    if nonce is None:
        return manage.render("refused", 403, message=STALE_FORM, **shown)
    try:
        day = date.fromisoformat(fields.get("date", ""))
    except ValueError:
        return manage.render("refused", 422, message="Choose the day to swap to.", **shown)
    app = request.app
    outcome = await app.state.database.awrite(
        parents.swap_day, order["order_id"], booking["booking_id"], day, nonce,
        str(app.state.settings.catalog_path), clock.now(),
    )  # fmt: skip
    if outcome.status != 200:
        message = outcome.message
        if outcome.status == 409 and "is full" in message:
            message = f"{day:%A %-d %B} has just filled up: nothing was changed. Pick another day."
        return manage.render("refused", outcome.status, message=message, **shown)
    return manage.render("done", message=f"Swapped to {day:%A %-d %B}. We've emailed you the"
                         " change, with a calendar update.", **shown)  # fmt: skip


routes = [
    Route("/manage/{token}", manage_page),
    Route("/manage/{token}/cancel/{booking_id}", cancel_page, methods=["GET", "POST"]),
    Route("/manage/{token}/swap/{booking_id}", swap_page, methods=["GET", "POST"]),
]

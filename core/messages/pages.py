"""The customer's order pages (docs/http-api.md, Customer pages): processing, success,
cancelled and not found.

Pure: the order's rows, the catalog, the clock's reading, the base URL and the script nonce
come in as arguments; each function returns the page's HTML. Templates are Jinja2 in
`core/messages/templates/`, autoescaped: a student's name is the parent's free text.

The pages are self-contained (styles and scripts inline, under a per-response nonce) so that
they work with no CDN and under a strict Content-Security-Policy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from core.catalog import Catalog
from core.messages import emails
from core.support import CATEGORIES

_PAGES = Environment(
    loader=PackageLoader("core.messages", "templates"),
    undefined=StrictUndefined,
    autoescape=True,
)

# What the processing page can say, and so where the customer goes next.
PROCESSING, CONFIRMED, FAILED, EXPIRED, NEEDS_ATTENTION, CANCELLED = (
    "processing", "confirmed", "failed", "expired", "needs_attention", "cancelled",
)  # fmt: skip
# Payment states in which nothing was taken from the customer.
UNPAID = ("pending", "failed", "expired")


def order_state(status: dict[str, Any]) -> str:
    """Where an order stands for its customer, from `store.order_views.order_status`.

    Confirmed once fulfilled, or as soon as its events are scheduled: the steps after that
    only send the email and tell staff, and a slow mail server must not keep a parent
    waiting. The processing page's script applies the same rule to the status API."""
    scheduled = any(
        step["name"] == "schedule_events" and step["status"] == "done" for step in status["steps"]
    )
    if status["fulfillment_status"] == "cancelled" or status["payment_status"] == "refunded":
        return CANCELLED
    if status["fulfillment_status"] == "fulfilled" or scheduled:
        return CONFIRMED
    if status["payment_status"] == "failed":
        return FAILED
    if status["payment_status"] == "expired":
        return EXPIRED
    if status["fulfillment_status"] == "needs_attention":
        return NEEDS_ATTENTION
    return PROCESSING


def origin_of(url: str) -> str:
    """`https://shop.example:8443` of `https://shop.example:8443/any/path`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def order_paths(order_id: str) -> dict[str, str]:
    """The order's pages, as paths on the sidecar (they are served from the same origin)."""
    return {
        "processing_url": f"/orders/{order_id}/processing",
        "success_url": f"/orders/{order_id}/success",
        "status_url": f"/api/orders/{order_id}/status",
        "support_action": f"/orders/{order_id}/support",
    }


def _common(base_url: str, support_email: str, nonce: str, order_id: str | None) -> dict:
    return {
        "shop_url": f"{base_url}/",
        "support_email": support_email,
        "nonce": nonce,
        "order_id": order_id,
    }


def _tz_label(tz: ZoneInfo) -> str:
    """`Sydney` for Australia/Sydney: how a parent names the time zone."""
    return str(tz).rsplit("/", 1)[-1].replace("_", " ")


def render_processing(status: dict[str, Any], base_url: str, support_email: str, nonce: str) -> str:
    """The page Stripe Checkout returns to: it polls the status API until the order is
    confirmed, then moves on to the success page, or says what went wrong."""
    state = order_state(status)
    order_id = status["order_id"]
    return _PAGES.get_template("processing.html.j2").render(
        **_common(base_url, support_email, nonce, order_id),
        **order_paths(order_id),
        state=state,
        polling=state in (PROCESSING, NEEDS_ATTENTION),
    )


def render_success(
    rows: dict[str, Any], catalog: Catalog, base_url: str, support_email: str, nonce: str
) -> str:
    """The confirmed order: bookings per student with add-to-calendar buttons, the whole
    calendar file, and what to bring. `rows`: `store.order_views.customer_page_rows`."""
    confirmation = rows["confirmation"]
    order = confirmation["order"]
    order_id = order["order_id"]
    ics_url = f"{base_url}/orders/{order_id}/calendar.ics"
    bookings = emails.order_bookings(confirmation, catalog)
    checking = [b for b in bookings if b.get("status") == "conflict"]
    return _PAGES.get_template("success.html.j2").render(
        **_common(base_url, support_email, nonce, order_id),
        **support_form(order_id, {"email": order.get("customer_email") or ""}),
        name=(order.get("customer_name") or "").split(" ")[0],
        checking=bool(checking),
        all_checking=bool(bookings) and len(checking) == len(bookings),
        students=emails.bookings_by_student(bookings, catalog.tz, ics_url),
        next_steps=emails.next_steps(bookings),
        ics_url=ics_url,
        tz_label=_tz_label(catalog.tz),
        storefront_origin=origin_of(base_url),
    )


def render_cancelled(
    rows: dict[str, Any], tz: ZoneInfo, now: datetime, base_url: str, support_email: str,
    nonce: str,
) -> str:  # fmt: skip
    """Stripe Checkout's cancel page: nothing was charged; the places stay held until the
    hold lapses (`now` is aware)."""
    expires_at = rows["expires_at"]
    held_until = None
    if rows["status"]["payment_status"] == "pending" and expires_at is not None:
        expiry = expires_at.replace(tzinfo=UTC)
        if expiry > now:
            local = expiry.astimezone(tz)
            held_until = f"{local:%-I:%M %p} on {local:%A %-d %B}"
    return _PAGES.get_template("cancelled.html.j2").render(
        **_common(base_url, support_email, nonce, rows["status"]["order_id"]),
        held_until=held_until,
        tz_label=_tz_label(tz),
    )


def render_not_found(base_url: str, support_email: str, nonce: str) -> str:
    return _PAGES.get_template("not_found.html.j2").render(
        **_common(base_url, support_email, nonce, None)
    )


def render_unsubscribe(
    state: str, email: str | None, action: str, base_url: str, support_email: str, nonce: str
) -> str:
    """The reminder unsubscribe page: `ask` (a button that POSTs to `action`), `done`, or
    `invalid` (a link that is not ours, or from before a key change)."""
    return _PAGES.get_template("unsubscribe.html.j2").render(
        **_common(base_url, support_email, nonce, None), state=state, email=email, action=action
    )


def support_form(
    order_id: str, values: dict[str, str], problems: list[str] | None = None
) -> dict[str, Any]:
    """What `support_form.html.j2` needs: a plain form (no script) that posts to
    `POST /orders/{order_id}/support`, filled with `values`, with the problems to fix."""
    form = {key: values.get(key) or "" for key in ("category", "message", "name", "email")}
    return {
        "support_action": order_paths(order_id)["support_action"],
        "categories": list(CATEGORIES.items()),
        "form": form,
        "problems": problems or [],
    }


def render_support_answer(
    order_id: str, base_url: str, support_email: str, nonce: str, *,
    ticket_id: str | None = None, retry_minutes: int | None = None,
    values: dict[str, str] | None = None, problems: list[str] | None = None,
) -> str:  # fmt: skip
    """The page the success page's support form answers with: the ticket's reference, a
    request to wait, or the form again with what to fix."""
    return _PAGES.get_template("support_answer.html.j2").render(
        **_common(base_url, support_email, nonce, order_id),
        **support_form(order_id, values or {}, problems),
        ticket_id=ticket_id,
        retry_minutes=retry_minutes,
        back_url=order_paths(order_id)["success_url"],
    )


def _manage_booking(booking: dict[str, Any], home: str, tz: ZoneInfo) -> dict[str, Any]:
    """One booking as the manage pages show it (`booking`: fulfilment/self_service.py's)."""
    start = booking["starts_at"].replace(tzinfo=UTC).astimezone(tz)
    end = booking["ends_at"].replace(tzinfo=UTC).astimezone(tz)
    options = booking["options"]
    return {
        "booking_id": booking["booking_id"],
        "student": booking["student"],
        "title": booking["title"],
        "what": "party" if booking["kind"] == "party" else "day",
        "when": f"{start:%A %-d %B %Y}, {start:%-I:%M %p} to {end:%-I:%M %p}",
        "status": booking["status"],
        "why": options.why,
        "cancel": options.cancel,
        "swap": options.swap,
        "cancel_url": f"{home}/cancel/{booking['booking_id']}",
        "swap_url": f"{home}/swap/{booking['booking_id']}",
        "swap_days": [(f"{day:%Y-%m-%d}", f"{day:%A %-d %B}") for day in booking["swap_days"]],
    }


def render_manage(
    state: str, base_url: str, support_email: str, nonce: str, *, home: str,
    order_id: str | None, order: dict[str, Any] | None = None,
    booking: dict[str, Any] | None = None, tz: ZoneInfo | None = None,
    form_token: str | None = None, message: str | None = None,
) -> str:  # fmt: skip
    """The parent's manage pages (sidecar/manage_booking.py): `list` (the order's bookings
    and what each may do), `confirm_cancel`, `choose_swap` (forms posting back with
    `form_token`), `done` and `refused` (with `message`), `forged` and `expired` links."""
    shown = [_manage_booking(b, home, tz) for b in order["bookings"]] if order and tz else []
    return _PAGES.get_template("manage.html.j2").render(
        **_common(base_url, support_email, nonce, order_id),
        state=state,
        home=home,
        name=((order or {}).get("customer_name") or "").split(" ")[0],
        bookings=shown,
        booking=_manage_booking(booking, home, tz) if booking and tz else None,
        form_token=form_token,
        message=message,
        tz_label=_tz_label(tz) if tz else "",
    )

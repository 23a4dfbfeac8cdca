"""Staff add a booking taken by phone, and repair an order paid without a usable cart.

- `POST /api/bookings`: `{"cart": <a checkout body>, "payment": {"method", "amount",
  "reference"}, "by", "request_id", "hold_hours"}`. A manual order (cash, voucher, a free
  place, or `credit` kept on another order, `from_order`) is booked and confirmed like a
  paid order; a `checkout_link` holds the places for
  `hold_hours` (1..24, Stripe's longest Checkout Session) and emails the parent a link to
  pay. 201 with the order; 200 with the same order for the same `request_id` again;
  422 listing every problem with its path (the cart's as checkout's, under `cart.`);
  409 when a place is gone.
- `POST /api/orders/{order_id}/repair`: `{"cart": <a checkout body>, "by"}`: 200 repaired
  and its steps running; 409 when the order is not one to repair (already repaired, too);
  422 for a cart with problems or of another amount than was paid.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import clock
from core.cart import Cart, InvalidCart
from core.cart_rules import validate_checkout
from core.checkout import hold_expiry, hold_requests
from core.validation import MISSING, Problem, Problems, describe
from core.vocabulary import STAFF_BOOKING_METHODS
from core.waitlist import pay_link
from fulfilment import staff_bookings
from sidecar.staff_api import MAX_NAME, json_body, staff_only
from sidecar.staff_identity import acting_name
from store import orders

BODY_KEYS = ("cart", "payment", "by", "request_id", "hold_hours")
PAYMENT_KEYS = ("method", "amount", "reference", "from_order")
REPAIR_KEYS = ("cart", "by")
MAX_AMOUNT = 10_000_000  # cents: $100,000, far above any order
MAX_HOLD_HOURS = 24  # a Stripe Checkout Session lives at most 24 hours


def _invalid(problems: list[Problem]) -> JSONResponse:
    return JSONResponse(
        {"error": "invalid_booking", "problems": [p.as_dict() for p in problems]},
        status_code=422,
    )


def _cart(value: Any, problems: Problems, now: datetime, request: Request) -> Cart | None:
    """The `cart` of a staff body, validated as a checkout's; its problems under `cart.`."""
    if value is MISSING:
        problems.add("cart", "missing (required)")
        return None
    catalog = request.app.state.catalog
    try:
        return validate_checkout(value, catalog, now.astimezone(catalog.tz).date())
    except InvalidCart as exc:
        for problem in exc.problems:
            problems.add(f"cart.{problem.path}" if problem.path else "cart", problem.message)
        return None


def _by(value: Any, problems: Problems) -> str | None:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        problems.add("by", f"must name who is acting (1..{MAX_NAME} characters)")
        return None
    return value.strip()


def _text(value: Any, path: str, problems: Problems, limit: int) -> str | None:
    if value is None or value is MISSING:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        problems.add(path, f"must be text of 1..{limit} characters, got {describe(value)}")
        return None
    return value.strip()


def _payment(
    value: Any, problems: Problems
) -> tuple[str, int | None, str | None, str | None] | None:
    """(method, amount, reference, from_order) of a staff booking's `payment`."""
    if value is MISSING:
        problems.add("payment", "missing (required)")
        return None
    if not isinstance(value, dict):
        problems.add("payment", f"expected an object with method and amount, got {describe(value)}")
        return None
    problems.reject_unknown_keys(value, PAYMENT_KEYS, "payment")
    method = value.get("method", MISSING)
    if method not in STAFF_BOOKING_METHODS:
        got = "missing (required)" if method is MISSING else f"got {describe(method)}"
        problems.add("payment.method", f"must be one of {', '.join(STAFF_BOOKING_METHODS)}; {got}")
        method = None
    amount = value.get("amount", MISSING)
    if method in ("cash", "voucher"):
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_AMOUNT:
            problems.add(
                "payment.amount",
                f"the cents taken, a whole number 0..{MAX_AMOUNT}; got "
                + ("nothing" if amount is MISSING else describe(amount)),
            )
            amount = None
    elif amount is not MISSING and method is not None:
        problems.add("payment.amount", f"not taken for {method}: the amount is the cart's")
    reference = _text(value.get("reference"), "payment.reference", problems, 200)
    from_order = _text(value.get("from_order"), "payment.from_order", problems, 100)
    if method == "credit" and from_order is None and "payment.from_order" not in {
        p.path for p in problems.found
    }:  # fmt: skip
        problems.add("payment.from_order", "the order whose credit pays (required for credit)")
    elif method not in (None, "credit") and from_order is not None:
        problems.add("payment.from_order", f"only for credit, not for {method}")
    if method is None:
        return None
    return method, amount if isinstance(amount, int) else None, reference, from_order


async def add_booking(request: Request) -> Response:
    body = await json_body(request)
    now = clock.now()
    problems = Problems()
    problems.reject_unknown_keys(body, BODY_KEYS, "")
    cart = _cart(body.get("cart", MISSING), problems, now, request)
    payment = _payment(body.get("payment", MISSING), problems)
    # A signed-in member acts in their own name; the ADMIN_TOKEN names who in "by".
    by = acting_name(request, None) or _by(body.get("by"), problems)
    request_key = _text(body.get("request_id"), "request_id", problems, 100)
    hold_hours = body.get("hold_hours", MAX_HOLD_HOURS)
    if (
        isinstance(hold_hours, bool)
        or not isinstance(hold_hours, int)
        or not (1 <= hold_hours <= MAX_HOLD_HOURS)
    ):
        problems.add("hold_hours", f"a whole number of hours, 1..{MAX_HOLD_HOURS}")
    if payment is not None and payment[0] == "credit" and request_key is None:
        problems.add("request_id", "required with credit, so that a double submit spends once")
    if problems.found:
        return _invalid(problems.found)
    assert cart is not None and payment is not None and by is not None
    method, amount, reference, from_order = payment
    catalog = request.app.state.catalog
    if method == "checkout_link":
        expires_at, amount = now + timedelta(hours=hold_hours), cart.amount_total
    elif method == "credit":  # the cart's price, drawn from the other order's credit
        expires_at, amount = hold_expiry(now), cart.amount_total
    else:
        expires_at, amount = hold_expiry(now), amount or 0
    utc = now.astimezone(UTC).replace(tzinfo=None)
    order = orders.NewOrder(
        orders.new_id("ord"), cart, tuple(hold_requests(cart, catalog)), utc,
        expires_at.astimezone(UTC).replace(tzinfo=None),
    )  # fmt: skip
    booking = staff_bookings.StaffBooking(
        order, method, amount, reference, request_key, by, from_order
    )
    booked = await request.app.state.database.awrite(staff_bookings.book, booking)
    if booked.invalid:  # the credit: not there, not enough, another currency
        return JSONResponse({"error": "invalid_booking", "problems": booked.invalid}, 422)
    if booked.problems:
        return JSONResponse({"error": "unavailable", "problems": booked.problems}, status_code=409)
    answer: dict[str, Any] = {
        "order_id": booked.order_id, "method": method, "created": booked.created,
    }  # fmt: skip
    if method == "credit":
        answer["credit_left"] = booked.credit_left
    if booked.created and method == "checkout_link":
        base = request.app.state.settings.public_base_url
        answer["pay_url"] = pay_link(base, booked.order_id)
        answer["expires_at"] = expires_at.isoformat()
    return JSONResponse(answer, status_code=201 if booked.created else 200)


async def repair_order(request: Request) -> Response:
    body = await json_body(request)
    now = clock.now()
    problems = Problems()
    problems.reject_unknown_keys(body, REPAIR_KEYS, "")
    cart = _cart(body.get("cart", MISSING), problems, now, request)
    # A signed-in member acts in their own name; the ADMIN_TOKEN names who in "by".
    by = acting_name(request, None) or _by(body.get("by"), problems)
    if problems.found:
        return _invalid(problems.found)
    order_id = request.path_params["order_id"]
    done = await request.app.state.database.awrite(
        staff_bookings.repair, order_id, cart, by, now.astimezone(UTC).replace(tzinfo=None)
    )
    if done.outcome == "not_found":
        return JSONResponse({"error": "not_found", "message": done.message}, status_code=404)
    if done.outcome == "not_repairable":
        return JSONResponse({"error": "not_repairable", "message": done.message}, status_code=409)
    if done.outcome == "amount_differs":
        return _invalid([Problem("cart.items", done.message)])
    return JSONResponse(
        {"order_id": order_id, "repaired": True, "steps_resumed": done.steps, "by": by}
    )


routes = [
    Route("/api/bookings", staff_only(add_booking), methods=["POST"]),
    Route("/api/orders/{order_id}/repair", staff_only(repair_order), methods=["POST"]),
]

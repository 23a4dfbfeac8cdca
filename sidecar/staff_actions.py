"""Staff acting on orders, bookings and events (docs/http-api.md, Staff actions):

- `POST /api/orders/{order_id}/refund`: a refund by item or of the whole order through
  Stripe's Refunds API, idempotent per request; the `charge.refunded` it causes cancels the
  items' bookings (fulfilment/refunds.py);
- `POST /api/orders/{order_id}/end-subscription`: an Ignite subscription ended now or at
  its period's end, at Stripe; its `customer.subscription.*` events do the rest;
- `POST /api/bookings/{booking_id}/cancel` and `/move`, `POST /api/events/{event_id}/capacity`:
  done in the single writer (fulfilment/staff_actions.py);
- `GET /api/actions`: the audit trail.

Bodies are checked like a cart (core/staff_requests.py): 422 with every problem and its path.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from typing import Any

import stripe
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.clock import utcnow
from core.payments import dollars
from core.staff_requests import (
    EndSubscriptionRequest,
    InvalidRequest,
    RefundRequest,
    parse_capacity,
    parse_end_subscription,
    parse_move,
    parse_reason,
    parse_refund,
)
from fulfilment import staff_actions as actions
from sidecar.staff_api import (
    BadRequest,
    admin_only,
    json_body,
    jsonable,
    not_found,
    paging,
    staff_only,
    text,
)
from sidecar.staff_identity import actor
from store import order_views, staff_actions, staff_refunds, subscription_endings

log = logging.getLogger(__name__)

MAX_IDEMPOTENCY_KEY = 200


def _invalid(exc: InvalidRequest) -> JSONResponse:
    return JSONResponse(exc.as_dict(), status_code=422)


def _answer(outcome: actions.Outcome) -> JSONResponse:
    if outcome.status == 200:
        return JSONResponse(
            jsonable({"done": True, "already": outcome.already, "message": outcome.message,
                      **outcome.details})
        )  # fmt: skip
    body: dict[str, Any] = {"error": {404: "not_found", 409: "conflict"}.get(
        outcome.status, "invalid_request"), "message": outcome.message}  # fmt: skip
    if outcome.problems:
        body["problems"] = outcome.problems
    return JSONResponse(body, status_code=outcome.status)


def _client_key(request: Request) -> str | None:
    """The caller's Idempotency-Key: the same key, the same action, however often sent."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise BadRequest(
            f"Idempotency-Key must be 1..{MAX_IDEMPOTENCY_KEY} printable characters",
            "invalid_request",
        )
    return key


def _unavailable(message: str) -> dict[str, str]:
    return {"error": "payment_unavailable", "message": message}


def _stripe_unavailable(message: str) -> JSONResponse:
    return JSONResponse(_unavailable(message), status_code=503, headers={"Retry-After": "30"})


def _reachable(exc: Exception) -> bool:
    """Whether Stripe answered and refused (4xx), as against being down or failing."""
    status = getattr(exc, "http_status", None)
    return isinstance(exc, stripe.StripeError) and status is not None and 400 <= status < 500 and (
        status not in (409, 429)
    )  # fmt: skip


# --- refund --------------------------------------------------------------------------------


async def refund_order(request: Request) -> Response:
    database = request.app.state.database
    order_id = await database.aread(order_views.find_order_id, request.path_params["order_id"])
    if order_id is None:
        return not_found("no such order")
    try:
        wanted = parse_refund(await json_body(request))
    except InvalidRequest as exc:
        return _invalid(exc)
    status, body = await ask_refund(
        request.app, order_id, wanted, actor(request), _client_key(request)
    )
    if status == 404:
        return not_found(body["message"])
    headers = {"Retry-After": "30"} if status == 503 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def ask_refund(
    app: Any, order_id: str, wanted: RefundRequest, who: str, client_key: str | None
) -> tuple[int, dict[str, Any]]:
    """A refund through Stripe's Refunds API, as staff and parents ask for it (also
    sidecar/manage_booking.py): its status and JSON body. The `charge.refunded` it causes
    cancels the items' bookings."""
    database = app.state.database
    # The Stripe idempotency key: from the caller's key, or from what is refunded, so that a
    # double click (the same items, the same amount) asks Stripe once.
    what = "|".join([order_id, client_key or "", ",".join(sorted(wanted.items)),
                     str(wanted.amount or ""), wanted.invoice or ""])  # fmt: skip
    key = "tt-refund-" + hashlib.sha256(what.encode()).hexdigest()[:40]
    client: stripe.StripeClient | None = app.state.stripe
    ending = wanted.end_subscription
    if ending and await database.aread(actions.subscription_of, order_id) is None:
        problem = {"path": "end_subscription", "message": "this order has no subscription"}
        return 422, {"error": "invalid_request", "problems": [problem]}
    invoice = None
    found = await database.aread(
        staff_refunds.invoice_to_refund, order_id, wanted.items, wanted.invoice, utcnow()
    )
    if found is not None:  # an Ignite order: refunded from the invoice that charged the items
        if "message" in found:
            return 409, {"error": "not_refundable", "message": found["message"]}
        if "problems" in found:
            return 422, {"error": "invalid_request", "problems": found["problems"]}
        if client is None:
            return 503, _unavailable("refunds need Stripe (STRIPE_SECRET_KEY is not set)")
        try:
            paid = await asyncio.to_thread(invoice_payment, client, found["invoice_id"])
        except Exception as exc:
            log.error("payment of invoice %s: %s", found["invoice_id"], exc)
            if _reachable(exc):
                return 409, {"error": "refund_refused", "message": f"Stripe refused: {exc}"}
            return 503, _unavailable("Stripe could not be reached; nothing was refunded or changed")
        if paid is None:
            return 409, {"error": "not_refundable", "message": f"Stripe shows no paid payment"
                         f" of invoice {found['invoice_id']} to refund"}  # fmt: skip
        invoice = staff_refunds.InvoicePayment(found["invoice_id"], *paid)
    begun = await database.awrite(
        staff_refunds.begin, order_id, wanted.items, wanted.amount, wanted.reason, who, key,
        utcnow(), invoice,
    )  # fmt: skip
    if begun.outcome == "not_found":
        return 404, {"error": "not_found", "message": "no such order"}
    if begun.outcome == "not_refundable":
        return 409, {"error": "not_refundable", "message": begun.message}
    if begun.outcome == "problems":
        return 422, {"error": "invalid_request", "problems": begun.problems}
    if begun.outcome == "too_much":
        return 422, {
            "error": "refund_too_large", "refundable": begun.refundable,
            "message": f"at most {dollars(begun.refundable, begun.currency)} of this"
            f" {'order' if invoice is None else 'invoice (' + invoice.invoice_id + ')'} is"
            f" refundable; asked for {dollars(begun.amount, begun.currency)}",
            "problems": [{"path": "amount" if wanted.amount else "items",
                          "message": f"more than the {dollars(begun.refundable, begun.currency)}"
                          " refundable"}],
        }  # fmt: skip
    if client is None:
        if begun.fresh:
            await database.awrite(staff_refunds.abandon, key)
        return 503, _unavailable("refunds need Stripe (STRIPE_SECRET_KEY is not set)")
    params = {
        "payment_intent": begun.payment_intent_id,
        "amount": begun.amount,
        "reason": "requested_by_customer",
        "metadata": {"order_id": order_id, "tt_refund_key": key,
                     "tt_items": ",".join(begun.items)[:500]},
    }  # fmt: skip
    if invoice is not None:
        params["metadata"]["tt_invoice"] = invoice.invoice_id
    try:
        refund = await asyncio.to_thread(client.v1.refunds.create, params, {"idempotency_key": key})
    except Exception as exc:
        log.error("refund of %s: %s", order_id, exc)
        if not begun.fresh:  # the same refund asked again while the first is under way
            return 409, {"error": "refund_in_progress", "message": "this refund is already"
                         " being made; refresh the order in a moment"}  # fmt: skip
        await database.awrite(staff_refunds.abandon, key)
        if _reachable(exc):
            return 409, {"error": "refund_refused", "message": f"Stripe refused the refund:"
                         f" {exc.user_message or exc}"}  # type: ignore[attr-defined]  # fmt: skip
        return 503, _unavailable("Stripe could not be reached; nothing was refunded or changed")
    details = {
        "refund_id": refund.id,
        "amount": begun.amount,
        "amount_text": dollars(begun.amount, begun.currency),
        "items": list(begun.items),
    }
    if invoice is not None:
        details["invoice_id"] = invoice.invoice_id
    await database.awrite(
        actions.record_refund, key, refund.id, order_id, who, wanted.reason, details, utcnow()
    )
    answer = {
        "done": True, "already": begun.refund_id is not None, "order_id": order_id, **details,
        "message": f"{details['amount_text']} refunded; "
        + (_invoice_effect(found, begun.items) if found else "the bookings of the refunded"
           " items are cancelled when Stripe confirms it"),
    }  # fmt: skip
    if wanted.end_subscription:  # in the same action: the refund is made, whatever this says
        status, ended = await ask_end_subscription(
            app, order_id, wanted.end_subscription, who, wanted.reason
        )
        answer["subscription"] = ended
        answer["message"] += "; " + (
            ended["message"] if status == 200
            else f"the subscription was NOT ended ({ended['message']}): end it again"
        )  # fmt: skip
    return 200, answer


def _invoice_effect(found: dict[str, Any], items: tuple[str, ...]) -> str:
    """What an Ignite invoice's refund will cancel, in words."""
    invoice = f"from invoice {found['invoice_id']}"
    others = len(items) - found["enrolments"]
    if not items:
        return f"{invoice}, money only: no booking is cancelled"
    if not found["enrolments"]:
        return f"{invoice}; the refunded items' bookings are cancelled when Stripe confirms it"
    to_come = found["classes_to_come"]
    then = "; the other items' bookings are cancelled when Stripe confirms it" if others else ""
    if not to_come:
        return (f"{invoice}, money only for the enrolment: its period is over, no class it"
                f" paid for is still to come, so none is cancelled{then}")  # fmt: skip
    classes = f"{to_come} class{'es' if to_come > 1 else ''}"
    and_others = " and the other items' bookings" if others else ""
    return (f"{invoice}; the {classes} it paid for still to come{and_others} are cancelled"
            " when Stripe confirms it")  # fmt: skip


def _cancelled(client: stripe.StripeClient, subscription_id: str) -> bool:
    """Whether Stripe shows the subscription cancelled already (one read; False if it
    cannot say)."""
    try:
        return client.v1.subscriptions.retrieve(subscription_id).status == "canceled"
    except Exception as exc:
        log.error("reading subscription %s: %s", subscription_id, exc)
        return False


def invoice_payment(client: stripe.StripeClient, invoice_id: str) -> tuple[str, int] | None:
    """The PaymentIntent and amount of a paid invoice's payment (Stripe's invoice
    payments: current API versions no longer name it on the invoice)."""
    listed = client.v1.invoice_payments.list({"invoice": invoice_id, "status": "paid"})
    for paid in listed.data:
        payment = paid.payment
        intent = getattr(payment, "payment_intent", None)
        if getattr(payment, "type", None) == "payment_intent" and intent:
            return (intent if isinstance(intent, str) else intent.id), paid.amount_paid or 0
    return None


# --- Ignite: end the subscription ----------------------------------------------------------


async def end_subscription(request: Request) -> Response:
    database = request.app.state.database
    order_id = await database.aread(order_views.find_order_id, request.path_params["order_id"])
    if order_id is None:
        return not_found("no such order")
    try:
        wanted = parse_end_subscription(await json_body(request))
    except InvalidRequest as exc:
        return _invalid(exc)
    status, body = await ask_end_subscription(
        request.app, order_id, wanted.when, actor(request), wanted.reason
    )
    headers = {"Retry-After": "30"} if status == 503 else None
    return JSONResponse(jsonable(body), status_code=status, headers=headers)


async def ask_end_subscription(
    app: Any, order_id: str, when: str, who: str, reason: str
) -> tuple[int, dict[str, Any]]:
    """An order's subscription ended now or at its period's end, at Stripe, once per
    subscription and ending (also with a refund, `ask_refund`): status and JSON body."""
    database = app.state.database
    subscription_id = await database.aread(actions.subscription_of, order_id)
    if subscription_id is None:
        return 409, {"error": "no_subscription", "message": "this order has no Stripe"
                     " subscription"}  # fmt: skip
    # In this web process a double click waits for the first request, then finds it done;
    # across sidecars the subscription's row in the store lets one request at a time ask
    # Stripe (store/subscription_endings.py), and the other is told so (409).
    async with _ENDING.setdefault(subscription_id, asyncio.Lock()):
        return await _end_subscription(app, order_id, subscription_id, when, who, reason)


_ENDING: dict[str, asyncio.Lock] = {}


def _ended_before(order_id: str, done: dict[str, Any]) -> dict[str, Any]:
    return {"done": True, "already": True, "order_id": order_id, **done["details"],
            "message": "the subscription's end was already asked of Stripe"}  # fmt: skip


async def _end_subscription(
    app: Any, order_id: str, subscription_id: str, when: str, who: str, reason: str
) -> tuple[int, dict[str, Any]]:
    database = app.state.database
    request_key = f"end_subscription:{subscription_id}:{when}"
    done = await database.aread(staff_actions.find, request_key)
    if done is not None:  # a double click: Stripe was asked once
        return 200, _ended_before(order_id, done)
    client: stripe.StripeClient | None = app.state.stripe
    if client is None:
        return 503, _unavailable("ending a subscription needs Stripe (STRIPE_SECRET_KEY)")
    claimed = await database.awrite(
        subscription_endings.claim, subscription_id, request_key, who, utcnow()
    )
    if claimed.outcome == "done":  # another sidecar made this ending meanwhile
        done = await database.aread(staff_actions.find, request_key)
        if done is not None:
            return 200, _ended_before(order_id, done)
    if claimed.outcome != "claimed":
        ending = claimed.request_key.rsplit(":", 1)[-1].replace("_", " ")
        return 409, {"error": "ending_in_progress", "message": f"{claimed.actor} is ending"
                     f" this subscription ({ending}) since {claimed.claimed_at:%H:%M:%S} UTC;"
                     " refresh the order in a moment"}  # fmt: skip
    wanted = EndSubscriptionRequest(when, reason)
    try:
        if wanted.when == "now":
            await asyncio.to_thread(client.v1.subscriptions.cancel, subscription_id)
        else:
            await asyncio.to_thread(
                client.v1.subscriptions.update, subscription_id, {"cancel_at_period_end": True},
                {"idempotency_key": f"tt-end-{subscription_id}-period-end"},
            )  # fmt: skip
    except Exception as exc:
        log.error("ending subscription %s: %s", subscription_id, exc)
        # Refused because it is cancelled already (by a sidecar that died before recording
        # it, or in Stripe's Dashboard): then the ending stands, and is recorded as done.
        if not (_reachable(exc) and await asyncio.to_thread(_cancelled, client, subscription_id)):
            await database.awrite(subscription_endings.release, subscription_id, claimed.claim_id)
            if _reachable(exc):
                return 409, {"error": "refused", "message": f"Stripe refused:"
                             f" {exc.user_message or exc}"}  # type: ignore[attr-defined]  # fmt: skip
            return 503, _unavailable("Stripe could not be reached; the subscription is unchanged")
        wanted, cancelled_before = EndSubscriptionRequest("now", wanted.reason), True
    else:
        cancelled_before = False
    details = {"subscription_id": subscription_id, "when": wanted.when}
    await database.awrite(
        actions.record_ending, subscription_id, claimed.claim_id, request_key, order_id, who,
        wanted.reason, details, utcnow(),
    )  # fmt: skip
    if cancelled_before:
        message = (
            "Stripe shows the subscription cancelled already: recorded as ended; the"
            " classes after today are released when Stripe's event of it is applied"
        )
    elif wanted.when == "now":
        message = (
            "the subscription is ended; the classes after today are released when Stripe confirms"
        )
    else:
        message = ("the subscription ends at the end of the paid period; its later classes"
                   " are released then")  # fmt: skip
    return 200, {"done": True, "already": False, "order_id": order_id, **details,
                 "message": message}  # fmt: skip


# --- cancel, move, capacity ----------------------------------------------------------------


async def cancel_booking(request: Request) -> Response:
    try:
        reason = parse_reason(await json_body(request))
    except InvalidRequest as exc:
        return _invalid(exc)
    app = request.app
    outcome = await app.state.database.awrite(
        actions.cancel_booking, request.path_params["booking_id"], reason, actor(request),
        str(app.state.settings.catalog_path), utcnow(),
    )  # fmt: skip
    return _answer(outcome)


async def move_booking(request: Request) -> Response:
    try:
        move = parse_move(await json_body(request))
    except InvalidRequest as exc:
        return _invalid(exc)
    app = request.app
    outcome = await app.state.database.awrite(
        actions.move_booking, request.path_params["booking_id"], move, actor(request),
        _client_key(request), str(app.state.settings.catalog_path), utcnow(),
    )  # fmt: skip
    return _answer(outcome)


async def set_capacity(request: Request) -> Response:
    try:
        wanted = parse_capacity(await json_body(request))
    except InvalidRequest as exc:
        return _invalid(exc)
    key = _client_key(request) or f"capacity:{secrets.token_urlsafe(12)}"
    outcome = await request.app.state.database.awrite(
        actions.set_capacity, request.path_params["event_id"], wanted.capacity, wanted.reason,
        actor(request), key, utcnow(),
    )  # fmt: skip
    return _answer(outcome)


async def list_actions(request: Request) -> Response:
    limit, offset = paging(request)
    order_id = text(request, "order_id")
    rows, total = await request.app.state.database.aread(
        staff_actions.listed, order_id, limit, offset
    )
    return JSONResponse(
        jsonable({"total": total, "limit": limit, "offset": offset, "actions": rows})
    )


routes = [
    Route("/api/orders/{order_id}/refund", staff_only(refund_order), methods=["POST"]),
    Route(
        "/api/orders/{order_id}/end-subscription", staff_only(end_subscription), methods=["POST"]
    ),
    Route("/api/bookings/{booking_id}/cancel", staff_only(cancel_booking), methods=["POST"]),
    Route("/api/bookings/{booking_id}/move", staff_only(move_booking), methods=["POST"]),
    # Capacity is an admin's (docs/security.md, Staff roles).
    Route("/api/events/{event_id}/capacity", admin_only(set_capacity), methods=["POST"]),
    Route("/api/actions", staff_only(list_actions)),
]

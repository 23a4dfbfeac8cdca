"""`GET /openapi.json`: the HTTP API as an OpenAPI 3.1 document (docs/http-api.md in prose).

Built by hand, as a dict, from the shapes the handlers really answer: the routes are
Starlette's and carry no types to generate it from. `tests/sidecar/test_openapi.py` keeps it
in step with the app's routes. Public: it describes shapes, never settings or secrets.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from core.vocabulary import (
    FULFILLMENT_STATUSES,
    INBOX_STATUSES,
    INBOX_VIEWS,
    KINDS,
    PAYMENT_STATUSES,
    STAFF_BOOKING_METHODS,
    STEP_STATUSES,
    STEPS,
)

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: tuple[str, ...] = (), **properties: Schema) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


STRING, INTEGER, BOOLEAN = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
NUMBER, DATE = {"type": "number"}, {"type": "string", "format": "date"}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_STRING = {"type": ["string", "null"]}
ANY_OBJECT = {"type": "object", "additionalProperties": True}

SCHEMAS: dict[str, Schema] = {
    "Error": _object(("error",), error=STRING, message=STRING),
    "Problem": _object(("path", "message"), path=STRING, message=STRING),
    "Problems": _object(
        ("error", "problems"), error=STRING, problems={"type": "array", "items": _ref("Problem")}
    ),
    "WebhookReceived": _object(("received",), received={"const": True}, duplicate=BOOLEAN),
    "Student": _object(
        ("name",),
        name=STRING,
        age=INTEGER,
        date_of_birth=DATE,
        notes=NULLABLE_STRING,
        emergency_contacts={
            "type": ["array", "null"],
            "maxItems": 3,
            "items": _ref("EmergencyContact"),
        },
        authorised_collectors={
            "type": ["array", "null"],
            "maxItems": 6,
            "items": _ref("Collector"),
        },
    ),
    "EmergencyContact": _object(("name", "phone"), name=STRING, phone=STRING),
    "Collector": _object(("name",), name=STRING, phone=NULLABLE_STRING),
    "CartItem": _object(
        ("product_id", "student"),
        product_id=STRING,
        date=DATE,
        session={"enum": ["day", "all_day"]},
        start_time={"type": "string", "pattern": "^[0-9]{2}:[0-9]{2}$"},
        student=_ref("Student"),
    ),
    "CheckoutRequest": {
        **_object(
            ("customer", "items"),
            customer=_object(("email", "name"), email=STRING, name=STRING, phone=NULLABLE_STRING),
            items={"type": "array", "minItems": 1, "maxItems": 20, "items": _ref("CartItem")},
        ),
        "additionalProperties": False,
    },
    "CheckoutCreated": _object(
        ("order_id", "checkout_url", "expires_at"),
        order_id=STRING,
        checkout_url=STRING,
        expires_at=TIME,
    ),
    "TooManyHolds": _object(
        ("error", "message", "retry_after"),
        error={"const": "too_many_holds"},
        message=STRING,
        retry_after={"type": ["integer", "null"]},
    ),
    "OrderStatus": _object(
        ("order_id", "payment_status", "fulfillment_status", "steps", "bookings", "calendar_url"),
        order_id=STRING,
        payment_status={"enum": list(PAYMENT_STATUSES)},
        fulfillment_status={"enum": list(FULFILLMENT_STATUSES)},
        steps={
            "type": "array",
            "items": _object(
                ("name", "status", "attempts", "reason"),
                name={"enum": list(STEPS)},
                status={"enum": list(STEP_STATUSES)},
                attempts=INTEGER,
                reason={"enum": ["step_failed", "step_retrying", None]},
            ),
        },
        bookings={
            "type": "array",
            "items": _object(
                ("booking_id", "student", "product_id", "status", "event"),
                booking_id=STRING,
                student=STRING,
                product_id=STRING,
                status={"enum": ["confirmed", "conflict", "cancelled"]},
                event=_object(
                    ("event_id", "title", "start", "end", "uid"),
                    event_id=STRING,
                    title=STRING,
                    start=TIME,
                    end=TIME,
                    uid=STRING,
                ),
            ),
        },
        calendar_url=STRING,
    ),
    "SupportRequest": _object(
        ("order_id", "email", "category", "message"),
        order_id=STRING,
        email=STRING,
        category={
            "enum": [
                "wrong_date",
                "child_details",
                "cancel_or_refund",
                "payment",
                "calendar_invite",
                "accessibility_or_medical",
                "other",
            ]
        },
        message={"type": "string", "minLength": 1, "maxLength": 4000},
        name={"type": "string", "maxLength": 60},
    ),
    "TicketCreated": _object(
        ("ticket_id", "status", "message"),
        ticket_id=STRING,
        status={"const": "open"},
        message=STRING,
    ),
    "Readiness": _object(
        ("status", "checks"),
        status={"enum": ["ready", "not_ready"]},
        checks={
            "type": "object",
            "additionalProperties": _object(
                ("ok", "reason"), ok=BOOLEAN, reason=STRING, detail=STRING
            ),
        },
        # staff only: the sidecar's own summary and reminder runs (sidecar/scheduled_runs.py)
        schedule=ANY_OBJECT,
    ),
    "Page": _object(("total", "limit", "offset"), total=INTEGER, limit=INTEGER, offset=INTEGER),
    "Action": {**_object(("message",), message=STRING), "additionalProperties": True},
    "SqlRequest": _object(("sql",), sql=STRING, limit={"type": "integer", "minimum": 1}),
    "SqlResult": _object(
        ("columns", "rows", "truncated", "elapsed_ms", "data_as_of"),
        columns={"type": "array", "items": STRING},
        rows={"type": "array", "items": {"type": "array"}},
        truncated=BOOLEAN,
        elapsed_ms=NUMBER,
        data_as_of=TIME,
    ),
}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> Schema:
    return _json(_ref("Error"), description)


def _param(name: str, where: str = "query", schema: Schema = STRING) -> Schema:
    return {"name": name, "in": where, "required": where == "path", "schema": schema}


def _path_params(path: str) -> list[Schema]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [_param(name, "path") for name in names]


PAGING = (_param("limit", schema=INTEGER), _param("offset", schema=INTEGER))
HTML = {"description": "An HTML page", "content": {"text/html": {"schema": STRING}}}
NOT_FOUND = _error("No such id")


def _operation(
    summary: str,
    tag: str,
    responses: dict[str, Schema],
    query: tuple[Schema, ...] = (),
    body: Schema | None = None,
) -> Schema:
    operation: Schema = {"summary": summary, "tags": [tag], "responses": responses}
    if query:
        operation["parameters"] = list(query)
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return operation


def _manage_pages() -> dict[tuple[str, str], Schema]:
    """A parent's "manage booking" pages (sidecar/manage_booking.py): HTML, a signed link."""
    refused = {"403": HTML, "404": HTML, "409": HTML, "410": HTML}

    def confirmed(summary: str, fields: tuple[str, ...]) -> Schema:
        return {
            **_operation(summary, "customer", {"200": HTML, "422": HTML, "503": HTML, **refused}),
            "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
                "schema": _object(fields, **dict.fromkeys(fields, STRING))}}},
        }  # fmt: skip

    return {
        ("GET", "/manage/{token}"): _operation(
            "The order's bookings and what a parent may do with each (signed link)",
            "customer",
            {"200": HTML, "403": HTML, "404": HTML, "410": HTML},
        ),
        ("GET", "/manage/{token}/cancel/{booking_id}"): _operation(
            "What cancelling a booking would give, and its confirm form",
            "customer",
            {"200": HTML, **refused},
        ),
        ("POST", "/manage/{token}/cancel/{booking_id}"): confirmed(
            "Cancel a booking: a refund or credit per the cancellation policy",
            ("form_token",),
        ),
        ("GET", "/manage/{token}/swap/{booking_id}"): _operation(
            "The camp's other days with a place free, and the swap form",
            "customer",
            {"200": HTML, **refused},
        ),
        ("POST", "/manage/{token}/swap/{booking_id}"): confirmed(
            "Swap a camp day to another day with a place free", ("form_token", "date")
        ),
    }


def _public() -> dict[tuple[str, str], Schema]:
    status = _operation(
        "Payment and fulfilment status of an order (also by cs_… or pi_… id)",
        "storefront",
        {"200": _json(_ref("OrderStatus"), "The order's status"), "404": NOT_FOUND},
    )
    page = {"200": HTML, "303": {"description": "On to the page for the order's state"},
            "404": HTML}  # fmt: skip
    return {
        ("POST", "/webhooks/stripe"): _operation(
            "Receive a Stripe event: verify, store, then acknowledge",
            "stripe",
            {
                "200": _json(_ref("WebhookReceived"), "Stored (or a redelivery: duplicate)"),
                "400": _error("invalid_signature or not_an_event; nothing stored"),
                "413": _error("too_large"),
                "503": _error("not_stored or store_unavailable; Stripe retries"),
            },
            body=ANY_OBJECT,
        ),
        ("POST", "/webhooks/sms"): {
            **_operation(
                "Receive a text a parent sent (Twilio): STOP opts the number out, START in",
                "sms",
                {
                    "200": {
                        "description": "TwiML, no reply",
                        "content": {"text/xml": {"schema": STRING}},
                    },
                    "400": _json(_ref("Problems"), "invalid_request: no usable From number"),
                    "403": _error("forbidden: SMS is off, or X-Twilio-Signature is wrong"),
                    "413": _error("too_large"),
                },
            ),
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": _object(("From", "Body"), From=STRING, Body=STRING)
                    }
                },
            },
        },
        ("POST", "/api/checkout"): _operation(
            "Validate a cart, hold its places and create a Stripe Checkout Session",
            "storefront",
            {
                "201": _json(_ref("CheckoutCreated"), "Send the parent to checkout_url"),
                "409": _json(_ref("Problems"), "unavailable: a place is gone"),
                "413": _error("too_large"),
                "422": _json(_ref("Problems"), "invalid_cart, every problem with its path"),
                "429": _json(_ref("TooManyHolds"), "A hold limit"),
                "503": _error("payment_unavailable or unavailable"),
            },
            body=_ref("CheckoutRequest"),
        ),
        ("GET", "/api/orders/{order_id}/status"): status,
        ("GET", "/orders/{order_id}/calendar.ics"): _operation(
            "The order's calendar file (RFC 5545)",
            "customer",
            {
                "200": {
                    "description": "text/calendar",
                    "content": {"text/calendar": {"schema": STRING}},
                },
                "404": NOT_FOUND,
            },
        ),
        ("GET", "/orders/{order_id}/processing"): _operation("Confirming page", "customer", page),
        ("GET", "/orders/{order_id}/success"): _operation("Bookings page", "customer", page),
        ("GET", "/orders/{order_id}/cancelled"): _operation("Cancel page", "customer", page),
        ("POST", "/api/support/booking-issue"): _operation(
            "Report a problem with a booking",
            "storefront",
            {
                "201": _json(_ref("TicketCreated"), "Stored; a reply email is queued"),
                "413": _error("too_large"),
                "422": _json(_ref("Problems"), "invalid_request"),
                "429": _error("too_many_requests; Retry-After"),
            },
            body=_ref("SupportRequest"),
        ),
        ("POST", "/orders/{order_id}/support"): {
            **_operation(
                "The success page's support form (no script): a page with the reference",
                "customer",
                {"201": HTML, "422": HTML, "429": HTML, "413": _error("too_large")},
            ),
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": _object(
                            ("category", "message", "email"),
                            category=STRING,
                            message=STRING,
                            name=STRING,
                            email=STRING,
                        )
                    }
                },
            },
        },
        ("GET", "/unsubscribe/{token}"): _operation(
            "A reminder email's unsubscribe page (changes nothing)",
            "customer",
            {"200": HTML, "404": HTML},
        ),
        ("POST", "/unsubscribe/{token}"): _operation(
            "One-click unsubscribe from reminders (RFC 8058)",
            "customer",
            {"200": HTML, "404": HTML},
        ),
        **_manage_pages(),
        ("GET", "/healthz"): _operation(
            "The process runs",
            "health",
            {"200": _json(_object(("status",), status={"const": "ok"}), "Alive")},
        ),
        ("GET", "/readyz"): _operation(
            "The sidecar can store and fulfil",
            "health",
            {"200": _json(_ref("Readiness"), "Ready"), "503": _json(_ref("Readiness"), "Not")},
        ),
        ("POST", "/api/login"): _operation(
            "Sign a member of staff in: a session token for the staff API",
            "staff",
            {
                "200": _json(
                    _object(
                        ("token", "name", "role", "expires_at"),
                        token=STRING,
                        name=STRING,
                        role=STRING,
                        expires_at=STRING,
                    ),
                    "Signed in",
                ),
                "401": _error("wrong_login"),
                "422": _json(_ref("Problems"), "invalid_body, every problem with its path"),
                "429": _error("too_many_attempts; Retry-After"),
            },
            body=_object(("name", "password"), name=STRING, password=STRING),
        ),
        ("GET", "/openapi.json"): _operation(
            "This document", "health", {"200": _json(ANY_OBJECT, "OpenAPI 3.1")}
        ),
    }


# Staff routes: (method, path): (summary, query parameters, body schema or None, 200 schema).
_LIST = _ref("Page")
STAFF: dict[tuple[str, str], tuple[str, tuple[Schema, ...], Schema | None, Schema]] = {
    ("GET", "/api/health"): ("Readiness with each check's detail", (), None, _ref("Readiness")),
    ("GET", "/api/kpis"): ("A business day's figures and now", (_param("date", schema=DATE),),
                           None, ANY_OBJECT),
    ("GET", "/api/orders"): ("Orders, newest first", (
        _param("q"), _param("payment_status", schema={"enum": list(PAYMENT_STATUSES)}),
        _param("fulfillment_status", schema={"enum": list(FULFILLMENT_STATUSES)}),
        _param("kind", schema={"enum": list(KINDS)}), _param("since", schema=DATE),
        _param("until", schema=DATE), *PAGING), None, _LIST),
    ("GET", "/api/orders/counts"): ("Orders in each payment and fulfilment status", (), None,
                                    ANY_OBJECT),
    ("GET", "/api/orders/{order_id}"): ("One order with its whole story", (), None, ANY_OBJECT),
    ("POST", "/api/orders/{order_id}/steps/{step}/retry"): ("Run a failed step again", (),
                                                            None, _ref("Action")),
    ("POST", "/api/orders/{order_id}/resend-confirmation"): ("Send the confirmation again", (),
                                                             None, _ref("Action")),
    ("GET", "/api/events"): ("Calendar events between two local days", (
        _param("start", schema=DATE), _param("end", schema=DATE),
        _param("kind", schema={"enum": list(KINDS)})), None, ANY_OBJECT),
    ("GET", "/api/events/{event_id}/roster"): ("An event and its children", (), None,
                                               ANY_OBJECT),
    ("GET", "/api/attendance"): ("A local day's events with each child's check-in state",
                                 (_param("date", schema=DATE),), None, ANY_OBJECT),
    ("POST", "/api/attendance/{booking_id}/check-in"): ("Check a child in (once)", (),
                                                        _object(by=STRING), ANY_OBJECT),
    ("POST", "/api/attendance/{booking_id}/check-out"): ("Check a child out to an adult", (),
        _object(("collected_by",), by=STRING, collected_by=STRING,
                override_reason=NULLABLE_STRING), ANY_OBJECT),
    ("POST", "/api/attendance/{booking_id}/undo"): ("Undo a mistaken check-in or check-out", (),
        _object(("action",), by=STRING, action={"enum": ["check_in", "check_out"]}),
        ANY_OBJECT),
    ("GET", "/api/catalog"): ("What staff can book by phone, from the catalog", (), None,
                              ANY_OBJECT),
    ("GET", "/api/camp-days/{product_id}/{date}/roster"): (
        "A camp day's children, both sessions", (), None, ANY_OBJECT),
    ("GET", "/api/trends/webhooks"): ("Webhook lag per day", (
        _param("days", schema={"type": "integer", "minimum": 1, "maximum": 366}),), None,
        ANY_OBJECT),
    ("GET", "/api/events/{event_id}/messages"): ("What staff sent the event's families", (),
                                                 None, ANY_OBJECT),
    ("POST", "/api/events/{event_id}/messages"): ("Message every family booked on the event", (),
        _object(("message_id", "by"), message_id=STRING, template=STRING, subject=STRING,
                body=STRING, note=STRING,
                channels={"type": "array", "items": {"enum": ["email", "sms"]}},
                by=STRING), _ref("Action")),
    ("GET", "/api/inbox"): ("Inbox events, newest first",
                            (_param("status", schema={"enum": list(INBOX_STATUSES + INBOX_VIEWS)}),
                             _param("type"), *PAGING), None, _LIST),
    ("GET", "/api/inbox/counts"): ("Inbox events in each status", (), None, ANY_OBJECT),
    ("GET", "/api/inbox/views"): ("Inbox events waiting, and not ours", (), None, ANY_OBJECT),
    ("GET", "/api/inbox/{event_id}"): ("One event, with its raw payload", (), None, ANY_OBJECT),
    ("POST", "/api/inbox/{event_id}/reprocess"): ("Apply a failed or ignored event again", (),
                                                  None, ANY_OBJECT),
    ("POST", "/api/inbox/import"): ("Store events from Stripe's API that the inbox lacks", (),
                                    _object(("events",), events={"type": "array"}),
                                    ANY_OBJECT),
    ("GET", "/api/errors"): ("The error log", (
        _param("order_id"), _param("category"), _param("severity"),
        _param("resolved", schema={"enum": ["true", "false"]}),
        _param("order", schema={"enum": ["oldest", "newest"]}), *PAGING), None, _LIST),
    ("POST", "/api/errors/{error_id}/resolve"): ("Mark an entry resolved", (),
                                                 _object(("by",), by=STRING), _ref("Action")),
    ("POST", "/api/errors/bulk"): ("Resolve or retry up to 500 entries", (), _object(
        ("action", "error_ids", "by"), action={"enum": ["resolve", "retry"]},
        error_ids={"type": "array", "items": STRING, "maxItems": 500}, by=STRING),
        _ref("Action")),
    ("GET", "/api/outbox"): ("Emails, Slack and text messages, newest first", (
        _param("status"), _param("channel"), _param("order_id"), *PAGING), None, _LIST),
    ("POST", "/api/outbox/{message_id}/retry"): ("Send a failed message again", (), None,
                                                 _ref("Action")),
    ("POST", "/api/reminders/run"): ("Queue the reminders due", (),
                                     _object(window_hours=NUMBER), _ref("Action")),
    ("GET", "/api/tickets"): ("Support tickets, newest first", (
        _param("status", schema={"enum": ["open", "in_progress", "resolved"]}), *PAGING),
        None, _LIST),
    ("GET", "/api/tickets/{ticket_id}"): ("One ticket", (), None, ANY_OBJECT),
    ("POST", "/api/tickets/{ticket_id}"): ("Change a ticket's status or note", (), _object(
        status={"enum": ["open", "in_progress", "resolved"]}, staff_note=STRING),
        _ref("Action")),
    ("POST", "/api/tickets/{ticket_id}/replies"): ("Email the parent a reply to the ticket", (),
        _object(("reply_id", "body", "by"), reply_id=STRING, body=STRING, close=BOOLEAN,
                by=STRING), _ref("Action")),
    ("GET", "/api/summaries"): ("Stored daily summaries", (
        _param("since", schema=DATE), _param("until", schema=DATE), *PAGING), None, _LIST),
    ("GET", "/api/summaries/{date}"): ("One day's summary", (), None, ANY_OBJECT),
    ("POST", "/api/summaries/run"): ("Compute, store and maybe post a day's summary", (),
                                     _object(date=DATE, post=BOOLEAN, force=BOOLEAN),
                                     _ref("Action")),
    ("GET", "/api/trends"): ("Revenue, bookings and fill per day",
                             (_param("days", schema=INTEGER),), None, ANY_OBJECT),
    ("POST", "/api/sql"): ("A read-only query, as the analysts may", (), _ref("SqlRequest"),
                           _ref("SqlResult")),
    ("POST", "/api/export"): ("A Parquet snapshot of the analyst tables", (), None, ANY_OBJECT),
    ("POST", "/api/bookings"): ("Add a booking taken by phone: a manual order or a Checkout link",
                                (), _object(("cart", "payment", "by"), cart=_ref("CheckoutRequest"),
                                   payment=_object(("method",), method={"enum": list(
                                       STAFF_BOOKING_METHODS)}, amount=INTEGER,
                                       reference=STRING, from_order=STRING),
                                   by=STRING, request_id=STRING, hold_hours=INTEGER),
                                ANY_OBJECT),
    ("POST", "/api/orders/{order_id}/repair"): ("Attach the cart an order was paid without", (),
                                                _object(("cart", "by"),
                                                        cart=_ref("CheckoutRequest"), by=STRING),
                                                ANY_OBJECT),
    ("GET", "/api/waitlist"): ("The events with families waiting, or one event's list",
                               (_param("event"),), None, ANY_OBJECT),
    ("POST", "/api/waitlist/reorder"): ("Put an event's waitlist in a new order", (),
                                        _object(("event", "entry_ids", "by"), event=STRING,
                                                entry_ids={"type": "array", "items": STRING},
                                                by=STRING), ANY_OBJECT),
    ("POST", "/api/waitlist/run"): ("Offer freed places to the next families now", (), None,
                                    ANY_OBJECT),
    ("POST", "/api/waitlist/{entry_id}/remove"): ("Take a family off the waitlist", (),
                                                  _object(("by",), by=STRING, reason=STRING),
                                                  ANY_OBJECT),
    # Staff actions (sidecar/staff_actions.py); 422 lists every problem with its path.
    ("POST", "/api/orders/{order_id}/refund"): ("Refund items or money through Stripe", (),
        _object(("reason",), items={"type": "array", "items": STRING}, amount=INTEGER,
                end_subscription={"enum": ["now", "period_end"]}, reason=STRING,
                invoice={"type": "string", "pattern": "^in_"}), ANY_OBJECT),
    ("POST", "/api/orders/{order_id}/end-subscription"): ("End an Ignite subscription", (),
        _object(("when", "reason"), when={"enum": ["now", "period_end"]}, reason=STRING),
        ANY_OBJECT),
    ("POST", "/api/bookings/{booking_id}/cancel"): ("Cancel without a refund (credit kept)",
        (), _object(("reason",), reason=STRING), ANY_OBJECT),
    ("POST", "/api/bookings/{booking_id}/move"): ("Move to another day, slot, room or class",
        (), _object(("date", "reason"), date=DATE, session=STRING, start_time=STRING,
                    room=STRING, reason=STRING), ANY_OBJECT),
    ("POST", "/api/events/{event_id}/capacity"): ("Override an event's capacity", (),
        _object(("capacity", "reason"), capacity=INTEGER, reason=STRING), ANY_OBJECT),
    ("GET", "/api/actions"): ("Staff actions, newest first", (_param("order_id"), *PAGING),
                              None, _LIST),
    # Staff sign-in and accounts (sidecar/staff_accounts_api.py); /api/login is public.
    ("POST", "/api/logout"): ("End this session", (), None, _ref("Action")),
    ("GET", "/api/me"): ("Who the token is", (), None, _object(
        ("name", "role"), name=STRING, role=STRING, machine=BOOLEAN)),
    ("GET", "/api/staff"): ("Staff accounts (admin)", (), None, ANY_OBJECT),
    ("POST", "/api/staff"): ("Add a staff account (admin)", (), _object(
        ("name", "role", "password"), name=STRING,
        role={"enum": ["analyst", "staff", "admin"]}, password=STRING), _ref("Action")),
    ("POST", "/api/staff/{name}/disable"): ("Disable an account, ending its sessions (admin)",
                                            (), None, _ref("Action")),
    ("POST", "/api/staff/{name}/password"): ("Set an account's password (admin)", (),
                                             _object(("password",), password=STRING),
                                             _ref("Action")),
    ("POST", "/api/staff/{name}/role"): ("Change an account's role (admin)", (), _object(
        ("role",), role={"enum": ["analyst", "staff", "admin"]}), _ref("Action")),
    ("POST", "/api/staff/{name}/enable"): ("Enable a disabled account again (admin)", (),
                                           None, _ref("Action")),
    ("POST", "/api/staff/sessions"): (
        "A session for the staff account of an email, after the dashboard's OIDC sign-in"
        " (ADMIN_TOKEN only)", (), _object(("email",), email=STRING), _object(
            ("token", "name", "role", "expires_at"), token=STRING, name=STRING, role=STRING,
            expires_at=STRING)),
}  # fmt: skip

_STAFF_ERRORS = {
    "401": _error("No or wrong bearer token"),
    "403": _error("forbidden: the signed-in role may not call this route"),
    "404": NOT_FOUND,
    "409": _error("The action does not apply now"),
    "422": _error("invalid_query or invalid_body, naming the parameter"),
}


def _staff() -> dict[tuple[str, str], Schema]:
    operations = {}
    for key, (summary, query, body, answer) in STAFF.items():
        operation = _operation(
            summary, "staff", {"200": _json(answer, "Done"), **_STAFF_ERRORS}, query, body
        )
        if key[0] == "POST" and body is None:
            operation["requestBody"] = {
                "required": False, "content": {"application/json": {"schema": ANY_OBJECT}}
            }  # fmt: skip
        operation["security"] = [{"staffToken": []}]
        operations[key] = operation
    metrics = {"description": "Prometheus text format 0.0.4",
               "content": {"text/plain": {"schema": STRING}}}  # fmt: skip
    operations[("GET", "/metrics")] = {
        **_operation("Prometheus metrics", "staff", {"200": metrics, "401": _STAFF_ERRORS["401"]}),
        "security": [{"staffToken": []}],
    }
    return operations


def _waitlist_public() -> dict[tuple[str, str], Schema]:
    return {
        ("POST", "/api/waitlist"): _operation(
            "Join the waitlist of a full event (a checkout body of one item)",
            "storefront",
            {
                "201": _json(ANY_OBJECT, "Added: entry_id, event_key, label, position, status"),
                "200": _json(ANY_OBJECT, "Already waiting: the same entry"),
                "413": _error("too_large"),
                "422": _json(_ref("Problems"), "invalid_cart, every problem with its path"),
                "429": _json(_ref("TooManyHolds"), "A limit"),
            },
            body=_ref("CheckoutRequest"),
        ),
        ("GET", "/orders/{order_id}/pay"): _operation(
            "A waitlist offer's or staff booking's payment link: on to Stripe Checkout",
            "customer",
            {
                "303": {"description": "On to Stripe Checkout, or the order's page once paid"},
                "404": HTML,
                "410": HTML,
                "503": HTML,
            },
        ),
    }


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the sidecar."""
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), operation in {**_public(), **_waitlist_public(), **_staff()}.items():
        entry = paths.setdefault(path, {})
        if params := _path_params(path):
            entry["parameters"] = params
        entry[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "TinkerTank Ops sidecar",
            "version": "1",
            "description": "Stripe webhooks, checkout, customer pages, support and the staff "
            "API. Prose and examples: docs/http-api.md.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "staffToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "ADMIN_TOKEN, or a session token from POST /api/login",
                }
            },
        },
    }


_DOCUMENT = document()


async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(_DOCUMENT)

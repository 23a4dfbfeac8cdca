"""Each Stripe event type of the handler table, applied to a prepared order in a real DuckDB
file, in process: what it does to the order, its steps, holds, bookings, enrolments, outbox
and error log. The sidecar tests drive the same handlers end to end; these say, one line
per event, what each one does."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from core import simulation as stripe
from core.cart_rules import validate_checkout
from core.catalog_file import load_catalog
from core.stripe_events import parse_event
from core.vocabulary import STEPS
from fulfilment.events import HANDLERS, handle_event
from fulfilment.steps import run_step
from store import inbox, orders
from store.database import Database
from tests.conftest import REPO

CATALOG = load_catalog(REPO / "data" / "catalog.toml")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NAIVE_NOW = NOW.replace(tzinfo=None)
CREATED = int(NOW.timestamp())
LIVEMODE = False
ORDER = "ord_test_1"
TOTAL = 8900 + 49500  # a camp day and a party
IGNITE_TOTAL = 14900
FEBRUARY = (int(datetime(2027, 2, 1, tzinfo=UTC).timestamp()),
            int(datetime(2027, 3, 1, tzinfo=UTC).timestamp()))  # fmt: skip
PARENT = {"email": "pat@example.com", "name": "Pat Parent"}


# --- preparing an order ----------------------------------------------------------------------


def apply(
    database: Database, event_type: str, obj: dict[str, Any], n: int = 0, created: int = CREATED
) -> str:
    """Store a Stripe event in the inbox and apply it as the worker does; its event id."""
    payload = json.dumps(stripe.event_envelope(f"evt_{n}", event_type, obj, created))
    event = parse_event(payload)
    database.write(inbox.store_events, [(event, NAIVE_NOW)])
    database.write(handle_event, event.event_id, CATALOG, NAIVE_NOW, LIVEMODE)
    return event.event_id


def run_steps(database: Database) -> None:
    order_ids = database.read(
        lambda c: [r[0] for r in c.execute("SELECT order_id FROM orders").fetchall()]
    )
    for step in STEPS[1:]:
        for order_id in order_ids:
            database.write(run_step, order_id, step, CATALOG, NAIVE_NOW)


def place(database: Database, items: list[dict[str, Any]]) -> None:
    cart = validate_checkout({"customer": PARENT, "items": items}, CATALOG, today=NOW.date())
    assert database.write(orders.place_order, orders.new_order(ORDER, cart, CATALOG, NOW)) == []


def placed(database: Database) -> None:
    """Our checkout's order of a camp day and a party, waiting for its payment."""
    child = {"name": "Kid", "age": 8}
    place(database, [
        {"product_id": "summer-robotics", "date": "2027-01-05", "session": "day",
         "student": child},
        {"product_id": "robot-rampage-party", "date": "2027-01-09", "start_time": "10:00",
         "student": child},
    ])  # fmt: skip


def session(payment_status: str = "paid") -> dict[str, Any]:
    obj = stripe.checkout_session("cs_test_1", ORDER, CREATED, TOTAL, PARENT["email"],
                                  PARENT["name"], "pi_test_1")  # fmt: skip
    return obj | {"payment_status": payment_status}


def paying_by_debit(database: Database) -> None:
    """Checked out with BECS direct debit: the session completed, unpaid until it clears."""
    placed(database)
    apply(database, "checkout.session.completed", session("unpaid"), n=90)


def fulfilled(database: Database) -> None:
    """Paid and through every step: booked, confirmed, staff told."""
    placed(database)
    apply(database, "checkout.session.completed", session(), n=90)
    run_steps(database)


def nothing(database: Database) -> None:
    """No order yet: a payment made outside our checkout brings its own cart."""


def ignite_signed_up(database: Database) -> None:
    """An Ignite sign-up: its subscription checkout completed and the steps run (the
    enrolment made), no class booked before an invoice is paid."""
    place(database, [{"product_id": "ignite-coding-monday",
                      "student": {"name": "Zoe", "age": 9}}])  # fmt: skip
    sign_up = stripe.subscription_checkout_session(
        "cs_test_ign", CREATED, IGNITE_TOTAL, PARENT["email"], PARENT["name"],
        {"order_id": ORDER}, "sub_test_1", "cus_test_1", "in_test_0",
    )  # fmt: skip
    apply(database, "checkout.session.completed", sign_up, n=90)
    run_steps(database)


def ignite_month_paid(database: Database) -> None:
    """An Ignite enrolment, active, with February's classes booked."""
    ignite_signed_up(database)
    apply(database, "customer.subscription.created", subscription("active"), n=91)
    apply(database, "invoice.paid", invoice(), n=92)


def subscription(status: str) -> dict[str, Any]:
    return stripe.subscription(
        "sub_test_1", "cus_test_1", "price_ignite_coding_monday_2027", IGNITE_TOTAL, CREATED,
        *FEBRUARY, status=status,
    )  # fmt: skip


def invoice() -> dict[str, Any]:
    return stripe.paid_invoice("in_test_1", "sub_test_1", "cus_test_1", IGNITE_TOTAL, CREATED,
                               *FEBRUARY)  # fmt: skip


def failed_invoice() -> dict[str, Any]:
    return invoice() | {"status": "open", "amount_paid": 0, "billing_reason": "subscription_cycle"}


def storefront_payment() -> dict[str, Any]:
    """A storefront's own PaymentIntent, its cart in the metadata."""
    items = [{"product_id": "summer-robotics", "date": "2027-01-05", "session": "day",
              "student": {"name": "Ada", "age": 8}}]  # fmt: skip
    metadata = {"tt_items": json.dumps(items), "tt_customer": json.dumps(PARENT)}
    return stripe.payment_intent("pi_meta_1", CREATED, 8900, metadata, PARENT["email"])


def refund(amount_refunded: int) -> dict[str, Any]:
    charge = stripe.charge_refunded("ch_test_1", "pi_test_1", ORDER, TOTAL, CREATED)
    return charge | {"amount_refunded": amount_refunded, "refunded": amount_refunded == TOTAL}


# --- what an order is left as ----------------------------------------------------------------


ORDER_COLUMNS = ("payment", "fulfilment", "paid", "refunded")


def state(database: Database, event_id: str) -> dict[str, Any]:
    """The order the event was about (as the inbox recorded it), and everything fulfilment
    decides about it; its id (random for a payment's own cart) is `<order>` in keys."""

    def read(conn) -> dict[str, Any]:
        outcome, order_id = conn.execute(
            "SELECT status, order_id FROM webhook_inbox WHERE event_id = ?", [event_id]
        ).fetchone()
        row = conn.execute(
            "SELECT payment_status, fulfillment_status, amount_paid, amount_refunded"
            " FROM orders WHERE order_id = ?",
            [order_id],
        ).fetchone()

        def column(sql: str) -> list:
            return sorted(r[0] for r in conn.execute(sql, [order_id]).fetchall())

        return {
            "event": outcome,
            "order": row and dict(zip(ORDER_COLUMNS, row, strict=True)),
            "steps": column("SELECT step || '=' || status FROM fulfilment_steps"
                            " WHERE order_id = ?"),
            "holds": column("SELECT status FROM holds WHERE order_id = ?"),
            "bookings": column("SELECT status FROM bookings WHERE order_id = ?"),
            "enrolments": column("SELECT status FROM enrolments WHERE order_id = ?"),
            "outbox": [key.replace(order_id, "<order>") for key in
                       column("SELECT dedupe_key FROM outbox WHERE order_id = ?")],
            "errors": column("SELECT severity || ' ' || category FROM error_log"
                             " WHERE order_id = ?"),
        }  # fmt: skip

    return database.read(read)


def steps(**statuses: str) -> list[str]:
    return sorted(f"{step}={statuses.get(step, 'pending')}" for step in STEPS)


ALL_DONE = steps(**dict.fromkeys(STEPS, "done"))
PAID_STEPS = steps(record_payment="done")
PLACED = {
    "event": "processed",
    "order": {"payment": "pending", "fulfilment": "waiting", "paid": 0, "refunded": 0},
    "steps": [],
    "holds": ["active", "active"],
    "bookings": [],
    "enrolments": [],
    "outbox": [],
    "errors": [],
}
PAID = PLACED | {
    "order": {"payment": "paid", "fulfilment": "in_progress", "paid": TOTAL, "refunded": 0},
    "steps": PAID_STEPS,
}
FULFILLED = PAID | {
    "order": PAID["order"] | {"fulfilment": "fulfilled"},
    "steps": ALL_DONE,
    "holds": ["converted", "converted"],
    "bookings": ["confirmed", "confirmed"],
    "outbox": ["confirmation:<order>", "staff:<order>"],
}
IGNITE = FULFILLED | {
    "order": FULFILLED["order"] | {"paid": IGNITE_TOTAL},
    "holds": ["converted"],
    "bookings": [],
    "enrolments": ["pending"],
}
IGNITE_PAID_MONTH = IGNITE | {"bookings": ["confirmed"] * 3, "enrolments": ["active"]}


@dataclass(frozen=True)
class Case:
    event_type: str
    prepare: Callable[[Database], None]
    event: Callable[[], dict[str, Any]]
    then: dict[str, Any]


CASES = {
    "paid at checkout": Case(
        "checkout.session.completed", placed, session, PAID
    ),
    "debit cleared": Case(
        "checkout.session.async_payment_succeeded", paying_by_debit, session, PAID
    ),
    "debit failed": Case(
        "checkout.session.async_payment_failed", paying_by_debit, lambda: session("unpaid"),
        PLACED | {"order": PLACED["order"] | {"payment": "failed"},
                  "holds": ["released", "released"]},
    ),
    "checkout abandoned": Case(
        "checkout.session.expired", placed, lambda: session("unpaid") | {"status": "expired"},
        PLACED | {"order": PLACED["order"] | {"payment": "expired"},
                  "holds": ["released", "released"]},
    ),
    "storefront payment": Case(
        "payment_intent.succeeded", nothing, storefront_payment,
        PAID | {"order": PAID["order"] | {"paid": 8900}, "holds": []},
    ),
    "card declined": Case(
        "payment_intent.payment_failed", placed,
        lambda: stripe.failed_payment_intent("pi_test_1", CREATED, TOTAL, {"order_id": ORDER},
                                             PARENT["email"]),
        PLACED | {"order": PLACED["order"] | {"payment": "failed"}},  # holds kept: retry
    ),
    "a decline delivered after the payment": Case(
        "payment_intent.payment_failed", fulfilled,
        lambda: stripe.failed_payment_intent("pi_test_1", CREATED, TOTAL, {"order_id": ORDER},
                                             PARENT["email"]),
        FULFILLED,  # still paid, and no error for staff: an earlier attempt's, late
    ),
    "refunded in full": Case(
        "charge.refunded", fulfilled, lambda: refund(TOTAL),
        FULFILLED | {
            "order": {"payment": "refunded", "fulfilment": "cancelled", "paid": TOTAL,
                      "refunded": TOTAL},
            "holds": ["released", "released"],
            "bookings": ["cancelled", "cancelled"],
            "outbox": sorted(FULFILLED["outbox"] + ["cancellation:<order>:1"]),
        },
    ),
    "refunded in part": Case(
        "charge.refunded", fulfilled, lambda: refund(8900),
        FULFILLED | {
            "order": FULFILLED["order"] | {"payment": "partially_refunded", "refunded": 8900},
            "errors": ["medium payment"],  # bookings kept, for staff to decide
        },
    ),
    "disputed": Case(
        "charge.dispute.created", fulfilled,
        lambda: stripe.dispute("dp_test_1", "ch_test_1", "pi_test_1", TOTAL, CREATED),
        FULFILLED | {"order": FULFILLED["order"] | {"payment": "disputed"},
                     "errors": ["critical payment"]},
    ),
    "subscription started": Case(
        "customer.subscription.created", ignite_signed_up, lambda: subscription("active"),
        IGNITE | {"enrolments": ["active"]},
    ),
    "renewal overdue": Case(
        "customer.subscription.updated", ignite_month_paid, lambda: subscription("past_due"),
        IGNITE_PAID_MONTH | {"enrolments": ["past_due"]},
    ),
    "subscription cancelled": Case(
        "customer.subscription.deleted", ignite_month_paid, lambda: subscription("canceled"),
        IGNITE_PAID_MONTH | {
            "holds": ["released"],
            "bookings": ["cancelled"] * 3,  # February is still to come
            "enrolments": ["ended"],
            "outbox": sorted(IGNITE["outbox"] + ["cancellation:<order>:1"]),
        },
    ),
    "month paid": Case(
        "invoice.paid", ignite_signed_up, invoice, IGNITE | {"bookings": ["confirmed"] * 3}
    ),
    "renewal declined": Case(
        "invoice.payment_failed", ignite_month_paid, failed_invoice,
        IGNITE_PAID_MONTH | {"errors": ["medium payment"]},  # Stripe retries it
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_event_type_does_to_its_order_what_it_says(database: Database, case: Case):
    case.prepare(database)

    # A minute after the events that prepared the order (Stripe orders them by `created`).
    event_id = apply(database, case.event_type, case.event(), created=CREATED + 60)

    assert state(database, event_id) == case.then


def test_the_table_covers_every_event_type_the_sidecar_handles():
    assert {case.event_type for case in CASES.values()} == set(HANDLERS)
    assert len(HANDLERS) == 13


def test_the_same_event_delivered_twice_changes_nothing_more(database: Database):
    fulfilled(database)
    first = apply(database, "charge.refunded", refund(TOTAL), n=1)
    before = state(database, first)

    again = apply(database, "charge.refunded", refund(TOTAL), n=2)

    assert state(database, again) == before
    assert database.read(lambda c: c.execute("SELECT count(*) FROM refunds").fetchone()[0]) == 1

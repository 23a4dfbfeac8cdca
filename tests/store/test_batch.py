"""The bulk fulfilment path agrees with the one-by-one reference, and leaves what it can't do."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from core.cart import validate_checkout
from core.catalog import load_catalog
from core.settings import DatabaseLocation
from core.simulation import checkout_session, event_envelope, payment_intent
from core.store import batch, inbox, orders
from core.store.database import Database
from core.store.fulfilment import STEPS, handle_event, run_step
from core.stripe_events import parse_event
from tests.conftest import REPO

CATALOG = load_catalog(REPO / "data" / "catalog.toml")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NAIVE_NOW = NOW.replace(tzinfo=None)
LIVEMODE = False  # the mode of the Stripe key, and of every event here


def place(database: Database, n: int, *, lapsed: bool = False) -> str:
    body = {
        "customer": {"email": f"p{n}@example.com", "name": "Pat Parent"},
        "items": [
            {"product_id": "summer-robotics", "date": "2027-01-05", "session": "day",
             "student": {"name": f"Kid {n}", "age": 8}},
            {"product_id": "robot-rampage-party", "date": "2027-01-09",
             "start_time": ("10:00", "13:00", "15:30")[n % 3],
             "student": {"name": f"Kid {n}", "age": 8}},
        ],
    }  # fmt: skip
    cart = validate_checkout(body, CATALOG, today=date(2026, 12, 1))
    placed_at = NOW - timedelta(hours=1) if lapsed else NOW
    order_id = f"ord_test_{n}"
    new = orders.new_order(order_id, cart, CATALOG, placed_at)
    assert database.write(orders.place_order, new) == []
    return order_id


def paid_event(order_id: str, n: int) -> str:
    session = checkout_session(
        f"cs_test_{n}", order_id, int(NOW.timestamp()), 8900 + 49500, "p@example.com", "Pat",
        f"pi_test_{n}",
    )  # fmt: skip
    return json.dumps(event_envelope(f"evt_test_{n}", "checkout.session.completed", session, 1))


def store(database: Database, payload: str) -> str:
    event = parse_event(payload)
    database.write(inbox.store_events, [(event, NAIVE_NOW)])
    return event.event_id


def outcome(database: Database) -> list[tuple]:
    """Everything fulfilment decides, without the random ids."""
    rows = database.read(
        lambda conn: conn.execute(
            "SELECT o.order_id, o.payment_status, o.fulfillment_status, o.payment_intent_id,"
            " list(DISTINCT s.step || '=' || s.status || '/' || s.attempts ORDER BY 1),"
            " list(DISTINCT b.order_item_id || '@' || e.slot_key || '=' || b.status ORDER BY 1),"
            " list(DISTINCT h.status ORDER BY 1)"
            " FROM orders o LEFT JOIN fulfilment_steps s USING (order_id)"
            " LEFT JOIN bookings b USING (order_id) LEFT JOIN events e USING (event_id)"
            " LEFT JOIN holds h USING (order_id) GROUP BY ALL ORDER BY 1"
        ).fetchall()
    )
    return [tuple(sorted(v) if isinstance(v, list) else v for v in row) for row in rows]


def confirmations(database: Database) -> list[str]:
    return [
        row[0]
        for row in database.read(
            lambda c: c.execute("SELECT dedupe_key FROM outbox ORDER BY 1").fetchall()
        )
    ]


@pytest.fixture
def make_database(tmp_path: Path):
    opened = []

    def make(name: str) -> Database:
        database = Database.open(DatabaseLocation("duckdb", str(tmp_path / f"{name}.duckdb")))
        opened.append(database)
        return database

    yield make
    for database in opened:
        database.close()


def test_bulk_fulfilment_ends_exactly_where_one_by_one_does(make_database):
    one_by_one, in_bulk = make_database("reference"), make_database("bulk")
    for database in (one_by_one, in_bulk):
        for n in range(3):
            place(database, n)
        events = [store(database, paid_event(f"ord_test_{n}", n)) for n in range(3)]
        # The same order's payment twice: the second must change nothing.
        events.append(store(database, paid_event("ord_test_0", 99)))
        if database is one_by_one:
            for event_id in events:
                database.write(handle_event, event_id, CATALOG, NAIVE_NOW, LIVEMODE)
            for step in STEPS[1:]:
                for n in range(3):
                    database.write(run_step, f"ord_test_{n}", step, CATALOG, NAIVE_NOW)
        else:
            assert database.write(batch.apply_payments, events, NAIVE_NOW, LIVEMODE) == []
            ids = [f"ord_test_{n}" for n in range(3)]
            assert database.write(batch.convert_holds, ids, NAIVE_NOW) == []
            assert database.write(batch.book_events, ids, CATALOG, NAIVE_NOW) == []
            assert database.write(batch.confirm, ids, CATALOG, NAIVE_NOW) == []
            assert database.write(batch.notify, ids, CATALOG, NAIVE_NOW) == []

    reference = outcome(one_by_one)
    assert outcome(in_bulk) == reference
    assert {row[2] for row in reference} == {"fulfilled"}
    assert (
        confirmations(in_bulk)
        == confirmations(one_by_one)
        == sorted(
            [f"confirmation:ord_test_{n}" for n in range(3)]
            + [f"staff:ord_test_{n}" for n in range(3)]
        )
    )


def test_bulk_leaves_unknown_orders_and_lapsed_holds_to_the_one_by_one_path(make_database):
    database = make_database("leftovers")
    place(database, 1, lapsed=True)
    known = store(database, paid_event("ord_test_1", 1))
    unknown = store(database, paid_event("ord_nobody", 2))

    left = database.write(batch.apply_payments, [known, unknown], NAIVE_NOW, LIVEMODE)

    assert left == [unknown]
    assert database.write(batch.convert_holds, ["ord_test_1"], NAIVE_NOW) == ["ord_test_1"]
    assert database.read(inbox.get_event, unknown)["status"] == "received"


# --- carts in a payment's metadata ----------------------------------------------------------


def metadata_payment(n: int, items: list[dict], pi: str | None = None) -> str:
    """A storefront's own PaymentIntent, paid, its cart in the metadata (SPEC §11)."""
    metadata = {
        "tt_items": json.dumps(items),
        "tt_customer": json.dumps({"email": f"p{n}@example.com", "name": f"Parent {n}"}),
    }
    amount = sum(price(item) for item in items)
    intent = payment_intent(pi or f"pi_meta_{n}", int(NOW.timestamp()), amount, metadata,
                            f"p{n}@example.com")  # fmt: skip
    return json.dumps(event_envelope(f"evt_meta_{n}", "payment_intent.succeeded", intent, 1))


def price(item: dict) -> int:
    """The catalog's price of a cart item, which its payment must be."""
    product = CATALOG.product(item["product_id"])
    return product.prices[item["session"]] if "session" in item else product.price


def camp_day(day: str, child: str) -> dict:
    return {"product_id": "summer-robotics", "date": day, "session": "day",
            "student": {"name": child, "age": 8}}  # fmt: skip


def metadata_outcome(database: Database) -> list[tuple]:
    """Everything fulfilment decides about metadata orders, keyed by their PaymentIntent
    (the order ids are random)."""
    rows = database.read(
        lambda conn: conn.execute(
            "SELECT o.payment_intent_id, o.source, o.mode, o.payment_status,"
            " o.fulfillment_status, o.customer_email, o.customer_name, o.currency,"
            " o.amount_total, o.amount_paid, o.kinds, o.attention_reason, o.paid_at IS NOT NULL,"
            " list(DISTINCT s.step || '=' || s.status || '/' || s.attempts ORDER BY 1),"
            " list(DISTINCT concat_ws(' ', i.position, i.product_id, i.item_date, i.session,"
            "   i.start_time, i.unit_amount, st.name) ORDER BY 1),"
            " list(DISTINCT e.slot_key || '=' || b.status ORDER BY 1),"
            " (SELECT list(w.event_id || '=' || w.status ORDER BY 1) FROM webhook_inbox w"
            "  WHERE w.order_id = o.order_id)"
            " FROM orders o LEFT JOIN fulfilment_steps s USING (order_id)"
            " LEFT JOIN order_items i USING (order_id)"
            " LEFT JOIN students st ON st.student_id = i.student_id"
            " LEFT JOIN bookings b USING (order_id) LEFT JOIN events e USING (event_id)"
            " GROUP BY ALL ORDER BY 1"
        ).fetchall()
    )
    return [tuple(sorted(v) if isinstance(v, list) else v for v in row) for row in rows]


def test_metadata_orders_in_bulk_end_exactly_where_one_by_one_does(make_database):
    payloads = [
        metadata_payment(0, [camp_day("2027-01-05", "Ada")]),
        metadata_payment(
            1,
            [
                camp_day("2027-01-05", "Ben"),
                camp_day("2027-01-06", "Ben"),
                camp_day("2027-01-06", "Cy"),
            ],
        ),
        metadata_payment(2, [camp_day("2027-01-07", "Di")]),
        # The same payment again under another event id: it must find the order, not make one.
        metadata_payment(3, [camp_day("2027-01-07", "Di")], pi="pi_meta_2"),
        # Left to the one-by-one path: a cart that does not parse, an Ignite cart.
        metadata_payment(4, [camp_day("2027-01-26", "Ed")]),  # not a camp day
        metadata_payment(
            5, [{"product_id": "ignite-coding-monday", "student": {"name": "Flo", "age": 9}}]
        ),
    ]
    one_by_one, in_bulk = make_database("reference"), make_database("bulk")
    for database in (one_by_one, in_bulk):
        events = [store(database, payload) for payload in payloads]
        if database is in_bulk:
            left = database.write(
                batch.create_metadata_orders, events, CATALOG, NAIVE_NOW, LIVEMODE
            )
            assert left == events[3:]
            events = left
        for event_id in events:
            database.write(handle_event, event_id, CATALOG, NAIVE_NOW, LIVEMODE)
        order_ids = database.read(
            lambda c: [r[0] for r in c.execute("SELECT order_id FROM orders").fetchall()]
        )
        for step in STEPS[1:]:
            for order_id in order_ids:
                database.write(run_step, order_id, step, CATALOG, NAIVE_NOW)

    reference = metadata_outcome(one_by_one)
    assert metadata_outcome(in_bulk) == reference
    assert len(reference) == 5  # pi_meta_2 twice is one order
    assert [row[4] for row in reference[:3]] == ["fulfilled"] * 3


def test_a_payment_we_already_have_an_order_for_is_left_to_the_one_by_one_path(make_database):
    database = make_database("known")
    first = store(database, metadata_payment(0, [camp_day("2027-01-05", "Ada")]))
    assert database.write(batch.create_metadata_orders, [first], CATALOG, NAIVE_NOW, LIVEMODE) == []

    again = store(database, metadata_payment(1, [camp_day("2027-01-05", "Ada")], pi="pi_meta_0"))

    assert database.write(batch.create_metadata_orders, [again], CATALOG, NAIVE_NOW, LIVEMODE) == [
        again
    ]
    assert database.read(lambda c: c.execute("SELECT count(*) FROM orders").fetchone()[0]) == 1


def party_slot(day: str, start: str, child: str) -> dict:
    return {"product_id": "robot-rampage-party", "date": day, "start_time": start,
            "student": {"name": child, "age": 8}}  # fmt: skip


def test_places_taken_in_bulk_match_one_by_one_when_places_run_out(make_database):
    # 26 children for a camp day of 24 places; 3 parties for a slot with 2 rooms; and an
    # order of our checkout, for the same day and slot, whose holds lapsed before its
    # payment came.
    carts = [[camp_day("2027-01-05", f"Kid {n}")] for n in range(26)]
    carts += [[party_slot("2027-01-09", "13:00", f"Host {n}")] for n in range(3)]
    one_by_one, in_bulk = make_database("reference"), make_database("bulk")
    for database in (one_by_one, in_bulk):
        lapsed = place(database, 7, lapsed=True)
        events = [store(database, paid_event(lapsed, 7))]
        events += [store(database, metadata_payment(n, cart, pi=f"pi_meta_{n:02d}"))
                   for n, cart in enumerate(carts)]  # fmt: skip
        for event_id in events:
            database.write(handle_event, event_id, CATALOG, NAIVE_NOW, LIVEMODE)
        # The same order of orders in both databases (their ids are random).
        order_ids = database.read(
            lambda c: [r[0] for r in c.execute(
                "SELECT order_id FROM orders ORDER BY payment_intent_id").fetchall()]
        )  # fmt: skip
        left = order_ids
        if database is in_bulk:
            left = database.write(batch.create_bookings, order_ids, CATALOG, NAIVE_NOW)
            assert left == []
        for order_id in left:
            database.write(run_step, order_id, "create_bookings", CATALOG, NAIVE_NOW)
        for step in STEPS[2:]:
            for order_id in order_ids:
                database.write(run_step, order_id, step, CATALOG, NAIVE_NOW)

    reference = metadata_outcome(one_by_one)
    assert metadata_outcome(in_bulk) == reference
    bookings = [b for row in reference for b in row[15]]
    # The lapsed order (its camp day and 13:00 party, pi_test_7) comes last and finds nothing:
    # 27 children for 24 places, 4 parties for 2 rooms.
    assert sum(b.endswith("=confirmed") for b in bookings) == 24 + 2
    assert sum(b.endswith("=conflict") for b in bookings) == 3 + 2
    lapsed_row = next(row for row in reference if row[0] == "pi_test_7")
    assert all(b.endswith("=conflict") for b in lapsed_row[15])

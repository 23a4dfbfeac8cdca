"""The bulk fulfilment path agrees with the one-by-one reference, and leaves what it can't do."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from core.cart_rules import validate_checkout
from core.catalog_file import load_catalog
from core.settings import DatabaseLocation
from core.simulation import checkout_session, event_envelope, payment_intent
from core.stripe_events import parse_event
from core.vocabulary import STEPS
from fulfilment import bulk_payments, bulk_steps
from fulfilment.events import handle_event
from fulfilment.steps import run_step
from senders.sender import queue_alerts
from store import inbox, orders
from store.database import Database
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
            assert database.write(bulk_payments.apply_payments, events, NAIVE_NOW, LIVEMODE) == []
            ids = [f"ord_test_{n}" for n in range(3)]
            assert database.write(bulk_steps.convert_holds, ids, NAIVE_NOW) == []
            assert database.write(bulk_steps.book_events, ids, CATALOG, NAIVE_NOW) == []
            assert database.write(bulk_steps.confirm, ids, CATALOG, NAIVE_NOW) == []
            assert database.write(bulk_steps.notify, ids, CATALOG, NAIVE_NOW) == []

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

    left = database.write(bulk_payments.apply_payments, [known, unknown], NAIVE_NOW, LIVEMODE)

    assert left == [unknown]
    assert database.write(bulk_steps.convert_holds, ["ord_test_1"], NAIVE_NOW) == ["ord_test_1"]
    assert database.read(inbox.get_event, unknown)["status"] == "received"


# --- carts in a payment's metadata ----------------------------------------------------------


def metadata_payment(n: int, items: list[dict], pi: str | None = None) -> str:
    """A storefront's own PaymentIntent, paid, its cart in the metadata."""
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
                bulk_payments.create_metadata_orders, events, CATALOG, NAIVE_NOW, LIVEMODE
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
    assert (
        database.write(bulk_payments.create_metadata_orders, [first], CATALOG, NAIVE_NOW, LIVEMODE)
        == []
    )

    again = store(database, metadata_payment(1, [camp_day("2027-01-05", "Ada")], pi="pi_meta_0"))

    assert database.write(
        bulk_payments.create_metadata_orders, [again], CATALOG, NAIVE_NOW, LIVEMODE
    ) == [again]
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
            left = database.write(bulk_steps.create_bookings, order_ids, CATALOG, NAIVE_NOW)
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


# --- the money and the mode of a payment are checked -----------------------------------------


def paid_with(order_id: str, n: int, amount: int, currency: str = "aud", *,
              livemode: bool = False) -> str:  # fmt: skip
    session = checkout_session(
        f"cs_test_{n}", order_id, int(NOW.timestamp()), amount, "p@example.com", "Pat",
        f"pi_test_{n}", currency=currency,
    )  # fmt: skip
    return json.dumps(
        event_envelope(f"evt_test_{n}", "checkout.session.completed", session, 1, livemode)
    )


def metadata_paid_with(n: int, items: list[dict], amount: int, currency: str = "aud") -> str:
    metadata = {
        "tt_items": json.dumps(items),
        "tt_customer": json.dumps({"email": f"p{n}@example.com", "name": f"Parent {n}"}),
    }
    intent = payment_intent(f"pi_meta_{n}", int(NOW.timestamp()), amount, metadata,
                            f"p{n}@example.com", currency)  # fmt: skip
    return json.dumps(event_envelope(f"evt_meta_{n}", "payment_intent.succeeded", intent, 1))


def run_as_worker(
    database: Database, events: list[str], livemode: bool = LIVEMODE
) -> tuple[list[str], list[str]]:
    """What the worker does with these events: the bulk path first, the rest one by one;
    then every step, in bulk first. Returns what each bulk function left."""
    paid_left = database.write(bulk_payments.apply_payments, events, NAIVE_NOW, livemode)
    left = database.write(
        bulk_payments.create_metadata_orders, paid_left, CATALOG, NAIVE_NOW, livemode
    )
    for event_id in left:
        database.write(handle_event, event_id, CATALOG, NAIVE_NOW, livemode)
    order_ids = database.read(
        lambda c: [r[0] for r in c.execute("SELECT order_id FROM orders ORDER BY 1").fetchall()]
    )
    for step, in_bulk in (("create_bookings", bulk_steps.create_bookings),
                          ("schedule_events", bulk_steps.book_events),
                          ("send_confirmation", bulk_steps.confirm),
                          ("notify_staff", bulk_steps.notify)):  # fmt: skip
        for order_id in database.write(in_bulk, order_ids, CATALOG, NAIVE_NOW):
            database.write(run_step, order_id, step, CATALOG, NAIVE_NOW)
    return paid_left, left


def run_one_by_one(database: Database, events: list[str], livemode: bool = LIVEMODE) -> None:
    for event_id in events:
        database.write(handle_event, event_id, CATALOG, NAIVE_NOW, livemode)
    order_ids = database.read(
        lambda c: [r[0] for r in c.execute("SELECT order_id FROM orders ORDER BY 1").fetchall()]
    )
    for step in STEPS[1:]:
        for order_id in order_ids:
            database.write(run_step, order_id, step, CATALOG, NAIVE_NOW)


def money_outcome(database: Database) -> dict[str, tuple]:
    """Per order (keyed by its PaymentIntent): its state, what it records as paid, why it
    needs attention, its steps and bookings, and its error-log entries."""
    rows = database.read(
        lambda conn: conn.execute(
            "SELECT o.payment_intent_id, o.payment_status, o.fulfillment_status, o.amount_total,"
            " o.currency, o.amount_paid, o.attention_reason,"
            " list(DISTINCT s.step || '=' || s.status ORDER BY 1),"
            " count(DISTINCT b.booking_id),"
            " (SELECT list(e.severity || ' ' || e.category || ' ' || e.message ORDER BY 1)"
            "  FROM error_log e WHERE e.order_id = o.order_id)"
            " FROM orders o LEFT JOIN fulfilment_steps s USING (order_id)"
            " LEFT JOIN bookings b USING (order_id) GROUP BY ALL ORDER BY 1"
        ).fetchall()
    )
    # list(DISTINCT … ORDER BY) does not keep its order in DuckDB: sorted here.
    return {row[0]: tuple(sorted(v) if isinstance(v, list) else v for v in row[1:]) for row in rows}


def alerts(database: Database) -> list[tuple[str, str]]:
    """The staff alerts the sender queues for the error log (Slack, and each alert email)."""
    database.write(queue_alerts, True, ("ops@tinkertank.example",), NAIVE_NOW)
    rows = database.read(
        lambda c: c.execute(
            "SELECT m.channel, m.recipient, m.payload FROM outbox m"
            " WHERE m.dedupe_key LIKE 'alert:%'"
        ).fetchall()
    )
    # Orders made from a payment's metadata have random ids.
    return sorted((channel, recipient, re.sub(r"ord_(?!test_)[\w-]+", "ord_…", payload))
                  for channel, recipient, payload in rows)  # fmt: skip


def test_a_wrong_payment_ends_the_same_in_bulk_as_one_by_one(make_database):
    party = {"product_id": "robot-rampage-party", "date": "2027-01-16", "start_time": "10:00",
             "student": {"name": "Gil", "age": 8}}  # fmt: skip
    one_by_one, in_bulk = make_database("reference"), make_database("bulk")
    for database in (one_by_one, in_bulk):
        for n in range(4):
            place(database, n)
        events = [
            store(database, paid_with("ord_test_0", 0, 1, "jpy")),  # 1 JPY for 584 AUD
            store(database, paid_with("ord_test_1", 1, 58400 - 100)),  # a dollar short
            store(database, paid_with("ord_test_2", 2, 58400, "usd")),  # the number, in USD
            store(database, paid_with("ord_test_3", 3, 58400)),  # right
            store(database, metadata_paid_with(4, [party], 100)),  # 1 AUD for a party
            store(database, metadata_paid_with(5, [party | {"start_time": "13:00"}], 49500)),
        ]
        if database is in_bulk:
            # The bulk path pays only the right ones and leaves the others to one by one.
            paid_left, made_left = run_as_worker(database, events)
            assert paid_left == events[:3] + events[4:]
            assert made_left == events[:3] + events[4:5]
        else:
            run_one_by_one(database, events)

    reference = money_outcome(one_by_one)
    assert money_outcome(in_bulk) == reference
    assert alerts(in_bulk) == alerts(one_by_one)

    skipped = {"record_payment=done", "create_bookings=skipped", "schedule_events=skipped",
               "send_confirmation=skipped", "notify_staff=skipped"}  # fmt: skip
    wrong = {
        "pi_test_0": (0, "paid 1 JPY, but the order is $584.00: wrong currency"),
        "pi_test_1": (58300, "paid $583.00, but the order is $584.00: underpaid"),
        "pi_test_2": (0, "paid 584.00 USD, but the order is $584.00: wrong currency"),
        "pi_meta_4": (100, "paid $1.00, but the order is $495.00: underpaid"),
    }
    for pi, (recorded, problem) in wrong.items():
        payment, fulfilment, _, _, paid, reason, steps, bookings, entries = reference[pi]
        assert (payment, fulfilment, paid, reason) == ("paid", "needs_attention", recorded, problem)
        assert (set(steps), bookings) == (skipped, 0)
        assert entries == [
            f"critical payment wrong payment: {problem}. Nothing was booked: refund it, or ask"
            " for the rest and book by hand"
        ]
    for pi, total in (("pi_test_3", 58400), ("pi_meta_5", 49500)):
        assert reference[pi][:5] == ("paid", "fulfilled", total, "aud", total)
        assert reference[pi][7] > 0 and reference[pi][8] is None

    sent = alerts(one_by_one)
    assert len(sent) == 2 * len(wrong)  # one Slack message and one email each
    for problem in (problem for _, problem in wrong.values()):
        assert sum(problem in payload for _, _, payload in sent) == 2


@pytest.mark.parametrize("key_livemode", [True, False], ids=["live key", "test key"])
def test_an_event_of_the_other_mode_is_refused_in_bulk_as_one_by_one(make_database, key_livemode):
    party = {"product_id": "robot-rampage-party", "date": "2027-01-16", "start_time": "10:00",
             "student": {"name": "Gil", "age": 8}}  # fmt: skip
    other = not key_livemode
    one_by_one, in_bulk = make_database("reference"), make_database("bulk")
    for database in (one_by_one, in_bulk):
        place(database, 0)
        place(database, 1)
        metadata = json.loads(metadata_paid_with(2, [party], 49500))
        metadata["livemode"] = other
        events = [
            store(database, paid_with("ord_test_0", 0, 58400, livemode=other)),
            store(database, json.dumps(metadata)),
            store(database, paid_with("ord_test_1", 1, 58400, livemode=key_livemode)),
        ]
        if database is in_bulk:
            paid_left, made_left = run_as_worker(database, events, key_livemode)
            assert paid_left == made_left == events[:2]
        else:
            run_one_by_one(database, events, key_livemode)

    reference = money_outcome(one_by_one)
    assert money_outcome(in_bulk) == reference
    assert alerts(in_bulk) == alerts(one_by_one)
    # Nothing applied: the order of our checkout still waits for its payment, and the
    # payment with a cart made no order.
    assert set(reference) == {None, "pi_test_1"}
    assert reference[None][:2] == ("pending", "waiting")
    assert reference[None][4:8] == (0, None, [None], 0)  # no steps, no bookings
    assert reference["pi_test_1"][:2] == ("paid", "fulfilled")
    mode, key = ("test", "live") if key_livemode else ("live", "test")
    for database in (one_by_one, in_bulk):
        for event_id, order_id in zip(events[:2], ("ord_test_0", None), strict=True):
            row = database.read(inbox.get_event, event_id)
            assert row["status"] == "failed"
            assert row["last_error"].startswith(f"wrong mode: a {mode}-mode event")
            entries = database.read(
                lambda c, event_id=event_id: c.execute(
                    "SELECT severity, order_id, message FROM error_log WHERE stripe_event_id = ?",
                    [event_id],
                ).fetchall()
            )
            assert [(severity, order) for severity, order, _ in entries] == [("critical", order_id)]
            assert f"runs in {key} mode" in entries[0][2]
    sent = alerts(one_by_one)
    assert len(sent) == 4
    assert all("refused: a " + mode in payload for _, _, payload in sent)

"""Refunds of an Ignite order by item, in the store, on both backends: the invoice an item
is refunded from, what is refundable of it, and the refunded total counted per payment
(store/staff_refunds.py, store/order_state.record_invoice_refund)."""

from __future__ import annotations

from datetime import datetime

from store import order_state, staff_refunds
from store.database import Database

NOW = datetime(2026, 11, 25, 23, 0)  # naive UTC, as the store keeps time


def seed(conn) -> None:
    """A paid Ignite order (a class and a camp day) and its two paid invoices."""
    conn.execute(
        "INSERT INTO orders (order_id, source, mode, payment_status, fulfillment_status,"
        " currency, amount_total, amount_paid, subscription_id, created_at, updated_at)"
        " VALUES ('ord_1', 'checkout', 'subscription', 'paid', 'fulfilled', 'aud', 23800,"
        " 23800, 'sub_1', ?, ?)",
        [NOW, NOW],
    )
    conn.execute(
        "INSERT INTO order_items (order_item_id, order_id, position, product_id, kind,"
        " student_id, unit_amount) VALUES ('it_ignite', 'ord_1', 0, 'ignite-coding-monday',"
        " 'ignite', 'stu_1', 14900), ('it_camp', 'ord_1', 1, 'summer-robotics', 'camp',"
        " 'stu_1', 8900)"
    )
    conn.execute(
        "INSERT INTO enrolments (enrolment_id, order_id, order_item_id, student_id, product_id,"
        " subscription_id, status, updated_at) VALUES ('enr_1', 'ord_1', 'it_ignite', 'stu_1',"
        " 'ignite-coding-monday', 'sub_1', 'active', ?)",
        [NOW],
    )
    conn.execute(
        "INSERT INTO enrolment_periods (invoice_id, enrolment_id, period_start, period_end,"
        " amount_paid, paid_at) VALUES ('in_first:enr_1', 'enr_1', ?, ?, 23800, ?),"
        " ('in_second:enr_1', 'enr_1', ?, ?, 14900, ?)",
        [datetime(2027, 2, 1), datetime(2027, 3, 1), NOW,
         datetime(2027, 3, 1), datetime(2027, 4, 1), NOW],
    )  # fmt: skip


def test_an_ignite_item_is_refunded_from_its_latest_invoice_a_camp_day_from_the_first(
    database: Database,
):
    database.write(seed)

    def invoice(*items: str) -> dict | None:
        return database.read(staff_refunds.invoice_to_refund, "ord_1", items, None, NOW)

    assert invoice("it_ignite")["invoice_id"] == "in_second"
    assert invoice("it_camp")["invoice_id"] == "in_first"
    assert invoice("it_ignite", "it_camp")["problems"][0]["path"] == "items"
    assert invoice("it_nothing")["problems"][0]["path"] == "items[0]"
    assert "name the items" in invoice()["message"]


def test_staff_name_the_invoice_to_refund_from(database: Database):
    database.write(seed)

    def chosen(invoice_id: str, *items: str, now: datetime = NOW) -> dict | None:
        return database.read(staff_refunds.invoice_to_refund, "ord_1", items, invoice_id, now)

    february = chosen("in_first", "it_ignite")
    assert (february["invoice_id"], february["period_end"]) == ("in_first", datetime(2027, 3, 1))
    assert chosen("in_first", "it_ignite", "it_camp")["invoice_id"] == "in_first"
    # Only what that invoice charged: the camp day was on the first.
    (problem,) = chosen("in_second", "it_camp")["problems"]
    assert problem["path"] == "items[0]" and "in_first" in problem["message"]
    # Not one of this order's paid invoices: 422 at `invoice`, naming the paid ones.
    (problem,) = chosen("in_other", "it_ignite")["problems"]
    assert problem["path"] == "invoice" and "in_first, in_second" in problem["message"]
    # Money only from a named invoice.
    assert chosen("in_second")["invoice_id"] == "in_second"


def test_the_paid_invoices_of_an_order_with_what_is_left_of_each(database: Database):
    database.write(seed)
    first = staff_refunds.InvoicePayment("in_first", "pi_first", 23800)
    begun = database.write(staff_refunds.begin, "ord_1", ("it_ignite",), None, "feb", "ann",
                           "key-feb", NOW, first)  # fmt: skip
    assert (begun.outcome, begun.amount) == ("ok", 14900)
    # Stripe's total for that payment is more (a further refund made in Stripe): it counts.
    database.write(order_state.record_invoice_refund, "ord_1", "pi_first", 20000, "evt_1", NOW)
    database.write(staff_refunds.apply_covered, "ord_1", 20000, NOW, "pi_first")
    invoices = database.read(staff_refunds.paid_invoices, "ord_1")
    assert [(i["invoice_id"], i["amount_paid"], i["refunded"], i["refundable"])
            for i in invoices] == [("in_first", 23800, 20000, 3800),
                                   ("in_second", 14900, 0, 14900)]  # fmt: skip
    assert invoices[0]["items"] == ["it_ignite", "it_camp"]
    assert invoices[1]["items"] == ["it_ignite"]
    assert invoices[1]["period_start"] == datetime(2027, 3, 1)
    too_much = database.write(staff_refunds.begin, "ord_1", ("it_camp",), None, "x", "ann",
                              "key-camp", NOW, first)  # fmt: skip
    assert (too_much.outcome, too_much.refundable) == ("too_much", 3800)
    # The enrolment was refunded from February's invoice; March's may refund it again,
    # February's not.
    again = database.write(staff_refunds.begin, "ord_1", ("it_ignite",), 100, "x", "ann",
                           "key-feb-2", NOW, first)  # fmt: skip
    assert again.outcome == "problems" and "in_first" in again.problems[0]["message"]
    march = staff_refunds.InvoicePayment("in_second", "pi_second", 14900)
    begun = database.write(staff_refunds.begin, "ord_1", ("it_ignite",), None, "mar", "ann",
                           "key-mar", NOW, march)  # fmt: skip
    assert (begun.outcome, begun.amount) == ("ok", 14900)


def test_an_invoice_refund_is_capped_by_the_invoice_and_counted_per_payment(database: Database):
    database.write(seed)
    paid = staff_refunds.InvoicePayment("in_second", "pi_second", 14900)

    too_much = database.write(staff_refunds.begin, "ord_1", ("it_ignite",), 15000, "x",
                              "ann", "key-0", NOW, paid)  # fmt: skip
    assert (too_much.outcome, too_much.refundable) == ("too_much", 14900)
    begun = database.write(staff_refunds.begin, "ord_1", ("it_ignite",), 10000, "moving",
                           "ann", "key-1", NOW, paid)  # fmt: skip
    assert (begun.outcome, begun.amount, begun.payment_intent_id) == ("ok", 10000, "pi_second")
    assert database.read(staff_refunds.order_of_invoice_payment, "pi_second") == "ord_1"
    more = database.write(staff_refunds.begin, "ord_1", ("it_camp",), 5000, "x", "ann",
                          "key-2", NOW, paid)  # fmt: skip
    assert (more.outcome, more.refundable) == ("too_much", 4900)  # what is left of it

    # Stripe's running total is that payment's: the ledger rises once per rise.
    assert database.write(order_state.record_invoice_refund, "ord_1", "pi_second", 10000,
                          "evt_1", NOW) == 10000  # fmt: skip
    assert database.write(order_state.record_invoice_refund, "ord_1", "pi_second", 10000,
                          "evt_2", NOW) == 0  # fmt: skip
    assert database.write(order_state.record_invoice_refund, "ord_1", "pi_other", 3000,
                          "evt_3", NOW) == 3000  # fmt: skip
    covered = database.write(staff_refunds.apply_covered, "ord_1", 10000, NOW, "pi_second")
    assert [c["items"] for c in covered] == [["it_ignite"]]
    assert database.write(staff_refunds.apply_covered, "ord_1", 10000, NOW, "pi_second") == []
    (refunded,) = database.read(
        lambda conn: conn.execute(
            "SELECT amount_refunded FROM orders WHERE order_id = 'ord_1'"
        ).fetchone()
    )
    assert refunded == 13000

"""Which invoice a payment paid, as the store keeps it (store/payment_invoices.py, schema
v18), on both backends: wanted once, answered once, backed off while Stripe does not
answer, given up in the end, and claimed by one sidecar at a time on PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core.payment_invoices import LOOKUP_ATTEMPTS, PaidInvoice, retry_delay
from store import locks, payment_invoices
from store.database import Database

NOW = datetime(2026, 11, 25, 23, 0)  # naive UTC, as the store keeps time
LEASE = NOW + timedelta(seconds=60)


def rows(database: Database) -> list[tuple]:
    return database.read(
        lambda c: c.execute(
            "SELECT payment_intent_id, status, invoice_id, subscription_id, marked, attempts,"
            " asked_at FROM payment_invoices ORDER BY payment_intent_id"
        ).fetchall()
    )


def test_a_lookup_is_wanted_once_answered_once_and_not_asked_again(database: Database):
    for _ in range(3):  # three events wait on the same payment
        database.write(payment_invoices.want, "pi_1", NOW)
    assert database.read(payment_invoices.lookup, "pi_1") == payment_invoices.Lookup("wanted")
    assert database.claim(payment_invoices.claim_due, NOW, 20, LEASE) == ["pi_1"]

    first = PaidInvoice("in_1", "sub_1", True)
    assert database.write(payment_invoices.record_answer, "pi_1", first, NOW) is True
    # A second answer (another sidecar's, after its lease ran out) changes nothing.
    later = NOW + timedelta(minutes=5)
    assert database.write(payment_invoices.record_answer, "pi_1", PaidInvoice(None), later) is False
    database.write(payment_invoices.want, "pi_1", later)  # wanted again: already answered

    assert rows(database) == [("pi_1", "answered", "in_1", "sub_1", True, 0, NOW)]
    assert database.read(payment_invoices.lookup, "pi_1") == payment_invoices.Lookup(
        "answered", first
    )
    assert database.claim(payment_invoices.claim_due, later, 20, later) == []
    database.write(payment_invoices.record_order, "pi_1", "ord_1")
    assert database.read(payment_invoices.lookup, "pi_1").order_id == "ord_1"


def test_no_invoice_is_an_answer_too(database: Database):
    database.write(payment_invoices.want, "pi_2", NOW)
    database.write(payment_invoices.record_answer, "pi_2", PaidInvoice(None), NOW)
    found = database.read(payment_invoices.lookup, "pi_2")
    assert found.status == "answered" and found.paid == PaidInvoice(None, None, False)


def test_a_payment_is_one_row(database: Database):
    database.write(payment_invoices.want, "pi_3", NOW)
    with pytest.raises(Exception, match=r"(?i)duplicate|unique|primary key"):
        database.write(
            lambda c: c.execute(
                "INSERT INTO payment_invoices (payment_intent_id, status, wanted_at, attempts)"
                " VALUES ('pi_3', 'wanted', ?, 0)",
                [NOW],
            )
        )
    assert len(rows(database)) == 1


def test_a_lookup_stripe_does_not_answer_backs_off_then_is_given_up(database: Database):
    database.write(payment_invoices.want, "pi_4", NOW)
    now = NOW
    for attempt in range(1, LOOKUP_ATTEMPTS):
        assert database.claim(payment_invoices.claim_due, now, 20, now) == ["pi_4"]
        assert database.write(payment_invoices.record_failure, "pi_4", "down", now) == "wanted"
        # Not due again before its delay.
        assert database.claim(payment_invoices.claim_due, now, 20, now) == []
        now += retry_delay(attempt)
    assert database.write(payment_invoices.record_failure, "pi_4", "down", now) == "failed"
    assert database.read(payment_invoices.lookup, "pi_4") == payment_invoices.Lookup("failed")
    assert database.claim(payment_invoices.claim_due, now + timedelta(days=1), 20, now) == []


def test_a_claimed_lookup_is_left_to_its_claimer_on_postgresql(database: Database):
    for n in range(3):
        database.write(payment_invoices.want, f"pi_{n}", NOW + timedelta(seconds=n))
    first = database.claim(payment_invoices.claim_due, NOW + timedelta(seconds=5), 2, LEASE)
    assert first == ["pi_0", "pi_1"]  # oldest wanted first, up to the batch
    again = database.claim(payment_invoices.claim_due, NOW + timedelta(seconds=5), 20, LEASE)
    on_postgres = database.read(locks.on_postgres)
    # PostgreSQL: the first two are this claimer's until its lease ends; DuckDB: one
    # sidecar owns the file, a plain read.
    assert again == (["pi_2"] if on_postgres else ["pi_0", "pi_1", "pi_2"])

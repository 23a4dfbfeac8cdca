"""Handlers that wait for Stripe to say which invoice a payment paid, in the store's own
terms, on both backends (fulfilment/payment_invoices.py): what waits, what the stored
answer decides, and that a redelivery changes nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from core.catalog_file import load_catalog
from core.payment_invoices import PaidInvoice
from core.stripe_events import parse_event
from fulfilment.events import handle_event
from fulfilment.payment_invoices import record_lookups
from store import inbox, payment_invoices, staff_refunds
from store.database import Database
from tests import foreign_payments as foreign
from tests.conftest import REPO
from tests.store.test_staff_refunds import seed

CATALOG = load_catalog(REPO / "data" / "catalog.toml")
NOW = datetime(2026, 11, 25, 23, 0)
LATER = NOW + timedelta(seconds=1)


def store(database: Database, event: dict) -> str:
    parsed = parse_event(json.dumps(event))
    database.write(inbox.store_events, [(parsed, NOW)])
    return parsed.event_id


def apply(database: Database, event_id: str, now: datetime, *, shared: bool, lookups: bool):
    return database.write(handle_event, event_id, CATALOG, now, False, shared, lookups)


def waiting(database: Database, event_id: str) -> tuple:
    found = database.read(inbox.get_event, event_id)
    return found["status"], found["waiting_for"], found["last_error"], found["next_attempt_at"]


def refund_of(intent: str, amount: int, refunded: int) -> dict:
    charge = {"id": f"ch_{intent}", "object": "charge", "amount": amount,
              "amount_refunded": refunded, "currency": "aud", "metadata": {},
              "payment_intent": intent, "refunded": refunded == amount,
              "status": "succeeded"}  # fmt: skip
    return foreign.envelope("charge.refunded", charge, 1_790_000_000)


def test_an_invoice_payment_waits_for_the_answer_and_is_not_ours_once_stripe_says(
    database: Database,
):
    payment, _ = foreign.dashboard_invoice(1_790_000_000)
    intent = payment["data"]["object"]["id"]
    event_id = store(database, payment)

    assert apply(database, event_id, NOW, shared=True, lookups=True) == "deferred"
    status, waiting_for, reason, _ = waiting(database, event_id)
    assert (status, waiting_for) == ("received", intent)
    assert reason == "waiting: asking Stripe which invoice this payment paid"
    assert database.read(payment_invoices.lookup, intent).status == "wanted"

    # The pass stores the answer: the event is due at once, and decided.
    woken = database.write(record_lookups, {intent: PaidInvoice("in_dash")}, {}, LATER)
    assert woken == 1 and waiting(database, event_id)[3] == LATER
    assert apply(database, event_id, LATER, shared=True, lookups=True) == "not_ours"
    assert "it paid invoice in_dash, of no subscription" in waiting(database, event_id)[2]


def test_without_a_stripe_key_nothing_is_asked_and_the_payment_waits_as_before(
    database: Database,
):
    payment, _ = foreign.dashboard_invoice(1_790_000_000)
    intent = payment["data"]["object"]
    event_id = store(database, payment)

    assert apply(database, event_id, NOW, shared=True, lookups=False) == "deferred"
    _, waiting_for, reason, _ = waiting(database, event_id)
    assert waiting_for == intent["customer"]
    assert reason == "waiting: waiting to see whether this pays a subscription invoice"
    assert database.read(payment_invoices.lookup, intent["id"]) is None


def test_a_dedicated_account_keeps_its_rules_for_a_payment_of_no_invoice(database: Database):
    payment, _ = foreign.dashboard_invoice(1_790_000_000)
    intent = payment["data"]["object"]["id"]
    event_id = store(database, payment)
    apply(database, event_id, NOW, shared=False, lookups=True)
    database.write(record_lookups, {intent: PaidInvoice(None)}, {}, LATER)
    # Not ours is a shared account's verdict: here it waits for a subscription as before.
    assert apply(database, event_id, LATER, shared=False, lookups=True) == "deferred"
    assert waiting(database, event_id)[1] == payment["data"]["object"]["customer"]


def test_a_refund_made_in_stripe_of_an_ignite_invoice_counts_once_against_that_invoice(
    database: Database,
):
    database.write(seed)  # ord_1: paid by invoices in_first and in_second
    first = store(database, refund_of("pi_second", 14900, 4000))

    assert apply(database, first, NOW, shared=False, lookups=True) == "deferred"
    # Stripe: it paid in_second (not expanded: found by the enrolment period it paid).
    database.write(record_lookups, {"pi_second": PaidInvoice("in_second")}, {}, LATER)
    assert apply(database, first, LATER, shared=False, lookups=True) == "processed"
    redelivered = store(database, refund_of("pi_second", 14900, 4000))  # another event id
    assert apply(database, redelivered, LATER, shared=False, lookups=True) == "processed"

    order = database.read(
        lambda c: c.execute(
            "SELECT payment_status, amount_refunded FROM orders WHERE order_id = 'ord_1'"
        ).fetchone()
    )
    assert order == ("partially_refunded", 4000)
    entries = database.read(
        lambda c: c.execute(
            "SELECT severity, message FROM error_log WHERE order_id = 'ord_1'"
        ).fetchall()
    )
    assert len(entries) == 1 and entries[0][0] == "medium"
    assert "made in Stripe" in entries[0][1]
    assert database.read(staff_refunds.order_of_invoice_payment, "pi_second") == "ord_1"
    # A staff refund of that invoice's items sees what is left of it.
    paid = staff_refunds.InvoicePayment("in_second", "pi_second", 14900)
    begun = database.write(staff_refunds.begin, "ord_1", ("it_ignite",), None, "x", "ann",
                           "k1", NOW, paid)  # fmt: skip
    assert (begun.outcome, begun.refundable) == ("too_much", 14900 - 4000)


def test_a_shared_accounts_refund_is_not_ours_at_once_only_of_an_invoice_not_ours(
    database: Database,
):
    of_dashboard_invoice = store(database, refund_of("pi_dash", 9000, 9000))
    of_no_invoice = store(database, refund_of("pi_late", 9000, 9000))
    for event_id in (of_dashboard_invoice, of_no_invoice):
        assert apply(database, event_id, NOW, shared=True, lookups=True) == "deferred"
    answers = {"pi_dash": PaidInvoice("in_dash"), "pi_late": PaidInvoice(None)}
    assert database.write(record_lookups, answers, {}, LATER) == 2

    assert apply(database, of_dashboard_invoice, LATER, shared=True, lookups=True) == "not_ours"
    # Of no invoice: perhaps a checkout's payment that is late; it waits for it, as before.
    assert apply(database, of_no_invoice, LATER, shared=True, lookups=True) == "deferred"
    assert waiting(database, of_no_invoice)[1:3] == (
        "pi_late", "waiting: refund for a payment not recorded yet"
    )  # fmt: skip

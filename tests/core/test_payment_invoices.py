"""Reading Stripe's invoice payments of a PaymentIntent (core/payment_invoices.py)."""

from __future__ import annotations

from datetime import timedelta

from core.payment_invoices import LOOKUP_ATTEMPTS, PaidInvoice, paid_invoice, retry_delay

PRICES = {"price_ignite"}


def entry(invoice, status: str = "paid", intent: str = "pi_1") -> dict:
    return {"object": "invoice_payment", "invoice": invoice, "status": status,
            "payment": {"type": "payment_intent", "payment_intent": intent}}  # fmt: skip


def listing(*entries: dict) -> dict:
    return {"object": "list", "data": list(entries), "has_more": False}


def test_no_invoice_payment_of_it_is_no_invoice():
    assert paid_invoice(listing(), "pi_1", PRICES) == PaidInvoice(None)
    assert paid_invoice(listing(entry("in_x", intent="pi_2")), "pi_1", PRICES) == PaidInvoice(None)


def test_an_expanded_invoice_names_its_subscription_and_whether_it_is_ours():
    details = {"subscription": "sub_1", "metadata": {"order_id": "ord_1"}}
    parent = {"type": "subscription_details", "subscription_details": details}
    ours = {"id": "in_1", "object": "invoice", "parent": parent}
    assert paid_invoice(listing(entry(ours)), "pi_1", PRICES) == PaidInvoice("in_1", "sub_1", True)
    of_our_price = {"id": "in_2", "subscription": "sub_2",
                    "lines": {"data": [{"price": {"id": "price_ignite"}}]}}  # fmt: skip
    assert paid_invoice(listing(entry(of_our_price)), "pi_1", PRICES) == PaidInvoice(
        "in_2", "sub_2", True
    )
    dashboard = {"id": "in_3", "object": "invoice", "parent": None, "metadata": {}}
    assert paid_invoice(listing(entry(dashboard)), "pi_1", PRICES) == PaidInvoice("in_3")


def test_a_paid_invoice_payment_comes_before_an_open_one_and_an_id_alone_is_enough():
    found = paid_invoice(listing(entry("in_open", "open"), entry("in_paid")), "pi_1", PRICES)
    assert found == PaidInvoice("in_paid")


def test_an_unanswered_lookup_is_asked_again_later_and_given_up_in_about_two_hours():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3)] == [2, 4, 8]
    assert retry_delay(20) == timedelta(minutes=30)
    waited = sum((retry_delay(n) for n in range(1, LOOKUP_ATTEMPTS)), timedelta())
    assert timedelta(hours=1) < waited < timedelta(hours=3)

"""Is it the right money? The pure comparison of a payment with its order."""

from __future__ import annotations

import pytest

from core.payments import amount_paid, dollars, money_text, payment_problem


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (11900, "aud", "119.00 AUD"),
        (1, "jpy", "1 JPY"),  # zero-decimal: yen are not cents
        (1234567, "JPY", "1,234,567 JPY"),
        (1500, "kwd", "1.500 KWD"),  # three decimals
        (5, "usd", "0.05 USD"),
    ],
)
def test_money_is_written_in_the_currencys_own_units(amount: int, currency: str, text: str):
    assert money_text(amount, currency) == text


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [(8900, "aud", "$89.00"), (123456789, "AUD", "$1,234,567.89"), (-4000, "aud", "-$40.00"),
     (1, "jpy", "1 JPY"), (500, "usd", "5.00 USD"), (None, "aud", "an unknown amount")],
)  # fmt: skip
def test_people_read_australian_dollars_with_a_dollar_sign_never_as_cents(
    amount: int | None, currency: str, text: str
):
    assert dollars(amount, currency) == text


def test_the_right_amount_in_the_right_currency_is_no_problem():
    assert payment_problem(11900, "aud", 11900, "aud") is None
    assert payment_problem(11900, "aud", 11900, "AUD") is None  # Stripe writes lower case


@pytest.mark.parametrize(
    ("paid", "currency", "problem"),
    [
        (1, "jpy", "paid 1 JPY, but the order is $119.00: wrong currency"),
        (11900, "usd", "paid 119.00 USD, but the order is $119.00: wrong currency"),
        (100, "aud", "paid $1.00, but the order is $119.00: underpaid"),
        (12000, "aud", "paid $120.00, but the order is $119.00: overpaid"),
        (None, "aud", "the payment names no amount; the order is $119.00"),
        (11900, None, "the payment names no currency; the order is $119.00"),
    ],
)
def test_any_other_payment_is_described(paid: int | None, currency: str | None, problem: str):
    assert payment_problem(11900, "aud", paid, currency) == problem


def test_only_money_in_the_orders_currency_counts_as_paid():
    assert amount_paid("aud", 100, "aud") == 100
    assert amount_paid("aud", 1, "jpy") == 0
    assert amount_paid("aud", None, "aud") == 0

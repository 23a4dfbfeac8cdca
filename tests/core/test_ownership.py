"""Ours or not, decided from a Stripe object alone (core/ownership.py)."""

from __future__ import annotations

from core.ownership import front_desk, has_marker, of_our_prices, price_ids, why_not_ours
from tests import foreign_payments as foreign

CREATED = 1_796_000_000


def test_our_checkout_and_storefront_objects_carry_a_marker():
    assert has_marker({"object": "checkout.session", "client_reference_id": "ord_1"})
    assert has_marker({"object": "payment_intent", "metadata": {"order_id": "ord_1"}})
    assert has_marker({"object": "payment_intent", "metadata": {"tt_items_0": "[{"}})
    assert has_marker({"object": "payment_intent", "metadata": {"tt_customer": "{}"}})
    assert has_marker(
        {
            "object": "charge",
            "metadata": {},
            "payment_intent": {"id": "pi_1", "metadata": {"order_id": "ord_1"}},
        }
    )
    assert has_marker({"object": "invoice", "parent": {"subscription_details": {
        "metadata": {"order_id": "ord_1"}, "subscription": "sub_1"}}})  # fmt: skip


def test_other_sales_carry_none():
    desk = foreign.front_desk_payment(CREATED)
    sales = [desk, foreign.front_desk_refund(desk, CREATED),
             *foreign.dashboard_invoice(CREATED), *foreign.foreign_subscription(CREATED),
             foreign.cartless_payment(CREATED)]  # fmt: skip
    for event in sales:
        assert not has_marker(event["data"]["object"]), event["type"]
    assert has_marker(foreign.cartless_payment(CREATED, order_id="ord_x")["data"]["object"])
    assert not has_marker({"object": "payment_intent", "metadata": {"shop": "kit-box"}})


def test_a_card_presented_in_person_is_a_front_desk_payment():
    desk = foreign.front_desk_payment(CREATED)
    assert front_desk(desk["data"]["object"])
    assert front_desk(foreign.front_desk_refund(desk, CREATED)["data"]["object"])
    assert not front_desk(foreign.cartless_payment(CREATED)["data"]["object"])
    assert not front_desk({"payment_method_types": ["card", "card_present"]})
    assert "front-desk" in why_not_ours(desk["data"]["object"])


def test_our_catalogs_prices_mark_a_subscription_or_an_invoice():
    subscription = foreign.foreign_subscription(CREATED)[0]["data"]["object"]
    (other_price,) = price_ids(subscription)
    assert not of_our_prices(subscription, {"price_ignite_coding_monday_2027"})
    subscription["items"]["data"][0]["price"]["id"] = "price_ignite_coding_monday_2027"
    assert of_our_prices(subscription, {"price_ignite_coding_monday_2027"})
    line = {
        "pricing": {
            "type": "price_details",
            "price_details": {"price": "price_ignite_coding_monday_2027"},
        }
    }
    assert price_ids({"lines": {"data": [line, {"price": other_price}]}}) == {
        "price_ignite_coding_monday_2027", other_price}  # fmt: skip

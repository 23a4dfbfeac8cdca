"""Line items of a Checkout Session: by registered price or `price_data`, validated like
Stripe does, and the line item objects it answers with."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from tests.fakes.stripe.errors import (
    _invalid,
    _missing,
    _no_such,
    _one_of,
)
from tests.fakes.stripe.params import (
    INTERVALS,
    LINE_ITEM_PARAMS,
    MAX_LINE_ITEMS,
    PRICE_DATA_PARAMS,
    PRODUCT_DATA_PARAMS,
    RECURRING_PARAMS,
    _array,
    _check_known,
    _currency,
    _enum,
    _hash,
    _integer,
    _metadata,
    _name,
    _string,
    new_id,
)
from tests.fakes.stripe.prices import _recurring_object


@dataclass
class _LineItem:
    price: dict[str, Any]
    quantity: int
    amount: int
    currency: str
    description: str
    recurring: bool


class LineItems:
    """The line-item part of FakeStripe's Checkout Sessions."""

    def _session_line_items(self, params: Mapping[str, Any], mode: str) -> list[_LineItem]:
        raw = params.get("line_items")
        if raw is None:
            if mode == "setup":
                return []
            raise _missing("line_items")
        if mode == "setup":
            raise _invalid("You can not pass `line_items` in `setup` mode.", "line_items")
        entries = _array(raw, "line_items")
        if not entries:
            raise _missing("line_items")
        if len(entries) > MAX_LINE_ITEMS:
            raise _invalid(f"`line_items` can have at most {MAX_LINE_ITEMS} items.", "line_items")
        items = [self._line_item(entry, index) for index, entry in enumerate(entries)]
        for index, item in enumerate(items):
            if item.currency != items[0].currency:
                raise _invalid(
                    f"All line items must use the same currency: line_items[{index}] is "
                    f"{item.currency}, line_items[0] is {items[0].currency}.",
                    _name("line_items", index),
                )
            if item.recurring and mode == "payment":
                raise _invalid(
                    "You specified `payment` mode but passed a recurring price. Either switch "
                    "to `subscription` mode or use only one-time prices.",
                    _name("line_items", index),
                )
        if mode == "subscription" and not any(item.recurring for item in items):
            raise _invalid(
                "You must provide at least one recurring price in `subscription` mode when "
                "using prices.",
                "line_items",
            )
        return items

    def _line_item(self, raw: Any, index: int) -> _LineItem:
        path: tuple[str | int, ...] = ("line_items", index)
        entry = _hash(raw, *path)
        _check_known(entry, LINE_ITEM_PARAMS, *path)
        _metadata(entry.get("metadata"), *path, "metadata")
        if "price" in entry and "price_data" in entry:
            raise _one_of(_name(*path, "price"), _name(*path, "price_data"))
        if "quantity" not in entry:
            raise _missing(_name(*path, "quantity"))
        quantity = _integer(entry["quantity"], *path, "quantity", minimum=0, maximum=999_999)
        if "price" in entry:
            price_id = _string(entry["price"], *path, "price")
            with self._lock:
                price = copy.deepcopy(self._prices.get(price_id))
                description = self._price_products.get(price_id, price_id)
            if price is None:
                raise _no_such("price", price_id, _name(*path, "price"), status=400)
            if not price["active"]:
                raise _invalid(
                    "The price specified is inactive. This field only accepts active prices.",
                    _name(*path, "price"),
                )
            unit = Decimal(price["unit_amount_decimal"])
        elif "price_data" in entry:
            price, unit, description = self._price_data(entry["price_data"], *path, "price_data")
        else:
            raise _invalid(
                "You must specify either `price` or `price_data` for each line item.",
                _name(*path, "price"),
            )
        amount = int((unit * quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        return _LineItem(
            price=price,
            quantity=quantity,
            amount=amount,
            currency=price["currency"],
            description=description,
            recurring=price["recurring"] is not None,
        )

    def _price_data(self, raw: Any, *path: str | int) -> tuple[dict[str, Any], Decimal, str]:
        data = _hash(raw, *path)
        _check_known(data, PRICE_DATA_PARAMS, *path)
        if "currency" not in data:
            raise _missing(_name(*path, "currency"))
        currency = _currency(data["currency"], *path, "currency")
        if "unit_amount" in data and "unit_amount_decimal" in data:
            raise _one_of(_name(*path, "unit_amount"), _name(*path, "unit_amount_decimal"))
        if "unit_amount" in data:
            unit = Decimal(_integer(data["unit_amount"], *path, "unit_amount", minimum=0))
        elif "unit_amount_decimal" in data:
            text = _string(data["unit_amount_decimal"], *path, "unit_amount_decimal")
            try:
                unit = Decimal(text)
            except InvalidOperation:
                unit = Decimal("NaN")
            exponent = unit.as_tuple().exponent
            if not unit.is_finite() or unit < 0 or not isinstance(exponent, int) or exponent < -12:
                raise _invalid(f"Invalid decimal: {text}", _name(*path, "unit_amount_decimal"))
        else:
            raise _missing(_name(*path, "unit_amount"))
        if "product" in data and "product_data" in data:
            raise _one_of(_name(*path, "product"), _name(*path, "product_data"))
        if "product" in data:
            product = _string(data["product"], *path, "product")
            description = product
        elif "product_data" in data:
            product_data = _hash(data["product_data"], *path, "product_data")
            _check_known(product_data, PRODUCT_DATA_PARAMS, *path, "product_data")
            _metadata(product_data.get("metadata"), *path, "product_data", "metadata")
            if "name" not in product_data:
                raise _missing(_name(*path, "product_data", "name"))
            description = _string(product_data["name"], *path, "product_data", "name")
            product = new_id("prod_", 14)
        else:
            raise _missing(_name(*path, "product_data"))
        recurring = None
        if "recurring" in data:
            raw_recurring = _hash(data["recurring"], *path, "recurring")
            _check_known(raw_recurring, RECURRING_PARAMS, *path, "recurring")
            if "interval" not in raw_recurring:
                raise _missing(_name(*path, "recurring", "interval"))
            interval = _enum(raw_recurring["interval"], INTERVALS, *path, "recurring", "interval")
            count = 1
            if "interval_count" in raw_recurring:
                count = _integer(
                    raw_recurring["interval_count"],
                    *path,
                    "recurring",
                    "interval_count",
                    minimum=1,
                    maximum=365,
                )
            recurring = _recurring_object({"interval": interval, "interval_count": count})
        tax_behavior = data.get("tax_behavior", "unspecified")
        _enum(tax_behavior, ("exclusive", "inclusive", "unspecified"), *path, "tax_behavior")
        unit_amount = int(unit) if unit == unit.to_integral_value() else None
        price = {
            "id": new_id("price_"),
            "object": "price",
            "active": False,
            "billing_scheme": "per_unit",
            "created": int(self.clock()),
            "currency": currency,
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": None,
            "metadata": {},
            "nickname": None,
            "product": product,
            "recurring": recurring,
            "tax_behavior": tax_behavior,
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit),
        }
        return price, unit, description

    def _line_item_object(self, item: _LineItem) -> dict[str, Any]:
        return {
            "id": new_id("li_"),
            "object": "item",
            "adjustable_quantity": None,
            "amount_discount": 0,
            "amount_subtotal": item.amount,
            "amount_tax": 0,
            "amount_total": item.amount,
            "currency": item.currency,
            "description": item.description,
            "metadata": {},
            "price": item.price,
            "quantity": item.quantity,
        }

"""Prices a test registers (`add_price`) for line items to name, and `GET /v1/prices/{id}`."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tests.fakes.stripe.errors import (
    _no_such,
)
from tests.fakes.stripe.params import (
    _check_known,
    _expand,
    new_id,
)


class Prices:
    """FakeStripe's prices (its state is set up by `FakeStripe.__init__`)."""

    def add_price(
        self,
        price_id: str,
        *,
        unit_amount: int,
        currency: str,
        recurring: Mapping[str, Any] | None = None,
        product: str | None = None,
        product_name: str | None = None,
        active: bool = True,
        nickname: str | None = None,
        lookup_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Register a Price that line items may name by id; returns the price object."""
        price = {
            "id": price_id,
            "object": "price",
            "active": active,
            "billing_scheme": "per_unit",
            "created": int(self.clock()),
            "currency": currency.lower(),
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": lookup_key,
            "metadata": dict(metadata or {}),
            "nickname": nickname,
            "product": product or new_id("prod_", 14),
            "recurring": _recurring_object(recurring) if recurring else None,
            "tax_behavior": "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        }
        with self._lock:
            self._prices[price_id] = price
            self._price_products[price_id] = product_name or nickname or price_id
        return copy.deepcopy(price)

    def _retrieve_price(self, price_id: str, params: dict[str, Any]) -> dict[str, Any]:
        _check_known(params, frozenset(("expand",)))
        _expand(params, ())
        with self._lock:
            price = self._prices.get(price_id)
            if price is None:
                raise _no_such("price", price_id, "price")
            return copy.deepcopy(price)


def _recurring_object(recurring: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "interval": recurring["interval"],
        "interval_count": int(recurring.get("interval_count", 1)),
        "meter": None,
        "trial_period_days": recurring.get("trial_period_days"),
        "usage_type": recurring.get("usage_type", "licensed"),
    }

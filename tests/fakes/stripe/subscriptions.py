"""Subscriptions a test registers (`add_subscription`): `GET /v1/subscriptions/{id}`,
`POST /v1/subscriptions/{id}` (cancel_at_period_end) and `DELETE /v1/subscriptions/{id}`
(cancel now)."""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.stripe.errors import _invalid, _no_such
from tests.fakes.stripe.params import _boolean, _check_known


class Subscriptions:
    """FakeStripe's subscriptions (state set up by `FakeStripe.__init__`)."""

    def add_subscription(self, subscription_id: str, *, customer: str = "cus_test",
                         current_period_end: int = 0) -> dict[str, Any]:  # fmt: skip
        subscription = {
            "id": subscription_id,
            "object": "subscription",
            "customer": customer,
            "status": "active",
            "cancel_at_period_end": False,
            "canceled_at": None,
            "current_period_end": current_period_end,
            "metadata": {},
        }
        with self._lock:
            self._subscriptions[subscription_id] = subscription
        return copy.deepcopy(subscription)

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._subscriptions[subscription_id])

    def _found(self, subscription_id: str) -> dict[str, Any]:
        subscription = self._subscriptions.get(subscription_id)
        if subscription is None:
            raise _no_such("subscription", subscription_id, "id")
        return subscription

    def _retrieve_subscription(self, subscription_id: str) -> dict:
        with self._lock:
            return copy.deepcopy(self._found(subscription_id))

    def _update_subscription(self, subscription_id: str, params: dict[str, Any]) -> dict:
        _check_known(params, frozenset({"cancel_at_period_end", "metadata", "expand"}))
        with self._lock:
            subscription = self._found(subscription_id)
            if subscription["status"] == "canceled":
                raise _invalid(
                    "A canceled subscription can only update its cancellation_details and metadata."
                )
            if "cancel_at_period_end" in params:
                subscription["cancel_at_period_end"] = _boolean(
                    params["cancel_at_period_end"], "cancel_at_period_end"
                )
            return copy.deepcopy(subscription)

    def _cancel_subscription(self, subscription_id: str, params: dict[str, Any]) -> dict:
        _check_known(params, frozenset({"invoice_now", "prorate", "expand"}))
        with self._lock:
            subscription = self._found(subscription_id)
            if subscription["status"] == "canceled":
                raise _invalid(
                    f"No such subscription: '{subscription_id}'", "id"
                )  # Stripe: a canceled subscription cannot be canceled again
            subscription["status"] = "canceled"
            subscription["canceled_at"] = int(self.clock())
            return copy.deepcopy(subscription)

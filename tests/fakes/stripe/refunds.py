"""Payments a test registers (`add_payment_intent`, and a paid invoice's payment with
`add_invoice_payment`, listed by `GET /v1/invoice_payments` by invoice or by PaymentIntent,
the invoice expandable) and `POST /v1/refunds` against them, which emits the
`charge.refunded` event Stripe would send (`refund_events`). `invoice_payment_reads`
counts the listings by PaymentIntent the fake was asked for."""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.stripe.errors import StripeErrorResponse, _invalid, _missing, _no_such
from tests.fakes.stripe.params import (
    _check_known,
    _enum,
    _expand,
    _hash,
    _integer,
    _metadata,
    _string,
    new_id,
)

REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


class Refunds:
    """FakeStripe's PaymentIntents and refunds (state set up by `FakeStripe.__init__`)."""

    def add_payment_intent(
        self, intent_id: str, *, amount: int, currency: str = "aud",
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """A succeeded PaymentIntent with its charge, which refunds may name."""
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount,
            "currency": currency,
            "latest_charge": new_id("ch_", 24),
            "metadata": dict(metadata or {}),
            "status": "succeeded",
            "amount_refunded": 0,
        }
        with self._lock:
            self._intents[intent_id] = intent
        return copy.deepcopy(intent)

    def add_invoice_payment(
        self, invoice_id: str, *, amount: int, currency: str = "aud",
        intent_id: str | None = None, invoice: dict[str, Any] | None = None,
    ) -> str:  # fmt: skip
        """A paid invoice's payment: a PaymentIntent (no metadata, as a subscription's or a
        Dashboard invoice's are made; `intent_id` to name it) that refunds may name; its
        id. `invoice`: the invoice object an `expand[]=data.invoice` shows (else one with
        its id and nothing else)."""
        intent = self.add_payment_intent(
            intent_id or new_id("pi_"), amount=amount, currency=currency
        )
        payment = {
            "id": new_id("inpay_", 24),
            "object": "invoice_payment",
            "amount_paid": amount,
            "amount_requested": amount,
            "created": int(self.clock()),
            "currency": currency,
            "invoice": invoice_id,
            "is_default": True,
            "livemode": False,
            "payment": {"type": "payment_intent", "payment_intent": intent["id"]},
            "status": "paid",
            "status_transitions": {"canceled_at": None, "paid_at": int(self.clock())},
        }
        with self._lock:
            self._invoice_payments.append(payment)
            self._invoices[invoice_id] = copy.deepcopy(
                invoice or {"id": invoice_id, "object": "invoice"}
            )
        return intent["id"]

    def _list_invoice_payments(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_known(params, frozenset({"invoice", "payment", "status", "limit", "expand"}))
        invoice = _string(params["invoice"], "invoice") if "invoice" in params else None
        status = _enum(params["status"], ("canceled", "open", "paid"), "status") if (
            "status" in params) else None  # fmt: skip
        intent = record = None
        if "payment" in params:  # Stripe: `type` is required, and names the id to filter by
            payment = _hash(params["payment"], "payment")
            _check_known(payment, frozenset({"type", "payment_intent", "payment_record"}),
                         "payment")  # fmt: skip
            if "type" not in payment:
                raise _missing("payment[type]")
            kind = _enum(payment["type"], ("payment_intent", "payment_record"), "payment", "type")
            if kind not in payment:
                raise _missing(f"payment[{kind}]")
            intent = _string(payment[kind], "payment", kind) if kind == "payment_intent" else None
            record = _string(payment[kind], "payment", kind) if kind == "payment_record" else None
        expand = _expand(params, ("data.invoice", "data.payment.payment_intent"))
        limit = 10 if params.get("limit") is None else _integer(params["limit"], "limit",
                                                                 minimum=1)  # fmt: skip
        if limit > 100:
            raise _invalid("This value must be less than or equal to 100.", "limit")
        with self._lock:
            if intent is not None:
                self._invoice_payment_reads[intent] = self._invoice_payment_reads.get(intent, 0) + 1
            found = [
                copy.deepcopy(p) for p in reversed(self._invoice_payments)
                if (invoice is None or p["invoice"] == invoice)
                and (status is None or p["status"] == status)
                and (intent is None or p["payment"].get("payment_intent") == intent)
                and record is None  # no payment records here
            ]  # fmt: skip
            for p in found:
                if "data.invoice" in expand:
                    p["invoice"] = copy.deepcopy(self._invoices[p["invoice"]])
                if "data.payment.payment_intent" in expand:
                    pi = p["payment"]["payment_intent"]
                    p["payment"]["payment_intent"] = copy.deepcopy(self._intents[pi])
        return {"object": "list", "data": found[:limit], "has_more": len(found) > limit,
                "url": "/v1/invoice_payments"}  # fmt: skip

    def invoice_payment_reads(self, payment_intent_id: str) -> int:
        """How many times the invoice payments of this PaymentIntent were listed (answered
        or not: an injected failure or a request while `down()` is not counted)."""
        with self._lock:
            return self._invoice_payment_reads.get(payment_intent_id, 0)

    @property
    def refunds(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(r) for r in self._refunds]

    def refund_events(self) -> list[dict[str, Any]]:
        """The `charge.refunded` events the refunds made, oldest first (to deliver)."""
        with self._lock:
            return [copy.deepcopy(e) for e in self._refund_events]

    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_known(params, frozenset({"payment_intent", "charge", "amount", "metadata",
                                        "reason", "expand"}))  # fmt: skip
        if "payment_intent" not in params:
            raise _missing("payment_intent")
        intent_id = _string(params["payment_intent"], "payment_intent")
        with self._lock:
            intent = self._intents.get(intent_id)
            if intent is None:
                raise _no_such("payment_intent", intent_id, "payment_intent")
            left = intent["amount"] - intent["amount_refunded"]
            amount = left
            if "amount" in params:
                amount = _integer(params["amount"], "amount", minimum=1)
            if left == 0:
                raise StripeErrorResponse(
                    400, f"Charge {intent['latest_charge']} has already been refunded.",
                    code="charge_already_refunded",
                )  # fmt: skip
            if amount > left:
                raise _invalid(
                    f"Refund amount ({amount / 100:.2f}) is greater than unrefunded amount on"
                    f" charge ({left / 100:.2f})", "amount", "amount_too_large",
                )  # fmt: skip
            reason = None
            if "reason" in params:
                reason = _enum(params["reason"], REFUND_REASONS, "reason")
            metadata = _metadata(params["metadata"], "metadata") if "metadata" in params else {}
            intent["amount_refunded"] += amount
            refund = {
                "id": new_id("re_", 24),
                "object": "refund",
                "amount": amount,
                "charge": intent["latest_charge"],
                "created": int(self.clock()),
                "currency": intent["currency"],
                "metadata": metadata,
                "payment_intent": intent_id,
                "reason": reason,
                "status": "succeeded",
            }
            self._refunds.append(refund)
            charge = {
                "id": intent["latest_charge"],
                "object": "charge",
                "amount": intent["amount"],
                "amount_captured": intent["amount"],
                "amount_refunded": intent["amount_refunded"],
                "currency": intent["currency"],
                "metadata": dict(intent["metadata"]),
                "paid": True,
                "payment_intent": intent_id,
                "refunded": intent["amount_refunded"] >= intent["amount"],
                "status": "succeeded",
            }
            event = self.add_event({"type": "charge.refunded", "data": {"object": charge}})
            self._refund_events.append(event)
            return copy.deepcopy(refund)

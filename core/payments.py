"""Reading Stripe's objects into what fulfilment needs, and the order's payment state rules.

Pure: takes decoded event bodies, returns plain values.

State only moves forward: pending → paid → partially refunded → refunded, with
failed and expired as ends of the unpaid path and disputed reachable from any paid state.
A late `payment_failed` after `paid` is recorded, never applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.phones import mobile_or_none

# Higher rank wins; a change to a lower or equal rank is not applied.
_RANK = {
    "pending": 0,
    "failed": 1,  # a declined attempt: the session stays open, the parent may try again
    "expired": 2,  # the session is over (also after a decline): its places go back
    "paid": 3,
    "partially_refunded": 4,
    "refunded": 5,
    "disputed": 6,
}


def moves_forward(current: str, new: str) -> bool:
    """Whether a payment status change is applied. A failed or expired checkout can still
    be paid (BECS debits succeed late; a second attempt on the same session succeeds)."""
    return _RANK[new] > _RANK[current]


@dataclass(frozen=True)
class PaymentFacts:
    """What a payment event says, whichever object carried it."""

    order_id: str | None  # from metadata.order_id or client_reference_id
    checkout_session_id: str | None
    payment_intent_id: str | None
    subscription_id: str | None
    customer_id: str | None
    email: str | None
    name: str | None
    amount: int | None  # cents received (or to be received)
    currency: str | None
    metadata: dict[str, str]
    phone: str | None = None  # the customer's mobile, E.164, when Stripe has a usable one


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _id_of(value: Any) -> str | None:
    """Stripe fields that are an id, or the expanded object carrying one."""
    if isinstance(value, dict):
        return _text(value.get("id"))
    return _text(value)


def has_cart(facts: PaymentFacts) -> bool:
    """Whether the payment carries a storefront cart in its metadata."""
    return any(key == "tt_items" or key.startswith("tt_items_") for key in facts.metadata)


def facts_from(event_type: str, obj: dict[str, Any]) -> PaymentFacts:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    metadata = {str(k): str(v) for k, v in metadata.items()}
    if event_type.startswith("checkout.session."):
        details = (
            obj.get("customer_details") if isinstance(obj.get("customer_details"), dict) else {}
        )
        return PaymentFacts(
            order_id=_text(metadata.get("order_id")) or _text(obj.get("client_reference_id")),
            checkout_session_id=_text(obj.get("id")),
            payment_intent_id=_id_of(obj.get("payment_intent")),
            subscription_id=_id_of(obj.get("subscription")),
            customer_id=_id_of(obj.get("customer")),
            email=_text(details.get("email")) or _text(obj.get("customer_email")),
            name=_text(details.get("name")),
            amount=obj.get("amount_total") if isinstance(obj.get("amount_total"), int) else None,
            currency=_text(obj.get("currency")),
            metadata=metadata,
            phone=mobile_or_none(details.get("phone")),
        )
    if event_type.startswith("payment_intent."):
        return PaymentFacts(
            order_id=_text(metadata.get("order_id")),
            checkout_session_id=None,
            payment_intent_id=_text(obj.get("id")),
            subscription_id=None,
            customer_id=_id_of(obj.get("customer")),
            email=_text(obj.get("receipt_email")),
            name=None,
            amount=_int(obj.get("amount_received")) or _int(obj.get("amount")),
            currency=_text(obj.get("currency")),
            metadata=metadata,
        )
    if event_type.startswith("charge."):
        billing = obj.get("billing_details") if isinstance(obj.get("billing_details"), dict) else {}
        return PaymentFacts(
            order_id=_text(metadata.get("order_id")),
            checkout_session_id=None,
            payment_intent_id=_id_of(obj.get("payment_intent")),
            subscription_id=None,
            customer_id=_id_of(obj.get("customer")),
            email=_text(billing.get("email")) or _text(obj.get("receipt_email")),
            name=_text(billing.get("name")),
            amount=_int(obj.get("amount")),
            currency=_text(obj.get("currency")),
            metadata=metadata,
        )
    return PaymentFacts(None, None, None, None, None, None, None, None, None, metadata)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Refund:
    charge_amount: int
    amount_refunded: int
    currency: str = "aud"

    @property
    def full(self) -> bool:
        return self.amount_refunded >= self.charge_amount


def refund_from(charge: dict[str, Any]) -> Refund | None:
    amount, refunded = _int(charge.get("amount")), _int(charge.get("amount_refunded"))
    if amount is None or refunded is None:
        return None
    currency = charge.get("currency")
    return Refund(amount, refunded, currency if isinstance(currency, str) else "aud")


# --- is it the right money? ----------------------------------------------------------------

# Currencies Stripe counts in whole units, not cents (docs.stripe.com/currencies).
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
     "vuv", "xaf", "xof", "xpf"}
)  # fmt: skip
# Currencies Stripe counts in thousandths.
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


def money_text(amount: int, currency: str) -> str:
    """Stripe's integer amount as people read it: `119.00 AUD`, `1 JPY`, `1.500 KWD`."""
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return f"{amount:,} {code.upper()}"
    if code in THREE_DECIMAL_CURRENCIES:
        return f"{amount / 1000:,.3f} {code.upper()}"
    return f"{amount / 100:,.2f} {code.upper()}"


def dollars(amount: int | None, currency: str | None) -> str:
    """Money as staff and families read it: `$89.00` for Australian dollars, `89.00 USD` or
    `1 JPY` for another currency, never raw cents."""
    if amount is None:
        return "an unknown amount"
    if currency is None or currency.lower() == "aud":
        sign = "-" if amount < 0 else ""
        return f"{sign}${abs(amount) / 100:,.2f}"
    return money_text(amount, currency)


def same_currency(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.lower() == b.lower()


def payment_problem(
    order_total: int, currency: str, paid_amount: int | None, paid_currency: str | None
) -> str | None:
    """What is wrong with a payment for an order of `order_total` in `currency`, or None when
    it is exactly that. A payment that names no amount or no currency is not trusted."""
    expected = dollars(order_total, currency)
    if paid_currency is None:
        return f"the payment names no currency; the order is {expected}"
    if paid_amount is None:
        return f"the payment names no amount; the order is {expected}"
    paid = dollars(paid_amount, paid_currency)
    if not same_currency(paid_currency, currency):
        return f"paid {paid}, but the order is {expected}: wrong currency"
    if paid_amount < order_total:
        return f"paid {paid}, but the order is {expected}: underpaid"
    if paid_amount > order_total:
        return f"paid {paid}, but the order is {expected}: overpaid"
    return None


def amount_paid(currency: str, paid_amount: int | None, paid_currency: str | None) -> int:
    """What the order records as paid, in its own currency: nothing for another currency."""
    if paid_amount is None or not same_currency(paid_currency, currency):
        return 0
    return paid_amount

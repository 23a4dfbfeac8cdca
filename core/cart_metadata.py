"""Carts in Stripe metadata: how the storefront writes them, and how we read them back.

For payments the storefront took itself (its own PaymentIntent flow), the cart travels in the
payment's metadata: ``tt_items`` (the checkout items as JSON, split into ``tt_items_0``,
``tt_items_1``… when longer than one metadata value holds) and ``tt_customer``. The webhook
reads it back with ``parse_metadata_cart``, on the same item rules as the checkout
(`core/cart_rules.py`), but as a payment already made: a day now past is still a booking,
notes are dropped rather than refused, and text is not held to rules newer than the cart.

Pure: no I/O and no clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from core.cart import MAX_NAME_LENGTH, Cart, CartItem, Customer
from core.cart_fields import CHECKOUT_ONLY_KEYS, and_list, read_email, read_text
from core.cart_rules import CUSTOMER_KEYS, finish, read_items
from core.catalog import Catalog
from core.phones import mobile_or_none
from core.validation import MISSING, Problems, describe

ITEMS_KEY = "tt_items"
CUSTOMER_KEY = "tt_customer"
METADATA_VALUE_LIMIT = 500  # Stripe: characters per metadata value
# Stripe allows 50 metadata keys; 40 chunks leave room for tt_customer and the storefront's own.
MAX_METADATA_CHUNKS = 40

PERSONAL_KEYS = frozenset(CHECKOUT_ONLY_KEYS)
_CHUNK_KEY_PATTERN = re.compile(rf"{ITEMS_KEY}_(0|[1-9][0-9]*)")


def parse_metadata_cart(
    metadata: Mapping[str, str],
    catalog: Catalog,
    fallback_email: str | None,
    fallback_name: str | None,
) -> Cart:
    """The cart the storefront stored in a payment's metadata, or InvalidCart.

    ``fallback_email`` and ``fallback_name`` are the payment's own fields (receipt email,
    billing name), used for whatever ``tt_customer`` does not say.
    """
    problems = Problems()
    customer = _read_metadata_customer(metadata, fallback_email, fallback_name, problems)
    raw_items = _join_metadata_items(metadata, problems)
    items: tuple[CartItem, ...] = ()
    if raw_items is not MISSING:
        # today=None: the payment already happened, so a day now past is still a real booking.
        items = read_items(
            raw_items, f"metadata.{ITEMS_KEY}", catalog, problems, today=None, at_checkout=False
        )
    return finish(problems, customer, items, catalog)


def encode_metadata_cart(
    items: list[dict[str, Any]], customer: dict[str, Any] | None = None
) -> dict[str, str]:
    """Stripe metadata carrying ``items`` (checkout format), as the storefront writes it.

    Students' ``notes`` and contacts are left out: they are personal data and stay out of
    Stripe.
    """
    text = json.dumps([_without_notes(item) for item in items], separators=(",", ":"))
    if len(text) <= METADATA_VALUE_LIMIT:
        metadata = {ITEMS_KEY: text}
    else:
        chunks = [
            text[start : start + METADATA_VALUE_LIMIT]
            for start in range(0, len(text), METADATA_VALUE_LIMIT)
        ]
        if len(chunks) > MAX_METADATA_CHUNKS:
            raise ValueError(
                f"cart is {len(text)} characters of JSON: {len(chunks)} metadata chunks of "
                f"{METADATA_VALUE_LIMIT}, but at most {MAX_METADATA_CHUNKS} fit in Stripe metadata"
            )
        metadata = {f"{ITEMS_KEY}_{index}": chunk for index, chunk in enumerate(chunks)}
    if customer is not None:
        encoded = json.dumps(customer, separators=(",", ":"))
        if len(encoded) > METADATA_VALUE_LIMIT:
            raise ValueError(
                f"customer is {len(encoded)} characters of JSON; a Stripe metadata value holds "
                f"at most {METADATA_VALUE_LIMIT}"
            )
        metadata[CUSTOMER_KEY] = encoded
    return metadata


def _without_notes(item: dict[str, Any]) -> dict[str, Any]:
    """The item without the student's notes and contacts (personal data)."""
    student = item.get("student")
    if not isinstance(student, dict) or not PERSONAL_KEYS & student.keys():
        return item
    # Copies, so the caller's checkout body keeps its notes.
    return {**item, "student": {k: v for k, v in student.items() if k not in PERSONAL_KEYS}}


def _join_metadata_items(metadata: Mapping[str, str], problems: Problems) -> Any:
    """The decoded ``tt_items`` array (not yet checked), or MISSING after reporting why."""
    path = f"metadata.{ITEMS_KEY}"
    chunks: dict[int, Any] = {}
    for key, value in metadata.items():
        match = _CHUNK_KEY_PATTERN.fullmatch(key)
        if match:
            chunks[int(match[1])] = value
    whole = metadata.get(ITEMS_KEY)

    if whole is not None and chunks:
        # Which one is current cannot be told, and guessing could book the wrong cart.
        first = f"{ITEMS_KEY}_{min(chunks)}"
        problems.add(path, f"both {ITEMS_KEY} and {first} are present; expected one or the other")
        return MISSING
    if whole is None and not chunks:
        problems.add(path, f"missing (neither {ITEMS_KEY} nor {ITEMS_KEY}_0 is present)")
        return MISSING

    if whole is not None:
        parts = {ITEMS_KEY: whole}
        source = ""
    else:
        present = sorted(chunks)
        gaps = [index for index in range(present[-1] + 1) if index not in chunks]
        for index in gaps:
            are = "chunk {} is" if len(present) == 1 else "chunks {} are"
            problems.add(f"{path}_{index}", f"missing: {are.format(and_list(present))} present")
        if gaps:
            return MISSING
        parts = {f"{ITEMS_KEY}_{index}": chunks[index] for index in present}
        source = f" (joined from {ITEMS_KEY}_0 to {ITEMS_KEY}_{present[-1]})"

    bad = [key for key, value in parts.items() if not isinstance(value, str)]
    for key in bad:
        problems.add(f"metadata.{key}", f"expected text, got {describe(parts[key])}")
    if bad:
        return MISSING
    try:
        items = json.loads("".join(parts.values()))
    except ValueError as err:
        problems.add(path, f"not valid JSON{source}: {err}")
        return MISSING
    if not isinstance(items, list):
        problems.add(path, f"expected a JSON array of items{source}, got {describe(items)}")
        return MISSING
    return items


def _read_metadata_customer(
    metadata: Mapping[str, str],
    fallback_email: str | None,
    fallback_name: str | None,
    problems: Problems,
) -> Customer | None:
    path = f"metadata.{CUSTOMER_KEY}"
    given: dict[str, Any] = {}
    raw = metadata.get(CUSTOMER_KEY)
    if raw is not None:
        decoded: Any = MISSING
        if not isinstance(raw, str):
            problems.add(path, f"expected text, got {describe(raw)}")
        else:
            try:
                decoded = json.loads(raw)
            except ValueError as err:
                problems.add(path, f"not valid JSON: {err}")
        if decoded is not MISSING and not isinstance(decoded, dict):
            problems.add(
                path, f"expected a JSON object with email and name, got {describe(decoded)}"
            )
        elif isinstance(decoded, dict):
            problems.reject_unknown_keys(decoded, CUSTOMER_KEYS, path)
            given = decoded

    # Field by field: a tt_customer holding only the name still uses the payment's email.
    if "email" in given:
        email = read_email(given["email"], f"{path}.email", problems)
    elif fallback_email is not None and fallback_email.strip():
        email = read_email(fallback_email, "customer.email", problems)
    else:
        email = None
        problems.add(
            "customer.email", f"missing (not in metadata.{CUSTOMER_KEY}, and the payment has none)"
        )

    if "name" in given:
        name = read_text(given["name"], f"{path}.name", problems, MAX_NAME_LENGTH)
    elif fallback_name is not None and fallback_name.strip():
        name = read_text(fallback_name, "customer.name", problems, MAX_NAME_LENGTH)
    else:
        name = ""  # see Customer.name
    # A bad number is left out, never a reason to hold up a payment already made.
    phone = mobile_or_none(given.get("phone"))
    if email is None or name is None:
        return None
    return Customer(email=email, name=name, phone=phone)

"""The rules every cart follows, whichever door it came in by (see `core/cart.py`).

``validate_checkout`` applies them to a ``POST /api/checkout`` body; `core/cart_metadata.py`
applies them to a cart read back from a payment's Stripe metadata. The two differ in what
``at_checkout`` says: only at checkout may a student carry notes, and only there is typed
text held to `core/validation.py`'s character rules, since a payment already made is
fulfilled even if its cart was stored before a rule existed.

Pure: no I/O and no clock. Callers pass ``today``; the metadata door passes none, because a
payment that already happened may well be for a day that has since gone by.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import date, time
from typing import Any

from core.cart import (
    MAX_ITEMS,
    MAX_NAME_LENGTH,
    Cart,
    CartItem,
    Customer,
    InvalidCart,
    Problem,
    Student,
    day_label,
    item_description,
    item_price,
)
from core.cart_fields import (
    age_on,
    and_list,
    name_key,
    not_for_kind,
    read_date,
    read_email,
    read_mobile,
    read_session,
    read_slot,
    read_student,
    read_text,
)
from core.catalog import WEEKDAYS, Camp, Catalog, Ignite, Party, Product
from core.validation import MISSING, Problems, child, describe, unknown_key

CUSTOMER_KEYS = ("email", "name", "phone")
_BODY_KEYS = ("customer", "items")
_ITEM_KEYS: Mapping[str, tuple[str, ...]] = {
    "camp": ("product_id", "date", "session", "student"),
    "party": ("product_id", "date", "start_time", "student"),
    "ignite": ("product_id", "student"),
}
_ANY_ITEM_KEYS = ("product_id", "date", "session", "start_time", "student")


def validate_checkout(body: object, catalog: Catalog, today: date) -> Cart:
    """The cart in a ``POST /api/checkout`` body (any decoded JSON value), or InvalidCart."""
    if not isinstance(body, dict):
        expected = "expected a JSON object with customer and items"
        raise InvalidCart([Problem("", f"{expected}, got {describe(body)}")])
    problems = Problems()
    problems.reject_unknown_keys(body, _BODY_KEYS, "")
    customer = read_customer(body.get("customer", MISSING), "customer", problems, typed=True)
    items = read_items(
        body.get("items", MISSING), "items", catalog, problems, today=today, at_checkout=True
    )
    return finish(problems, customer, items, catalog)


def finish(
    problems: Problems, customer: Customer | None, items: tuple[CartItem, ...], catalog: Catalog
) -> Cart:
    if problems.found:
        raise InvalidCart(problems.found)
    # Without problems every reader returned a value; this assert only informs the type checker.
    assert customer is not None
    return Cart(customer=customer, items=items, currency=catalog.currency)


def read_customer(value: Any, path: str, problems: Problems, *, typed: bool) -> Customer | None:
    """The customer, or None after reporting why not; `typed` applies the rules for text
    typed at checkout (see `core/validation.text`)."""
    if value is MISSING:
        problems.add(path, "missing (required)")
        return None
    if not isinstance(value, dict):
        problems.add(path, f"expected an object with email and name, got {describe(value)}")
        return None
    problems.reject_unknown_keys(value, CUSTOMER_KEYS, path)
    email = read_email(value.get("email", MISSING), child(path, "email"), problems)
    name = read_text(
        value.get("name", MISSING), child(path, "name"), problems, MAX_NAME_LENGTH, typed=typed
    )
    phone = read_mobile(value.get("phone", MISSING), child(path, "phone"), problems)
    if email is None or name is None:
        return None
    return Customer(email=email, name=name, phone=phone)


def read_items(
    value: Any,
    path: str,
    catalog: Catalog,
    problems: Problems,
    *,
    today: date | None,
    at_checkout: bool,
) -> tuple[CartItem, ...]:
    if value is MISSING:
        problems.add(path, "missing (required)")
        return ()
    if not isinstance(value, list):
        problems.add(path, f"expected a list of items, got {describe(value)}")
        return ()
    if not value:
        problems.add(path, "must contain at least one item")
    elif len(value) > MAX_ITEMS:
        problems.add(path, f"at most {MAX_ITEMS} items per order, got {len(value)}")
    reader = _ItemReader(catalog, problems, today=today, at_checkout=at_checkout)
    items = [
        reader.read(raw, position, f"{path}[{position}]") for position, raw in enumerate(value)
    ]
    return tuple(item for item in items if item is not None)


class _ItemReader:
    """Reads items one by one, remembering earlier ones to catch a student booked twice."""

    def __init__(
        self, catalog: Catalog, problems: Problems, *, today: date | None, at_checkout: bool
    ) -> None:
        self.products = catalog.products
        self.problems = problems
        self.today = today
        self.at_checkout = at_checkout
        # (product id, camp day or None for Ignite, student name key) -> path of first item
        self.booked: dict[tuple[str, date | None, str], str] = {}

    def read(self, raw: Any, position: int, path: str) -> CartItem | None:
        """The item, or None once any problem with it is reported."""
        if not isinstance(raw, dict):
            self.problems.add(path, f"expected an object, got {describe(raw)}")
            return None
        before = len(self.problems)
        product = self._product(raw.get("product_id", MISSING), child(path, "product_id"))
        self._check_keys(raw, product, path)
        student = read_student(
            raw.get("student", MISSING),
            child(path, "student"),
            self.problems,
            today=self.today,
            at_checkout=self.at_checkout,
        )

        day: date | None = None
        session: str | None = None
        start_time: time | None = None
        if isinstance(product, Camp):
            day = self._camp_day(raw.get("date", MISSING), child(path, "date"), product)
            session = read_session(
                raw.get("session", MISSING), child(path, "session"), self.problems
            )
        elif isinstance(product, Party):
            day = self._party_day(raw.get("date", MISSING), child(path, "date"), product)
            start_time = read_slot(
                raw.get("start_time", MISSING), child(path, "start_time"), product, self.problems
            )

        if student is not None and isinstance(product, Camp | Ignite):
            # A date of birth is judged on the camp day, or today for Ignite. Without one (a bad
            # camp day, or an Ignite item from metadata) only a stated age can be checked.
            on = day if isinstance(product, Camp) else self.today
            self._check_age(student, product, on, child(path, "student"))
            self._check_booked_twice(student, product, day, path)

        if len(self.problems) > before or product is None or student is None:
            return None
        return CartItem(
            position=position,
            product_id=product.id,
            kind=product.kind,
            date=day,
            session=session,
            start_time=start_time,
            student=student,
            unit_amount=item_price(product, session),
            description=item_description(product, day, session, start_time),
        )

    def _product(self, value: Any, path: str) -> Product | None:
        product_id = read_text(value, path, self.problems)
        if product_id is None:
            return None
        product = self.products.get(product_id)
        if product is None:
            close = difflib.get_close_matches(product_id, list(self.products), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.problems.add(path, f"unknown product {product_id!r}{hint}")
        return product

    def _check_keys(self, raw: dict[Any, Any], product: Product | None, path: str) -> None:
        # With an unknown product every item key is given the benefit of the doubt.
        allowed = _ITEM_KEYS[product.kind] if product is not None else _ANY_ITEM_KEYS
        for key in raw:
            if key in allowed:
                continue
            if product is not None and key in _ANY_ITEM_KEYS:
                message = not_for_kind(product, key)
            else:
                message = unknown_key(key, allowed)
            self.problems.add(child(path, str(key)), message)

    def _camp_day(self, value: Any, path: str, camp: Camp) -> date | None:
        day = read_date(value, path, self.problems)
        if day is None:
            return None
        if day not in camp.dates:
            self.problems.add(path, f"{day} is not a day of {camp.name}")
            return None
        return self._not_past(day, path)

    def _party_day(self, value: Any, path: str, party: Party) -> date | None:
        day = read_date(value, path, self.problems)
        if day is None:
            return None
        if not party.first_date <= day <= party.last_date:
            period = f"{party.first_date} to {party.last_date}"
            self.problems.add(path, f"{day} is outside {party.name}'s booking period ({period})")
            return None
        if day.weekday() not in party.weekdays:
            weekday = WEEKDAYS[day.weekday()].title()
            runs_on = and_list([f"{WEEKDAYS[n].title()}s" for n in party.weekdays])
            self.problems.add(path, f"{day} is a {weekday}; {party.name} runs on {runs_on}")
            return None
        return self._not_past(day, path)

    def _not_past(self, day: date, path: str) -> date | None:
        # Today itself is still bookable: the storefront closes same-day sales if it must.
        if self.today is not None and day < self.today:
            self.problems.add(path, f"{day} is in the past")
            return None
        return day

    def _check_age(
        self, student: Student, product: Camp | Ignite, on: date | None, path: str
    ) -> None:
        if student.age is not None:
            age, field, stated = student.age, "age", f"{student.name} is {student.age}"
        elif student.date_of_birth is not None and on is not None:
            if student.date_of_birth > on:
                # Only reachable without `today` (metadata): at checkout it is "in the future".
                self.problems.add(
                    child(path, "date_of_birth"), f"{student.date_of_birth} is after {on}"
                )
                return
            age, field = age_on(student.date_of_birth, on), "date_of_birth"
            stated = f"{student.name} is {age} on {day_label(on)}"
        else:
            return
        if not product.min_age <= age <= product.max_age:
            ages = f"{product.min_age}\N{EN DASH}{product.max_age}"
            self.problems.add(child(path, field), f"{stated}; {product.name} is for ages {ages}")

    def _check_booked_twice(
        self, student: Student, product: Camp | Ignite, day: date | None, item_path: str
    ) -> None:
        if isinstance(product, Camp) and day is None:
            return
        # Either session counts: a child cannot be in the same camp twice on one day.
        key = (product.id, day, name_key(student.name))
        first = self.booked.setdefault(key, item_path)
        if first == item_path:
            return
        if day is None:
            message = f"{student.name} is already enrolled in {product.name} ({first})"
        else:
            on = day_label(day)
            message = f"{student.name} is already booked into {product.name} on {on} ({first})"
        self.problems.add(child(item_path, "student.name"), message)

"""Carts: what a parent is buying, checked against the catalog before any booking is made.

Carts arrive through two doors, and both apply the same item rules:

- ``validate_checkout`` checks the storefront's ``POST /api/checkout`` body before we create a
  Stripe Checkout Session for it.
- ``parse_metadata_cart`` reads the cart back out of Stripe metadata for payments the storefront
  took itself (its own PaymentIntent flow), when the webhook reports them.

Prices always come from the catalog, never from the request. A body that names a price is
rejected as having an unknown key rather than silently repriced, so a tampered or outdated
storefront shows up instead of hiding.

Every problem is collected with the exact path of the offending value (``items[0].date``) and all
of them are reported at once, so the storefront can mark every bad field in one round trip.

Pure: no I/O and no clock. Callers pass ``today``; the metadata door passes none, because a
payment that already happened may well be for a day that has since gone by.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from core.catalog import CAMP_SESSION_KINDS, WEEKDAYS, Camp, Catalog, Ignite, Party, Product
from core.typed_text import InvalidAddress, parse_address

MAX_ITEMS = 20
MAX_NAME_LENGTH = 100
MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a deliverable address
MAX_NOTES_LENGTH = 500
MIN_STUDENT_AGE, MAX_STUDENT_AGE = 2, 18

ITEMS_KEY = "tt_items"
CUSTOMER_KEY = "tt_customer"
METADATA_VALUE_LIMIT = 500  # Stripe: characters per metadata value
# Stripe allows 50 metadata keys; 40 chunks leave room for tt_customer and the storefront's own.
MAX_METADATA_CHUNKS = 40

_BODY_KEYS = ("customer", "items")
_CUSTOMER_KEYS = ("email", "name")
_ITEM_KEYS: Mapping[str, tuple[str, ...]] = {
    "camp": ("product_id", "date", "session", "student"),
    "party": ("product_id", "date", "start_time", "student"),
    "ignite": ("product_id", "student"),
}
_ANY_ITEM_KEYS = ("product_id", "date", "session", "start_time", "student")
_STUDENT_KEYS = ("name", "age", "date_of_birth", "notes")

# Python 3.11's date.fromisoformat also accepts "20270104" and "2027-W01-1"; the contract has
# one spelling, so the shape is checked before parsing (as core.catalog does).
_DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME_PATTERN = re.compile(r"([0-9]{2}):([0-9]{2})")
_CHUNK_KEY_PATTERN = re.compile(rf"{ITEMS_KEY}_(0|[1-9][0-9]*)")
# Hand-rolled so descriptions do not depend on the process locale (strftime's %b and %a do).
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_MISSING: Any = object()  # a key that is absent, as distinct from one that is null


# --- Results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CartProblem:
    """One thing wrong with a cart, at the path of the value at fault ("" is the whole body)."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.path or '(body)'}: {self.message}"


class InvalidCart(ValueError):
    """The cart cannot be sold or fulfilled; ``problems`` lists every reason, in body order."""

    def __init__(self, problems: Iterable[CartProblem]) -> None:
        self.problems = list(problems)
        # Passing the list (not the message) to ValueError keeps the error picklable.
        super().__init__(self.problems)

    def __str__(self) -> str:
        count = len(self.problems)
        heading = f"cart has {count} problem{'' if count == 1 else 's'}:"
        return "\n".join([heading, *(f"  - {problem}" for problem in self.problems)])

    def as_dict(self) -> dict[str, Any]:
        """The 422 response body of ``POST /api/checkout``."""
        return {"error": "invalid_cart", "problems": [p.as_dict() for p in self.problems]}


@dataclass(frozen=True)
class Customer:
    email: str
    # Empty only for metadata carts whose payment carried no name: the payment has already
    # happened, so it is still fulfilled, and staff can reach the parent by email.
    name: str


@dataclass(frozen=True)
class Student:
    name: str
    age: int | None  # as the parent gave it; None when they gave date_of_birth instead
    date_of_birth: date | None
    notes: str | None  # personal data (allergies etc.): never sent to Stripe


@dataclass(frozen=True)
class CartItem:
    position: int  # index in the request's items, so bookings can point back at it
    product_id: str
    kind: str  # "camp" | "party" | "ignite"
    date: date | None  # None for Ignite: a subscription, not a day
    session: str | None  # camps only: "day" | "all_day"
    start_time: time | None  # parties only
    student: Student
    unit_amount: int  # cents, from the catalog
    description: str  # shown by Stripe, so it never names the student

    @property
    def is_subscription(self) -> bool:
        return self.kind == "ignite"


@dataclass(frozen=True)
class Cart:
    customer: Customer
    items: tuple[CartItem, ...]
    currency: str

    @property
    def amount_total(self) -> int:
        """Cents for the first payment: one-off items plus the first period of each Ignite."""
        return sum(item.unit_amount for item in self.items)

    @property
    def mode(self) -> str:
        # Stripe Checkout takes one-off prices alongside recurring ones in subscription mode
        # (they go on the first invoice), so one Ignite item turns the whole cart into one.
        return "subscription" if any(item.is_subscription for item in self.items) else "payment"


# --- Checkout ------------------------------------------------------------------------------------


def validate_checkout(body: object, catalog: Catalog, today: date) -> Cart:
    """The cart in a ``POST /api/checkout`` body (any decoded JSON value), or InvalidCart."""
    if not isinstance(body, dict):
        expected = "expected a JSON object with customer and items"
        raise InvalidCart([CartProblem("", f"{expected}, got {_describe(body)}")])
    problems = _Problems()
    problems.reject_unknown_keys(body, _BODY_KEYS, "")
    customer = _read_customer(body.get("customer", _MISSING), "customer", problems)
    items = _read_items(
        body.get("items", _MISSING), "items", catalog, problems, today=today, notes_allowed=True
    )
    return _finish(problems, customer, items, catalog)


# --- Stripe metadata -----------------------------------------------------------------------------


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
    problems = _Problems()
    customer = _read_metadata_customer(metadata, fallback_email, fallback_name, problems)
    raw_items = _join_metadata_items(metadata, problems)
    items: tuple[CartItem, ...] = ()
    if raw_items is not _MISSING:
        # today=None: the payment already happened, so a day now past is still a real booking.
        items = _read_items(
            raw_items, f"metadata.{ITEMS_KEY}", catalog, problems, today=None, notes_allowed=False
        )
    return _finish(problems, customer, items, catalog)


def encode_metadata_cart(
    items: list[dict[str, Any]], customer: dict[str, Any] | None = None
) -> dict[str, str]:
    """Stripe metadata carrying ``items`` (checkout format), as the storefront writes it.

    Students' ``notes`` are left out: they are personal data and stay out of Stripe.
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
    student = item.get("student")
    if not isinstance(student, dict) or "notes" not in student:
        return item
    # Copies, so the caller's checkout body keeps its notes.
    return {**item, "student": {k: v for k, v in student.items() if k != "notes"}}


def _join_metadata_items(metadata: Mapping[str, str], problems: _Problems) -> Any:
    """The decoded ``tt_items`` array (not yet checked), or _MISSING after reporting why."""
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
        return _MISSING
    if whole is None and not chunks:
        problems.add(path, f"missing (neither {ITEMS_KEY} nor {ITEMS_KEY}_0 is present)")
        return _MISSING

    if whole is not None:
        parts = {ITEMS_KEY: whole}
        source = ""
    else:
        present = sorted(chunks)
        gaps = [index for index in range(present[-1] + 1) if index not in chunks]
        for index in gaps:
            are = "chunk {} is" if len(present) == 1 else "chunks {} are"
            problems.add(f"{path}_{index}", f"missing: {are.format(_and(present))} present")
        if gaps:
            return _MISSING
        parts = {f"{ITEMS_KEY}_{index}": chunks[index] for index in present}
        source = f" (joined from {ITEMS_KEY}_0 to {ITEMS_KEY}_{present[-1]})"

    bad = [key for key, value in parts.items() if not isinstance(value, str)]
    for key in bad:
        problems.add(f"metadata.{key}", f"expected text, got {_describe(parts[key])}")
    if bad:
        return _MISSING
    try:
        items = json.loads("".join(parts.values()))
    except ValueError as err:
        problems.add(path, f"not valid JSON{source}: {err}")
        return _MISSING
    if not isinstance(items, list):
        problems.add(path, f"expected a JSON array of items{source}, got {_describe(items)}")
        return _MISSING
    return items


def _read_metadata_customer(
    metadata: Mapping[str, str],
    fallback_email: str | None,
    fallback_name: str | None,
    problems: _Problems,
) -> Customer | None:
    path = f"metadata.{CUSTOMER_KEY}"
    given: dict[str, Any] = {}
    raw = metadata.get(CUSTOMER_KEY)
    if raw is not None:
        decoded: Any = _MISSING
        if not isinstance(raw, str):
            problems.add(path, f"expected text, got {_describe(raw)}")
        else:
            try:
                decoded = json.loads(raw)
            except ValueError as err:
                problems.add(path, f"not valid JSON: {err}")
        if decoded is not _MISSING and not isinstance(decoded, dict):
            problems.add(
                path, f"expected a JSON object with email and name, got {_describe(decoded)}"
            )
        elif isinstance(decoded, dict):
            problems.reject_unknown_keys(decoded, _CUSTOMER_KEYS, path)
            given = decoded

    # Field by field: a tt_customer holding only the name still uses the payment's email.
    if "email" in given:
        email = _read_email(given["email"], f"{path}.email", problems)
    elif fallback_email is not None and fallback_email.strip():
        email = _read_email(fallback_email, "customer.email", problems)
    else:
        email = None
        problems.add(
            "customer.email", f"missing (not in metadata.{CUSTOMER_KEY}, and the payment has none)"
        )

    if "name" in given:
        name = _read_text(given["name"], f"{path}.name", problems, MAX_NAME_LENGTH)
    elif fallback_name is not None and fallback_name.strip():
        name = _read_text(fallback_name, "customer.name", problems, MAX_NAME_LENGTH)
    else:
        name = ""  # see Customer.name
    return None if email is None or name is None else Customer(email=email, name=name)


# --- Shared rules --------------------------------------------------------------------------------


class _Problems:
    """Collects problems in the order found, which is the order of the body."""

    def __init__(self) -> None:
        self.found: list[CartProblem] = []

    def __len__(self) -> int:
        return len(self.found)

    def add(self, path: str, message: str) -> None:
        self.found.append(CartProblem(path, message))

    def reject_unknown_keys(self, value: dict[Any, Any], allowed: Iterable[str], path: str) -> None:
        allowed = list(allowed)
        for key in value:
            if key not in allowed:
                self.add(_child(path, str(key)), _unknown_key(key, allowed))


def _finish(
    problems: _Problems, customer: Customer | None, items: tuple[CartItem, ...], catalog: Catalog
) -> Cart:
    if problems.found:
        raise InvalidCart(problems.found)
    # Without problems every reader returned a value; this assert only informs the type checker.
    assert customer is not None
    return Cart(customer=customer, items=items, currency=catalog.currency)


def _read_customer(value: Any, path: str, problems: _Problems) -> Customer | None:
    if value is _MISSING:
        problems.add(path, "missing (required)")
        return None
    if not isinstance(value, dict):
        problems.add(path, f"expected an object with email and name, got {_describe(value)}")
        return None
    problems.reject_unknown_keys(value, _CUSTOMER_KEYS, path)
    email = _read_email(value.get("email", _MISSING), _child(path, "email"), problems)
    name = _read_text(value.get("name", _MISSING), _child(path, "name"), problems, MAX_NAME_LENGTH)
    return None if email is None or name is None else Customer(email=email, name=name)


def _read_items(
    value: Any,
    path: str,
    catalog: Catalog,
    problems: _Problems,
    *,
    today: date | None,
    notes_allowed: bool,
) -> tuple[CartItem, ...]:
    if value is _MISSING:
        problems.add(path, "missing (required)")
        return ()
    if not isinstance(value, list):
        problems.add(path, f"expected a list of items, got {_describe(value)}")
        return ()
    if not value:
        problems.add(path, "must contain at least one item")
    elif len(value) > MAX_ITEMS:
        problems.add(path, f"at most {MAX_ITEMS} items per order, got {len(value)}")
    reader = _ItemReader(catalog, problems, today=today, notes_allowed=notes_allowed)
    items = [
        reader.read(raw, position, f"{path}[{position}]") for position, raw in enumerate(value)
    ]
    return tuple(item for item in items if item is not None)


class _ItemReader:
    """Reads items one by one, remembering earlier ones to catch a student booked twice."""

    def __init__(
        self, catalog: Catalog, problems: _Problems, *, today: date | None, notes_allowed: bool
    ) -> None:
        self.products = catalog.products
        self.problems = problems
        self.today = today
        self.notes_allowed = notes_allowed
        # (product id, camp day or None for Ignite, student name key) -> path of first item
        self.booked: dict[tuple[str, date | None, str], str] = {}

    def read(self, raw: Any, position: int, path: str) -> CartItem | None:
        """The item, or None once any problem with it is reported."""
        if not isinstance(raw, dict):
            self.problems.add(path, f"expected an object, got {_describe(raw)}")
            return None
        before = len(self.problems)
        product = self._product(raw.get("product_id", _MISSING), _child(path, "product_id"))
        self._check_keys(raw, product, path)
        student = _read_student(
            raw.get("student", _MISSING),
            _child(path, "student"),
            self.problems,
            today=self.today,
            notes_allowed=self.notes_allowed,
        )

        day: date | None = None
        session: str | None = None
        start_time: time | None = None
        if isinstance(product, Camp):
            day = self._camp_day(raw.get("date", _MISSING), _child(path, "date"), product)
            session = _read_session(
                raw.get("session", _MISSING), _child(path, "session"), self.problems
            )
        elif isinstance(product, Party):
            day = self._party_day(raw.get("date", _MISSING), _child(path, "date"), product)
            start_time = _read_slot(
                raw.get("start_time", _MISSING), _child(path, "start_time"), product, self.problems
            )

        if student is not None and isinstance(product, Camp | Ignite):
            # A date of birth is judged on the camp day, or today for Ignite. Without one (a bad
            # camp day, or an Ignite item from metadata) only a stated age can be checked.
            on = day if isinstance(product, Camp) else self.today
            self._check_age(student, product, on, _child(path, "student"))
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
            unit_amount=_price(product, session),
            description=_description(product, day, session, start_time),
        )

    def _product(self, value: Any, path: str) -> Product | None:
        product_id = _read_text(value, path, self.problems)
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
                message = _not_for_kind(product, key)
            else:
                message = _unknown_key(key, allowed)
            self.problems.add(_child(path, str(key)), message)

    def _camp_day(self, value: Any, path: str, camp: Camp) -> date | None:
        day = _read_date(value, path, self.problems)
        if day is None:
            return None
        if day not in camp.dates:
            self.problems.add(path, f"{day} is not a day of {camp.name}")
            return None
        return self._not_past(day, path)

    def _party_day(self, value: Any, path: str, party: Party) -> date | None:
        day = _read_date(value, path, self.problems)
        if day is None:
            return None
        if not party.first_date <= day <= party.last_date:
            period = f"{party.first_date} to {party.last_date}"
            self.problems.add(path, f"{day} is outside {party.name}'s booking period ({period})")
            return None
        if day.weekday() not in party.weekdays:
            weekday = WEEKDAYS[day.weekday()].title()
            runs_on = _and([f"{WEEKDAYS[n].title()}s" for n in party.weekdays])
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
                    _child(path, "date_of_birth"), f"{student.date_of_birth} is after {on}"
                )
                return
            age, field = _age_on(student.date_of_birth, on), "date_of_birth"
            stated = f"{student.name} is {age} on {_day_label(on)}"
        else:
            return
        if not product.min_age <= age <= product.max_age:
            ages = f"{product.min_age}\N{EN DASH}{product.max_age}"
            self.problems.add(_child(path, field), f"{stated}; {product.name} is for ages {ages}")

    def _check_booked_twice(
        self, student: Student, product: Camp | Ignite, day: date | None, item_path: str
    ) -> None:
        if isinstance(product, Camp) and day is None:
            return
        # Either session counts: a child cannot be in the same camp twice on one day.
        key = (product.id, day, _name_key(student.name))
        first = self.booked.setdefault(key, item_path)
        if first == item_path:
            return
        if day is None:
            message = f"{student.name} is already enrolled in {product.name} ({first})"
        else:
            on = _day_label(day)
            message = f"{student.name} is already booked into {product.name} on {on} ({first})"
        self.problems.add(_child(item_path, "student.name"), message)


def _read_student(
    value: Any, path: str, problems: _Problems, *, today: date | None, notes_allowed: bool
) -> Student | None:
    """The student, or None if there is no usable name and age to check the item against.

    A student is returned even when, say, the notes are too long, so that the age and
    booked-twice checks still run and their problems are reported in the same round.
    """
    if value is _MISSING:
        problems.add(path, "missing (required)")
        return None
    if not isinstance(value, dict):
        problems.add(path, f"expected an object, got {_describe(value)}")
        return None
    allowed = _STUDENT_KEYS if notes_allowed else tuple(k for k in _STUDENT_KEYS if k != "notes")
    for key in value:
        if key == "notes" and not notes_allowed:
            # Notes (allergies …) should never have been put in Stripe, but the payment has
            # been made: refusing the cart would hold up a paid booking. They are dropped.
            continue
        if key not in allowed:
            problems.add(_child(path, str(key)), _unknown_key(key, allowed))

    name = _read_text(value.get("name", _MISSING), _child(path, "name"), problems, MAX_NAME_LENGTH)
    age: int | None = None
    date_of_birth: date | None = None
    if "age" in value and "date_of_birth" in value:
        problems.add(path, "give age or date_of_birth, not both")
    elif "age" not in value and "date_of_birth" not in value:
        problems.add(_child(path, "age"), "missing (give age or date_of_birth)")
    if "age" in value:
        age = _read_age(value["age"], _child(path, "age"), problems)
    if "date_of_birth" in value:
        dob_path = _child(path, "date_of_birth")
        date_of_birth = _read_date(value["date_of_birth"], dob_path, problems)
        if date_of_birth is not None and today is not None and date_of_birth > today:
            problems.add(dob_path, f"{date_of_birth} is in the future")
            date_of_birth = None

    notes: str | None = None
    raw_notes = value.get("notes")
    if notes_allowed and raw_notes is not None:  # null is as good as leaving notes out
        if not isinstance(raw_notes, str):
            problems.add(_child(path, "notes"), f"expected text, got {_describe(raw_notes)}")
        elif len(raw_notes) > MAX_NOTES_LENGTH:
            problems.add(
                _child(path, "notes"),
                f"must be at most {MAX_NOTES_LENGTH} characters, got {len(raw_notes)}",
            )
        else:
            notes = raw_notes.strip() or None

    if name is None or (age is None and date_of_birth is None):
        return None
    return Student(name=name, age=age, date_of_birth=date_of_birth, notes=notes)


def _read_text(
    value: Any, path: str, problems: _Problems, max_length: int | None = None
) -> str | None:
    """Stripped, non-empty text, or None after reporting why not."""
    if value is _MISSING:
        problems.add(path, "missing (required)")
        return None
    if not isinstance(value, str):
        problems.add(path, f"expected text, got {_describe(value)}")
        return None
    text = value.strip()
    if not text:
        problems.add(path, "must not be empty")
        return None
    if max_length is not None and len(text) > max_length:
        problems.add(path, f"must be at most {max_length} characters, got {len(text)}")
        return None
    return text


def is_email_address(text: str) -> bool:
    """Exactly one address (core/typed_text.parse_address, as the support form checks)."""
    try:
        parse_address(text)
    except InvalidAddress:
        return False
    return True


def _read_email(value: Any, path: str, problems: _Problems) -> str | None:
    email = _read_text(value, path, problems, MAX_EMAIL_LENGTH)
    if email is not None and not is_email_address(email):
        problems.add(path, f"{email!r} is not an email address")
        return None
    return email


def _read_age(value: Any, path: str, problems: _Problems) -> int | None:
    # bool is a subclass of int: without this check `"age": true` would quietly mean 1.
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(path, f"expected a whole number, got {_describe(value)}")
        return None
    if not MIN_STUDENT_AGE <= value <= MAX_STUDENT_AGE:
        problems.add(path, f"must be from {MIN_STUDENT_AGE} to {MAX_STUDENT_AGE}, got {value}")
        return None
    return value


def _read_date(value: Any, path: str, problems: _Problems) -> date | None:
    if value is _MISSING:
        problems.add(path, "missing (required)")
        return None
    if isinstance(value, str) and _DATE_PATTERN.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    shown = repr(value) if isinstance(value, str) else _describe(value)
    problems.add(path, f"{shown} is not a date (YYYY-MM-DD)")
    return None


def _read_session(value: Any, path: str, problems: _Problems) -> str | None:
    if value is _MISSING:
        problems.add(path, "missing (required: day or all_day)")
        return None
    if not isinstance(value, str) or value not in CAMP_SESSION_KINDS:
        problems.add(path, f"must be 'day' or 'all_day', got {_describe(value)}")
        return None
    return value


def _read_slot(value: Any, path: str, party: Party, problems: _Problems) -> time | None:
    slots = ", ".join(f"{slot:%H:%M}" for slot in party.slots)
    if value is _MISSING:
        problems.add(path, f"missing (required: one of {slots})")
        return None
    match = _TIME_PATTERN.fullmatch(value) if isinstance(value, str) else None
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        shown = repr(value) if isinstance(value, str) else _describe(value)
        problems.add(path, f"{shown} is not a time (HH:MM)")
        return None
    start = time(int(match[1]), int(match[2]))
    if start not in party.slots:
        problems.add(path, f"{start:%H:%M} is not a start time of {party.name} ({slots})")
        return None
    return start


# --- Helpers -------------------------------------------------------------------------------------


def _price(product: Product, session: str | None) -> int:
    if isinstance(product, Camp):
        assert session is not None  # read() only prices an item without problems
        return product.prices[session]
    return product.price


def _description(
    product: Product, day: date | None, session: str | None, start_time: time | None
) -> str:
    if isinstance(product, Camp) and day is not None:
        label = "day" if session == "day" else "all-day"
        return f"{product.name} — {_day_label(day)}, {label} session"
    if isinstance(product, Party) and day is not None and start_time is not None:
        weekday = WEEKDAYS[day.weekday()][:3].title()
        return f"{product.name} — {weekday} {_day_label(day)}, {start_time:%H:%M}"
    if isinstance(product, Ignite):
        period = "monthly" if product.billing_interval == "month" else "weekly"
        return f"{product.name} — weekly class, billed {period}"
    return product.name


def _not_for_kind(product: Product, key: str) -> str:
    if isinstance(product, Ignite):
        return f"{product.name} is a weekly subscription: it takes no {key}"
    if isinstance(product, Camp):
        return f"{product.name} is a camp: it takes a session (day or all_day), not a {key}"
    return f"{product.name} is a party: it takes a start_time, not a {key}"


def _unknown_key(key: Any, allowed: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(key), list(allowed), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
    return f"unknown key {key!r}; {hint}"


def _age_on(date_of_birth: date, day: date) -> int:
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - before_birthday


def _name_key(name: str) -> str:
    # "Mia", "mia" and "Mia " are the same child to a parent filling in a form.
    return " ".join(name.casefold().split())


def _day_label(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _and(things: Iterable[object]) -> str:
    words = [str(thing) for thing in things]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__

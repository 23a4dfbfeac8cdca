"""The fields of a cart, one reader each: a student, texts, an email address, dates, ages,
camp sessions and party slots (used by `core/cart_rules.py`). Each reader adds what is wrong
to `problems`, under the field's path, and returns None for a value it could not read.

Pure: no I/O and no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, time
from typing import Any

from core import validation
from core.cart import (
    MAX_COLLECTORS,
    MAX_EMERGENCY_CONTACTS,
    MAX_NAME_LENGTH,
    MAX_NOTES_LENGTH,
    MAX_PHONE_LENGTH,
    MAX_STUDENT_AGE,
    MIN_STUDENT_AGE,
    Contact,
    Student,
)
from core.catalog import CAMP_SESSION_KINDS, Camp, Ignite, Party, Product
from core.phones import mobile_e164
from core.validation import MISSING, Problems, child, describe, is_email_address, unknown_key

STUDENT_KEYS = (
    "name", "age", "date_of_birth", "notes", "emergency_contacts", "authorised_collectors",
)  # fmt: skip
# Personal data a parent gives at checkout only: never put in Stripe, dropped from a cart
# read back from a payment's metadata.
CHECKOUT_ONLY_KEYS = ("notes", "emergency_contacts", "authorised_collectors")
CONTACT_KEYS = ("name", "phone")
PHONE_CHARACTERS = frozenset("0123456789 +()-")
MIN_PHONE_DIGITS = 8


def read_student(
    value: Any, path: str, problems: Problems, *, today: date | None, at_checkout: bool
) -> Student | None:
    """The student, or None if there is no usable name and age to check the item against.

    A student is returned even when, say, the notes are too long, so that the age and
    booked-twice checks still run and their problems are reported in the same round.
    """
    if value is MISSING:
        problems.add(path, "missing (required)")
        return None
    if not isinstance(value, dict):
        problems.add(path, f"expected an object, got {describe(value)}")
        return None
    allowed = (
        STUDENT_KEYS
        if at_checkout
        else tuple(k for k in STUDENT_KEYS if k not in CHECKOUT_ONLY_KEYS)
    )
    for key in value:
        if key in CHECKOUT_ONLY_KEYS and not at_checkout:
            # Notes (allergies …) and contacts should never have been put in Stripe, but the
            # payment has been made: refusing the cart would hold up a paid booking. They are
            # dropped.
            continue
        if key not in allowed:
            problems.add(child(path, str(key)), unknown_key(key, allowed))

    name = read_text(
        value.get("name", MISSING),
        child(path, "name"),
        problems,
        MAX_NAME_LENGTH,
        typed=at_checkout,
    )
    age: int | None = None
    date_of_birth: date | None = None
    if "age" in value and "date_of_birth" in value:
        problems.add(path, "give age or date_of_birth, not both")
    elif "age" not in value and "date_of_birth" not in value:
        problems.add(child(path, "age"), "missing (give age or date_of_birth)")
    if "age" in value:
        age = read_age(value["age"], child(path, "age"), problems)
    if "date_of_birth" in value:
        dob_path = child(path, "date_of_birth")
        date_of_birth = read_date(value["date_of_birth"], dob_path, problems)
        if date_of_birth is not None and today is not None and date_of_birth > today:
            problems.add(dob_path, f"{date_of_birth} is in the future")
            date_of_birth = None

    notes: str | None = None
    raw_notes = value.get("notes")
    # null, like blank text, is as good as leaving notes out.
    if (
        at_checkout
        and raw_notes is not None
        and not (isinstance(raw_notes, str) and not raw_notes.strip())
    ):
        notes = problems.check(
            child(path, "notes"),
            raw_notes,
            lambda v: validation.text(v, max_length=MAX_NOTES_LENGTH, multiline=True),
        )

    contacts: tuple[Contact, ...] = ()
    collectors: tuple[Contact, ...] = ()
    if at_checkout:
        contacts = read_contacts(
            value.get("emergency_contacts"), child(path, "emergency_contacts"), problems,
            MAX_EMERGENCY_CONTACTS, phone_required=True,
        )  # fmt: skip
        collectors = read_contacts(
            value.get("authorised_collectors"), child(path, "authorised_collectors"), problems,
            MAX_COLLECTORS, phone_required=False,
        )  # fmt: skip

    if name is None or (age is None and date_of_birth is None):
        return None
    return Student(
        name=name, age=age, date_of_birth=date_of_birth, notes=notes,
        emergency_contacts=contacts, authorised_collectors=collectors,
    )  # fmt: skip


def read_contacts(
    value: Any, path: str, problems: Problems, most: int, *, phone_required: bool
) -> tuple[Contact, ...]:
    """A list of adults ({"name", "phone"}); null or absent is none. Every bad entry is
    reported at its own path (`...emergency_contacts[1].phone`)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.add(path, f"expected a list, got {describe(value)}")
        return ()
    if len(value) > most:
        problems.add(path, f"at most {most} people, got {len(value)}")
        return ()
    found = []
    for index, entry in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(entry, dict):
            problems.add(
                where, f"expected an object with a name and a phone, got {describe(entry)}"
            )
            continue
        problems.reject_unknown_keys(entry, CONTACT_KEYS, where)
        name = read_text(
            entry.get("name", MISSING), child(where, "name"), problems, MAX_NAME_LENGTH, typed=True
        )
        phone: str | None = None
        raw_phone = entry.get("phone", MISSING if phone_required else None)
        if raw_phone is not None or phone_required:
            phone = read_phone(raw_phone, child(where, "phone"), problems)
        if name is not None and (phone is not None or not phone_required):
            found.append(Contact(name=name, phone=phone))
    return tuple(found)


def read_phone(value: Any, path: str, problems: Problems) -> str | None:
    """A phone number as a person types it: digits, spaces, +, (), -; at least 8 digits."""
    phone = read_text(value, path, problems, MAX_PHONE_LENGTH, typed=True)
    if phone is None:
        return None
    if not set(phone) <= PHONE_CHARACTERS:
        problems.add(path, f"{phone!r} is not a phone number (digits, spaces, +, ( ) and -)")
        return None
    if sum(c.isdigit() for c in phone) < MIN_PHONE_DIGITS:
        problems.add(path, f"{phone!r} has fewer than {MIN_PHONE_DIGITS} digits")
        return None
    return phone


def read_text(
    value: Any, path: str, problems: Problems, max_length: int | None = None, *, typed: bool = False
) -> str | None:
    """Stripped, non-empty text, or None after reporting why not."""
    return problems.check(
        path, value, lambda v: validation.text(v, max_length=max_length, typed=typed)
    )


def read_email(value: Any, path: str, problems: Problems) -> str | None:
    email = read_text(value, path, problems, validation.MAX_ADDRESS_LENGTH)
    if email is not None and not is_email_address(email):
        problems.add(path, f"{email!r} is not an email address")
        return None
    return email


def read_mobile(value: Any, path: str, problems: Problems) -> str | None:
    """An optional mobile number, normalised to E.164 (Australian unless it says otherwise);
    null, blank or left out is none."""
    if value is MISSING or value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        problems.add(path, f"expected text, got {describe(value)}")
        return None
    try:
        return mobile_e164(value)
    except ValueError as exc:
        problems.add(path, str(exc))
        return None


def read_date(value: Any, path: str, problems: Problems) -> date | None:
    return problems.check(path, value, validation.date_value)


def read_age(value: Any, path: str, problems: Problems) -> int | None:
    age = problems.check(path, value, validation.whole_number)
    if age is not None and not MIN_STUDENT_AGE <= age <= MAX_STUDENT_AGE:
        problems.add(path, f"must be from {MIN_STUDENT_AGE} to {MAX_STUDENT_AGE}, got {age}")
        return None
    return age


def read_session(value: Any, path: str, problems: Problems) -> str | None:
    if value is MISSING:
        problems.add(path, "missing (required: day or all_day)")
        return None
    if not isinstance(value, str) or value not in CAMP_SESSION_KINDS:
        problems.add(path, f"must be 'day' or 'all_day', got {describe(value)}")
        return None
    return value


def read_slot(value: Any, path: str, party: Party, problems: Problems) -> time | None:
    slots = ", ".join(f"{slot:%H:%M}" for slot in party.slots)
    if value is MISSING:
        problems.add(path, f"missing (required: one of {slots})")
        return None
    start = problems.check(path, value, validation.time_value)
    if start is None:
        return None
    if start not in party.slots:
        problems.add(path, f"{start:%H:%M} is not a start time of {party.name} ({slots})")
        return None
    return start


# --- Helpers -----------------------------------------------------------------------------------


def not_for_kind(product: Product, key: str) -> str:
    if isinstance(product, Ignite):
        return f"{product.name} is a weekly subscription: it takes no {key}"
    if isinstance(product, Camp):
        return f"{product.name} is a camp: it takes a session (day or all_day), not a {key}"
    return f"{product.name} is a party: it takes a start_time, not a {key}"


def age_on(date_of_birth: date, day: date) -> int:
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - before_birthday


def name_key(name: str) -> str:
    # "Mia", "mia" and "Mia " are the same child to a parent filling in a form.
    return " ".join(name.casefold().split())


def and_list(things: Iterable[object]) -> str:
    words = [str(thing) for thing in things]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"

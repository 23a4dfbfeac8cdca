"""Checking values from outside: one kit for the cart, the support form and the catalog.

Every reader reports every problem at once, each at the path of the value at fault
(``items[0].date``), so one round of corrections fixes everything:

- `Problem` and `Problems`: one problem at a path, and the list a reader collects in the
  order it finds them (the order of the body). A check raises `Invalid`; `Problems.check`
  turns that into a problem at the path and gives None instead of the value.
- `text`: stripped, non-empty text within a length, without the characters no typed field
  may hold (`forbidden_characters`): control characters (C0, C1, DEL), lone surrogates
  (valid JSON, not text), bidirectional overrides that make a name read differently on a
  staff screen, and zero-width characters that hide inside a name or an address.
- `is_plain_name`: a name that is safe to put into an email to an address nobody has
  verified: letters, single spaces, hyphens and apostrophes.
- `parse_address`, `address_key`: one email address (an RFC 5322 addr-spec, checked by
  `email-validator`), and the mailbox it reaches, for counting.
- `whole_number`, `date_value`, `time_value`: one spelling each (`YYYY-MM-DD`, `HH:MM`).

Pure: no I/O.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email

MAX_ADDRESS_LENGTH = 254  # RFC 5321's limit on a deliverable address
MAX_PLAIN_NAME_LENGTH = 60
# What a multi-line field (a message, a note) may hold besides text.
LINE_BREAKS_AND_TABS = "\n\r\t"

MISSING: Any = object()  # a key that is absent, as distinct from one that is null

# Providers that deliver `j.a.n.e@` to `jane@` (Gmail ignores dots in the local part).
DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
_SAME_MAILBOX_DOMAINS = {"googlemail.com": "gmail.com"}
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
_INVISIBLE = _ZERO_WIDTH | {"\u00ad"}
_NAME_PUNCTUATION = frozenset("-'\u2019")
# Python 3.11's date.fromisoformat also accepts "20270104" and "2027-W01-1": people should
# only ever need to recognise one spelling, so the shape is checked before parsing.
_DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME_PATTERN = re.compile(r"([0-9]{2}):([0-9]{2})")
_T = TypeVar("_T")


# --- Problems ------------------------------------------------------------------------------------


class Invalid(ValueError):
    """One value failed a check; the message becomes a problem at that value's path."""


class InvalidAddress(Invalid):
    """Not one email address; the message says what is wrong, for the customer."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a body, at the path of the value at fault ("" is the whole body)."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.path or '(body)'}: {self.message}"


class Problems:
    """Collects problems in the order found, which is the order of the body."""

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def __len__(self) -> int:
        return len(self.found)

    def add(self, path: str, message: str) -> None:
        self.found.append(Problem(path, message))

    def check(self, path: str, value: Any, convert: Callable[[Any], _T]) -> _T | None:
        """``convert(value)``, or None once its problem is added at ``path``; a MISSING
        value is "missing (required)"."""
        if value is MISSING:
            self.add(path, "missing (required)")
            return None
        try:
            return convert(value)
        except Invalid as exc:
            self.add(path, str(exc))
            return None

    def reject_unknown_keys(self, value: dict[Any, Any], allowed: Iterable[str], path: str) -> None:
        allowed = list(allowed)
        for key in value:
            if key not in allowed:
                self.add(child(path, str(key)), unknown_key(key, allowed))


def child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def unknown_key(key: Any, allowed: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(key), list(allowed), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
    return f"unknown key {key!r}; {hint}"


def describe(value: Any) -> str:
    """A JSON value as a problem message names it: ``null``, ``number 5``, ``text 'x'``."""
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


Describe = Callable[[Any], str]


# --- Text ----------------------------------------------------------------------------------------


def forbidden_characters(text: str, allowed: str = "") -> list[str]:
    """The characters of `text` that a typed field must not hold (those in `allowed`, such
    as line breaks in a message, excepted), as `U+XXXX` names, each once."""
    found: dict[str, None] = {}
    for character in text:
        if character in allowed:
            continue
        if (
            unicodedata.category(character) in ("Cc", "Cs")
            or character in _BIDI_CONTROLS
            or character in _ZERO_WIDTH
        ):
            found[f"U+{ord(character):04X}"] = None
    return list(found)


def text(
    value: Any,
    *,
    max_length: int | None = None,
    multiline: bool = False,
    typed: bool = True,
    describe: Describe = describe,
) -> str:
    """Stripped, non-empty text, at most `max_length` characters, or Invalid.

    `typed` refuses the `forbidden_characters` (line breaks and tabs are let through when
    `multiline`); text read back from a payment already made passes False, so that a cart
    stored before a rule existed is still fulfilled.
    """
    if not isinstance(value, str):
        raise Invalid(f"expected text, got {describe(value)}")
    stripped = value.strip()
    if not stripped:
        raise Invalid("must not be empty")
    if max_length is not None and len(stripped) > max_length:
        raise Invalid(f"must be at most {max_length} characters, got {len(stripped)}")
    if typed:
        found = forbidden_characters(stripped, LINE_BREAKS_AND_TABS if multiline else "")
        if found:
            but = " other than line breaks and tabs" if multiline else ""
            raise Invalid(f"must not contain control characters{but} ({', '.join(found)})")
    return stripped


def is_plain_name(text: str) -> bool:
    """Letters, single spaces between words, hyphens and apostrophes; nothing else."""
    if not text or len(text) > MAX_PLAIN_NAME_LENGTH or text != text.strip() or "  " in text:
        return False
    return all(
        c == " " or c in _NAME_PUNCTUATION or unicodedata.category(c).startswith(("L", "M"))
        for c in text
    )


# --- Email addresses -----------------------------------------------------------------------------


def parse_address(text: str) -> str:
    """`text` as one email address (its domain lower-cased, in ASCII), or InvalidAddress:
    no list, no display name, no quoting, no zero-width or other invisible characters."""
    if len(text) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress(f"must be at most {MAX_ADDRESS_LENGTH} characters")
    try:
        # No network: whether the mailbox exists is for the reply to find out.
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    local, _, domain = result.ascii_email.rpartition("@")
    return f"{local}@{domain.lower()}"


def is_email_address(text: str) -> bool:
    try:
        parse_address(text)
    except InvalidAddress:
        return False
    return True


def address_key(address: str) -> str:
    """The mailbox `address` (as `parse_address` returns it) reaches, for counting: lower
    case, without invisible characters, without a `+tag`, and for Gmail without dots, so
    `Jane.Doe+x@GMail.com` and `janedoe@gmail.com` share one limit."""
    local, _, domain = address.lower().rpartition("@")
    local = "".join(c for c in local if c not in _INVISIBLE)
    domain = _SAME_MAILBOX_DOMAINS.get(domain, domain)
    local = local.split("+", 1)[0] or local
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "") or local
    return f"{local}@{domain}"


# --- Numbers, dates and times --------------------------------------------------------------------


def whole_number(value: Any, describe: Describe = describe) -> int:
    # bool is a subclass of int: without this check `"age": true` would quietly mean 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"expected a whole number, got {describe(value)}")
    return value


def date_value(value: Any, describe: Describe = describe) -> date:
    """A date spelt YYYY-MM-DD (or already a date, as TOML gives it), or Invalid."""
    # tomllib turns 2027-01-11T09:00 into a datetime, which is also a date: reject it first.
    if isinstance(value, datetime):
        raise Invalid(f"{value.isoformat()} has a time of day; expected a date (YYYY-MM-DD)")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE_PATTERN.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise Invalid(f"{_shown(value, describe)} is not a date (YYYY-MM-DD)")


def time_value(value: Any, describe: Describe = describe) -> time:
    """A time of day spelt HH:MM (or already a time, as TOML gives it), or Invalid."""
    if isinstance(value, time):
        return value
    match = _TIME_PATTERN.fullmatch(value) if isinstance(value, str) else None
    if match and int(match[1]) < 24 and int(match[2]) < 60:
        return time(int(match[1]), int(match[2]))
    raise Invalid(f"{_shown(value, describe)} is not a time (HH:MM)")


def _shown(value: Any, describe: Describe) -> str:
    return repr(value) if isinstance(value, str) else describe(value)


_BYTE_UNITS = {
    "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3,
}  # fmt: skip
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*")


def parse_bytes(text: str) -> int:
    """`256MB`, `1GB`, `512MiB` … as a number of bytes (DuckDB's units: MB is 1000², MiB
    is 1024²); ValueError when it is not one."""
    match = _SIZE.fullmatch(text)
    if match is None or match.group(2).lower() not in _BYTE_UNITS:
        raise ValueError(f"{text!r} is not a size such as 256MB or 1GB")
    return int(float(match.group(1)) * _BYTE_UNITS[match.group(2).lower()])

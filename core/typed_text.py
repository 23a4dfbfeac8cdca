"""Text that customers type (cart and support form): the rules shared by every form.

- `control_characters`: characters no typed field may hold. Control characters (C0, C1,
  DEL), lone surrogates (valid JSON, not text) and the bidirectional overrides that can make
  a name read differently on a staff screen. Zero-width joiners stay: some scripts need them.
- `parse_address`: one email address, an RFC 5322 addr-spec, checked by `email-validator`
  (no list, no display name, no quoting, no zero-width or other invisible characters); the
  domain is lower-cased and put in its ASCII form.
- `address_key`: the mailbox an address reaches, for counting: `Jane.Doe+x@GMail.com` and
  `janedoe@gmail.com` are one key, so tag and dot variants share one limit.
- `is_plain_name`: a name that is safe to put into an email to an address nobody has
  verified: letters, single spaces, hyphens and apostrophes, up to `MAX_PLAIN_NAME_LENGTH`.

Pure: no I/O.
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

MAX_ADDRESS_LENGTH = 254  # RFC 5321's limit on a deliverable address
MAX_PLAIN_NAME_LENGTH = 60

# Providers that deliver `j.a.n.e@` to `jane@` (Gmail ignores dots in the local part).
DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
_SAME_MAILBOX_DOMAINS = {"googlemail.com": "gmail.com"}
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")
_NAME_PUNCTUATION = frozenset("-'\u2019")


class InvalidAddress(ValueError):
    """Not one email address; the message says what is wrong, for the customer."""


def control_characters(text: str, allowed: str = "") -> list[str]:
    """The characters of `text` that a typed field must not hold (those in `allowed`, such
    as line breaks in a message, excepted), as `U+XXXX` names, each once."""
    found: dict[str, None] = {}
    for character in text:
        if character in allowed:
            continue
        if unicodedata.category(character) in ("Cc", "Cs") or character in _BIDI_CONTROLS:
            found[f"U+{ord(character):04X}"] = None
    return list(found)


def parse_address(text: str) -> str:
    """`text` as one email address (its domain lower-cased, in ASCII), or InvalidAddress."""
    if len(text) > MAX_ADDRESS_LENGTH:
        raise InvalidAddress(f"must be at most {MAX_ADDRESS_LENGTH} characters")
    try:
        # No network: whether the mailbox exists is for the reply to find out.
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    local, _, domain = result.ascii_email.rpartition("@")
    return f"{local}@{domain.lower()}"


def address_key(address: str) -> str:
    """The mailbox `address` (as `parse_address` returns it) reaches, for counting: lower
    case, without invisible characters, without a `+tag`, and for Gmail without dots."""
    local, _, domain = address.lower().rpartition("@")
    local = "".join(c for c in local if c not in _INVISIBLE)
    domain = _SAME_MAILBOX_DOMAINS.get(domain, domain)
    local = local.split("+", 1)[0] or local
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "") or local
    return f"{local}@{domain}"


def is_plain_name(text: str) -> bool:
    """Letters, single spaces between words, hyphens and apostrophes; nothing else."""
    if not text or len(text) > MAX_PLAIN_NAME_LENGTH or text != text.strip() or "  " in text:
        return False
    return all(
        c == " " or c in _NAME_PUNCTUATION or unicodedata.category(c).startswith(("L", "M"))
        for c in text
    )

"""Mobile numbers: read as people type them, kept in E.164 ("+61412345678").

A number without a country code is read as Australian ("0412 345 678"). Only mobile
numbers are accepted, since they are for text messages. Pure: no I/O.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

DEFAULT_REGION = "AU"
MAX_TYPED_LENGTH = 40
_TEXTABLE = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def mobile_e164(text: str, region: str = DEFAULT_REGION) -> str:
    """The mobile number in `text` as E.164, or ValueError saying what is wrong."""
    if len(text) > MAX_TYPED_LENGTH:
        raise ValueError(f"at most {MAX_TYPED_LENGTH} characters, got {len(text)}")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        raise ValueError(f"{text!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{text!r} is not a valid phone number")
    if phonenumbers.number_type(number) not in _TEXTABLE:
        raise ValueError(f"{text!r} is not a mobile number (text messages go to mobiles)")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def mobile_or_none(text: object, region: str = DEFAULT_REGION) -> str | None:
    """The mobile number as E.164, or None when `text` is not one (for numbers that come
    from elsewhere, such as Stripe's customer details, where a bad one is simply unused)."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return mobile_e164(text, region)
    except ValueError:
        return None


def as_dialled(e164: str | None, region: str = DEFAULT_REGION) -> str:
    """A stored number as people in `region` dial it ("+61412345678" → "0412 345 678"); a
    number from elsewhere in its international form; anything unreadable as it is."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, region)
    except NumberParseException:
        return e164
    home = phonenumbers.region_code_for_number(number) == region
    return phonenumbers.format_number(
        number, PhoneNumberFormat.NATIONAL if home else PhoneNumberFormat.INTERNATIONAL
    )

"""Mobile numbers, Twilio's request signature and the reminder texts: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.cart import InvalidCart
from core.cart_metadata import encode_metadata_cart, parse_metadata_cart
from core.cart_rules import validate_checkout
from core.catalog_file import load_catalog
from core.messages.sms import (
    DAY_BEFORE,
    DAY_OF,
    SEGMENT,
    is_gsm,
    reminder_text,
    reminder_windows,
)
from core.phones import as_dialled, mobile_e164, mobile_or_none
from core.settings import SettingsError, load_settings
from core.sms_signature import is_valid, signature
from tests.conftest import REPO

SYDNEY = ZoneInfo("Australia/Sydney")


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("0412 345 678", "+61412345678"),
        ("0412345678", "+61412345678"),
        ("+61 412 345 678", "+61412345678"),
        ("(04) 1234-5678", "+61412345678"),
        ("+64 21 123 4567", "+64211234567"),  # a New Zealand mobile keeps its country
    ],
)
def test_mobiles_are_kept_in_e164_australian_by_default(typed, e164):
    assert mobile_e164(typed) == e164


@pytest.mark.parametrize("typed", ["12", "0412 345", "not a number", "02 9876 5432", "1" * 41])
def test_what_is_not_a_mobile_says_why(typed):
    with pytest.raises(ValueError):
        mobile_e164(typed)
    assert mobile_or_none(typed) is None


def test_mobile_or_none_takes_anything():
    assert mobile_or_none(None) is None
    assert mobile_or_none(412345678) is None
    assert mobile_or_none(" ") is None
    assert mobile_or_none("0412 345 678") == "+61412345678"


def _cart(customer):
    return {
        "customer": customer,
        "items": [{"product_id": "summer-robotics", "date": "2027-01-05", "session": "day",
                   "student": {"name": "Mia", "age": 8}}],
    }  # fmt: skip


def test_the_cart_reads_the_parents_mobile():
    catalog = load_catalog(REPO / "data" / "catalog.toml")
    today = datetime(2026, 11, 26).date()
    base = {"email": "jane@example.com", "name": "Jane"}
    cart = validate_checkout(_cart({**base, "phone": "0412 345 678"}), catalog, today)
    assert cart.customer.phone == "+61412345678"
    for none in ({}, {"phone": None}, {"phone": ""}):
        assert validate_checkout(_cart({**base, **none}), catalog, today).customer.phone is None
    with pytest.raises(InvalidCart) as refused:
        validate_checkout(_cart({**base, "phone": "0412 345", "name": ""}), catalog, today)
    paths = [p.path for p in refused.value.problems]
    assert "customer.phone" in paths and "customer.name" in paths  # every problem at once
    with pytest.raises(InvalidCart) as refused:
        validate_checkout(_cart({**base, "phone": 412345678}), catalog, today)
    assert [p.path for p in refused.value.problems] == ["customer.phone"]


def test_signature_matches_twilios_documented_examples():
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = [("CallSid", "CA1234567890ABCDE"), ("Digits", "1234"), ("From", "+14158675309"),
              ("To", "+18005551212"), ("Caller", "+14158675309")]  # fmt: skip
    assert signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    repeated = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    assert signature("12345", url, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    assert is_valid("12345", url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not is_valid("12346", url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not is_valid("12345", url, [*params, ("Body", "STOP")], "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not is_valid("12345", url, params, None)


def test_reminder_windows_cover_today_and_tomorrow_in_sydney_by_day_only():
    morning = datetime(2027, 1, 4, 8, 30, tzinfo=SYDNEY)
    (today, today_from, today_until), (tomorrow, tomorrow_from, tomorrow_until) = reminder_windows(
        morning, SYDNEY
    )
    assert (today, tomorrow) == (DAY_OF, DAY_BEFORE)
    assert today_from == morning.astimezone(UTC).replace(tzinfo=None)
    # Midnight in Sydney (daylight time, UTC+11) is 13:00 UTC the day before.
    assert today_until == tomorrow_from == datetime(2027, 1, 4, 13, 0)
    assert tomorrow_until == datetime(2027, 1, 5, 13, 0)
    assert reminder_windows(datetime(2027, 1, 4, 6, 59, tzinfo=SYDNEY), SYDNEY) == []
    assert reminder_windows(datetime(2027, 1, 4, 20, 0, tzinfo=SYDNEY), SYDNEY) == []


def test_reminder_texts_are_one_gsm_message_in_sydney_time():
    start = datetime(2027, 1, 4, 22, 0, tzinfo=UTC)  # 9:00am on Tuesday 5 January in Sydney
    text = reminder_text(DAY_BEFORE, "Mia Chen", "Robotics Bootcamp", start,
                         "TinkerTank Marrickville", SYDNEY)  # fmt: skip
    assert text == (
        "TinkerTank: Mia has Robotics Bootcamp tomorrow, Tue 5 Jan, 9:00am at TinkerTank "
        "Marrickville. Reply STOP to opt out."
    )
    today = reminder_text(DAY_OF, "Leo", "Party", start, "X", SYDNEY)
    assert "Leo has Party today, Tue 5 Jan, 9:00am" in today
    long = reminder_text(
        DAY_BEFORE, "Mia\u2019s", "A very long title \u2013 " * 10, start, "Venue", SYDNEY
    )
    assert len(long) <= SEGMENT and is_gsm(long) and long.endswith("Reply STOP to opt out.")


def test_a_paid_carts_mobile_is_kept_when_usable_and_never_holds_up_the_booking():
    catalog = load_catalog(REPO / "data" / "catalog.toml")
    items = [{"product_id": "summer-robotics", "date": "2027-01-05", "session": "day",
              "student": {"name": "Mia", "age": 8}}]  # fmt: skip
    for phone, kept in (("0412 345 678", "+61412345678"), ("0400", None)):
        customer = {"email": "jane@example.com", "name": "Jane", "phone": phone}
        metadata = encode_metadata_cart(items, customer)
        cart = parse_metadata_cart(metadata, catalog, None, None)
        assert cart.customer.phone == kept


def test_sms_settings_come_all_together_and_keep_the_token_hidden():
    base = {"STRIPE_WEBHOOK_SECRET": "whsec_x", "ADMIN_TOKEN": "x" * 16}
    assert not load_settings(base).sms_enabled
    with pytest.raises(SettingsError) as partial:
        load_settings({**base, "TWILIO_ACCOUNT_SID": "AC123"})
    assert "TWILIO_AUTH_TOKEN, SMS_FROM missing" in str(partial.value)
    twilio = {"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "secret-token-xyz",
              "SMS_FROM": "+61480000000"}  # fmt: skip
    settings = load_settings({**base, **twilio})
    assert settings.sms_enabled and settings.sms_provider_url == "https://api.twilio.com"
    assert "secret-token-xyz" not in repr(settings)


def test_a_stored_mobile_is_shown_as_people_here_dial_it():
    assert as_dialled("+61412345678") == "0412 345 678"
    assert as_dialled("+447911123456") == "+44 7911 123456"  # a visitor's, in full
    assert as_dialled("not a number") == "not a number"
    assert as_dialled(None) == ""

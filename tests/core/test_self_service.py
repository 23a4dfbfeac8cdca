"""The cancellation policy (catalog file and decisions, core/self_service.py) and the signed
"manage booking" links (core/manage_link.py). Pure: every `now` is given."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core import manage_link
from core.catalog import CancellationPolicy
from core.catalog_file import parse_catalog
from core.self_service import CREDIT, NOT_ALLOWED, REFUND, options
from tests.core.test_catalog import SHIPPED_CATALOG, make_catalog_text, problems_for

SYDNEY = ZoneInfo("Australia/Sydney")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SYDNEY)
CAMP = CancellationPolicy(full_refund_days_before=7, credit_after=True, swap_days_before=2)


def starts(day: int, month: int = 12, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=SYDNEY)


# --- the catalog file ----------------------------------------------------------------------


def test_the_shipped_catalog_sets_a_policy_for_camps_and_parties():
    catalog = parse_catalog(SHIPPED_CATALOG.read_text())
    assert catalog.cancellation_policy["camp"] == CAMP
    assert catalog.cancellation_policy["party"].full_refund_days_before == 14
    assert "ignite" not in catalog.cancellation_policy


def test_without_a_policy_every_kind_takes_the_defaults():
    catalog = parse_catalog(make_catalog_text())
    assert catalog.cancellation_policy["camp"] == CancellationPolicy()
    assert CancellationPolicy() == CAMP


def test_a_kind_may_set_only_some_keys():
    text = make_catalog_text(cancellation_policy={"party": {"credit_after": False}})
    policy = parse_catalog(text).cancellation_policy
    assert policy["party"] == CancellationPolicy(credit_after=False)
    assert policy["camp"] == CancellationPolicy()


def test_every_problem_of_a_policy_is_listed_with_its_path():
    text = make_catalog_text(cancellation_policy={
        "camp": {"full_refund_days_before": -1, "credit_after": "yes", "swap_day": 2},
        "ignite": {"credit_after": True},
    })  # fmt: skip
    problems = problems_for(text)
    assert any("cancellation_policy.camp.full_refund_days_before: must be a number of days"
               in p for p in problems), problems  # fmt: skip
    assert any("cancellation_policy.camp.credit_after: expected true or false" in p
               for p in problems), problems  # fmt: skip
    assert any("cancellation_policy.camp.swap_day: unknown key; did you mean 'swap_days_before'"
               in p for p in problems), problems  # fmt: skip
    assert any("cancellation_policy.ignite: unknown key" in p for p in problems), problems
    assert len(problems) == 4


# --- what a parent may do ------------------------------------------------------------------


def test_a_full_refund_up_to_the_seventh_day_before_then_credit_until_it_starts():
    on_the_seventh = options(CAMP, "camp", "confirmed", starts(3), 8900, "aud", NOW, SYDNEY)
    assert (on_the_seventh.cancel, on_the_seventh.amount) == (REFUND, 8900)
    assert on_the_seventh.why == "Cancel by Thursday 26 November for a full refund of $89.00."
    on_the_sixth = options(CAMP, "camp", "confirmed", starts(2), 8900, "aud", NOW, SYDNEY)
    assert (on_the_sixth.cancel, on_the_sixth.amount) == (CREDIT, 8900)
    assert "keeps $89.00 as credit" in on_the_sixth.why
    later_today = starts(26, 11, 15)
    assert (
        options(CAMP, "camp", "confirmed", later_today, 8900, "aud", NOW, SYDNEY).cancel == CREDIT
    )
    started = starts(26, 11, 9)
    begun = options(CAMP, "camp", "confirmed", started, 8900, "aud", NOW, SYDNEY)
    assert (begun.cancel, begun.swap) == (NOT_ALLOWED, False)


def test_without_credit_a_late_cancel_is_not_allowed_online():
    strict = CancellationPolicy(credit_after=False)
    late = options(strict, "camp", "confirmed", starts(1), 8900, "aud", NOW, SYDNEY)
    assert (late.cancel, late.amount) == (NOT_ALLOWED, 0)
    assert "can no longer be cancelled online" in late.why


def test_a_camp_day_may_be_swapped_up_to_two_days_before_and_a_party_never():
    assert options(CAMP, "camp", "confirmed", starts(28, 11), 1, "aud", NOW, SYDNEY).swap
    assert not options(CAMP, "camp", "confirmed", starts(27, 11), 1, "aud", NOW, SYDNEY).swap
    assert not options(CAMP, "party", "confirmed", starts(20), 1, "aud", NOW, SYDNEY).swap


def test_a_cancelled_booking_or_a_kind_without_policy_offers_nothing():
    assert (
        options(CAMP, "camp", "cancelled", starts(20), 1, "aud", NOW, SYDNEY).cancel == NOT_ALLOWED
    )
    ignite = options(None, "ignite", "confirmed", starts(20), 1, "aud", NOW, SYDNEY)
    assert (ignite.cancel, ignite.swap) == (NOT_ALLOWED, False)


def test_days_are_counted_in_the_catalogs_time_zone():
    # 11:30 pm on the 25th in UTC is already the 26th in Sydney: the 3 December camp is 7 days
    # away, not 8.
    late_utc = datetime(2026, 11, 25, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert (
        options(CAMP, "camp", "confirmed", starts(3), 1, "aud", late_utc, SYDNEY).cancel == REFUND
    )
    assert (
        options(CAMP, "camp", "confirmed", starts(2), 1, "aud", late_utc, SYDNEY).cancel == CREDIT
    )


# --- the signed link -----------------------------------------------------------------------


KEY = manage_link.key_from("admin-token")


def test_a_link_names_its_order_until_it_expires():
    token = manage_link.token(KEY, "ord_123", NOW + timedelta(days=1))
    assert manage_link.read(KEY, token, NOW) == (manage_link.GENUINE, "ord_123")
    assert manage_link.read(KEY, token, NOW + timedelta(days=1)) == (manage_link.EXPIRED, "ord_123")


@pytest.mark.parametrize("change", ["order", "expiry", "signature", "key", "garbage"])
def test_a_changed_link_is_forged(change: str):
    token = manage_link.token(KEY, "ord_123", NOW + timedelta(days=1))
    order, expires, mac = token.split(".")
    other = manage_link.token(KEY, "ord_124", NOW + timedelta(days=1)).split(".")[0]
    changed = {
        "order": f"{other}.{expires}.{mac}",
        "expiry": f"{order}.{int(expires) + 86400}.{mac}",
        "signature": f"{order}.{expires}.{mac[::-1]}",
        "key": manage_link.token(manage_link.key_from("other"), "ord_123", NOW + timedelta(1)),
        "garbage": "ord_123",
    }[change]
    assert manage_link.read(KEY, changed, NOW) == (manage_link.FORGED, None)


def test_a_link_lasts_until_the_day_after_the_last_booking_and_at_least_30_days():
    assert manage_link.expiry(None, NOW) == NOW + timedelta(days=30)
    far = NOW + timedelta(days=60)
    assert manage_link.expiry(far, NOW) == far + timedelta(days=1)
    assert manage_link.expiry(NOW + timedelta(days=2), NOW) == NOW + timedelta(days=30)


def test_a_form_token_is_for_one_order_booking_and_action():
    form = manage_link.form_token(KEY, "ord_1", "bkg_1", "cancel")
    nonce = manage_link.form_nonce(KEY, form, "ord_1", "bkg_1", "cancel")
    assert nonce and form.startswith(nonce)
    assert manage_link.form_nonce(KEY, form, "ord_1", "bkg_1", "swap") is None
    assert manage_link.form_nonce(KEY, form, "ord_1", "bkg_2", "cancel") is None
    assert manage_link.form_nonce(KEY, "made.up", "ord_1", "bkg_1", "cancel") is None
    assert manage_link.form_token(KEY, "ord_1", "bkg_1", "cancel") != form  # a fresh nonce

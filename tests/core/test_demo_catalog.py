"""The demo's catalog is the catalog file moved in time, valid and on sale whatever the date."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.catalog_file import parse_catalog
from core.demo_catalog import LEAD_DAYS, catalog_dates, moved_catalog, weeks_to_move
from tests.conftest import REPO

CATALOG = (REPO / "data" / "catalog.toml").read_text(encoding="utf-8")
TODAYS = [
    date(2026, 12, 3),  # the first day the suite failed on its date
    date(2027, 6, 30),
    date(2028, 2, 1),
    date(2028, 2, 29),
    date(2030, 12, 31),
    date(2024, 1, 1),  # a catalog further ahead moves back
]


@pytest.mark.parametrize("today", TODAYS, ids=str)
def test_the_moved_catalog_is_valid_and_its_first_camp_day_is_just_after_today(today):
    catalog = parse_catalog(moved_catalog(CATALOG, today), "demo.toml")

    first_camp_day = min(day for camp in catalog.camps for day in camp.dates)
    assert today + timedelta(days=LEAD_DAYS) <= first_camp_day
    assert first_camp_day <= today + timedelta(days=LEAD_DAYS + 13)
    assert all(term.end > today for term in catalog.terms)
    assert all(party.last_date > today for party in catalog.parties)


@pytest.mark.parametrize("today", TODAYS, ids=str)
def test_every_date_moves_by_the_same_whole_weeks_so_weekdays_are_kept(today):
    before = catalog_dates(CATALOG)
    after = catalog_dates(moved_catalog(CATALOG, today))[1:]  # the header names today

    assert len(after) == len(before)
    shifts = {(b - a).days for a, b in zip(before, after, strict=True)}
    assert shifts == {7 * weeks_to_move(CATALOG, today)}
    assert all(a.weekday() == b.weekday() for a, b in zip(before, after, strict=True))


def test_the_same_camps_parties_and_programs_are_on_sale():
    original = parse_catalog(CATALOG)
    moved = parse_catalog(moved_catalog(CATALOG, date(2028, 2, 1)))

    assert set(moved.products) == set(original.products)
    assert [len(c.dates) for c in moved.camps] == [len(c.dates) for c in original.camps]


def test_text_without_dates_is_left_as_it_is_under_a_header():
    assert moved_catalog('currency = "aud"\n', date(2027, 1, 1)).endswith('currency = "aud"\n')
    assert weeks_to_move("no dates", date(2027, 1, 1)) == 0


def test_dates_inside_longer_tokens_are_not_moved():
    text = 'id = "x-2027-01-04"\nstripe_price_id = "price_2027-01-04a"\nday = 2027-01-04\n'

    moved = moved_catalog(text, date(2027, 2, 1))

    assert 'id = "x-2027-01-04"' in moved
    assert '"price_2027-01-04a"' in moved
    assert "day = 2027-01-04\n" not in moved

"""The demo's catalog is the catalog file moved in time, valid and on sale whatever the date,
with this week's camp, an Ignite term around today and parties from today, so that every
day has events at the door."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.calendar_slots import planned_between
from core.catalog_file import parse_catalog
from core.demo_catalog import (
    DEMO_TERM_ID,
    LEAD_DAYS,
    WEEK_CAMP_ID,
    camp_week,
    catalog_dates,
    demo_catalog,
    demo_term,
    moved_catalog,
    weeks_to_move,
)
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


# --- the demo's catalog: this week's camp, an Ignite term around today, parties from today ----

# Every day of two weeks from a few starting points across the years (leap day, year end,
# the summer holidays, the suite's own date).
SAMPLE_DAYS = [
    start + timedelta(days=n)
    for start in (date(2026, 11, 23), date(2027, 12, 20), date(2028, 2, 21), date(2031, 6, 2))
    for n in range(14)
]


def _today_kinds(today: date) -> set[str]:
    catalog = parse_catalog(demo_catalog(CATALOG, today), "demo.toml")
    return {event.kind for event in planned_between(catalog, today, today + timedelta(days=1))}


@pytest.mark.parametrize("today", SAMPLE_DAYS, ids=str)
def test_the_demo_has_events_today_whatever_the_day(today):
    kinds = _today_kinds(today)

    if today.weekday() < 5:
        assert "camp" in kinds  # this week's camp runs on every weekday
    else:
        assert kinds == {"party"}  # weekends: parties, no camp nor class
    if today.weekday() in (0, 2, 3):  # the Ignite classes' weekdays
        assert "ignite" in kinds


@pytest.mark.parametrize("today", SAMPLE_DAYS, ids=str)
def test_the_demo_keeps_the_moved_plan_and_adds_this_week(today):
    demo = parse_catalog(demo_catalog(CATALOG, today), "demo.toml")
    moved = parse_catalog(moved_catalog(CATALOG, today), "moved.toml")

    assert set(demo.products) == set(moved.products) | {WEEK_CAMP_ID}
    week = next(camp for camp in demo.camps if camp.id == WEEK_CAMP_ID)
    monday, friday = camp_week(today)
    assert week.dates[0] >= monday and week.dates[-1] <= friday
    assert all(day.weekday() < 5 for day in week.dates)
    assert not set(week.dates) & set(demo.public_holidays)
    if today.weekday() >= 5:
        assert monday > today  # on a weekend, next week's camp: days still to sell
    else:
        assert monday <= today <= friday
    # The rest of the year's plan is still ahead, to sell.
    later = [day for camp in demo.camps if camp.id != WEEK_CAMP_ID for day in camp.dates]
    assert min(later) >= today + timedelta(days=LEAD_DAYS)
    assert all(party.first_date == today for party in demo.parties)
    start, end = demo_term(today)
    assert start < today < end
    assert all(DEMO_TERM_ID in program.terms for program in demo.ignite)


def test_a_public_holiday_this_week_takes_its_day_out_of_the_demo_camp():
    today = date(2027, 1, 27)  # a Wednesday; say the Tuesday before is a public holiday
    text = demo_catalog(CATALOG, today).replace(
        "public_holidays = [", 'public_holidays = [\n  "2027-01-26",', 1
    )

    demo = parse_catalog(text, "demo.toml")

    week = next(camp for camp in demo.camps if camp.id == WEEK_CAMP_ID)
    assert date(2027, 1, 26) not in week.dates
    assert date(2027, 1, 27) in week.dates
    assert len(week.dates) == 4

"""Formatting helpers: money, local times, fill, links to Stripe, calendar entries."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from dashboard import formatting as fmt

SYDNEY = ZoneInfo("Australia/Sydney")


@pytest.mark.parametrize(
    ("cents", "currency", "shown"),
    [
        (8900, "aud", "$89.00"),
        (123456789, "AUD", "$1,234,567.89"),
        (-2500, "aud", "-$25.00"),
        (0, "gbp", "£0.00"),
        (1000, "jpy", "10.00 JPY"),
        (None, "aud", "—"),
    ],
)
def test_money_is_shown_in_dollars_with_the_currency_symbol(cents, currency, shown):
    assert fmt.money(cents, currency) == shown


def test_times_from_the_api_are_shown_in_the_business_time_zone():
    # 22:00 UTC on 3 January is 09:00 on Monday 4 January in Sydney (daylight time, +11).
    assert fmt.local_time("2027-01-03T22:00:00Z", SYDNEY) == "Mon 4 Jan 2027 09:00"
    assert fmt.local_time("2027-01-03T22:00:00", SYDNEY, with_date=False) == "09:00"
    assert fmt.local_time("2027-07-05T23:30:00.123456Z", SYDNEY) == "Tue 6 Jul 2027 09:30"  # +10
    assert fmt.local_time(None, SYDNEY) == ""


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "—"), (0.314, "0.31 s"), (42.4, "42 s"), (250, "4 min 10 s"), (7500, "2 h 5 min")],
)
def test_durations_read_naturally(seconds, shown):
    assert fmt.duration(seconds) == shown


def test_stripe_links_go_to_the_test_or_live_dashboard():
    assert fmt.stripe_event_url("evt_1", livemode=False) == (
        "https://dashboard.stripe.com/test/events/evt_1"
    )
    assert fmt.stripe_event_url("evt_1", livemode=True) == (
        "https://dashboard.stripe.com/events/evt_1"
    )


def test_calendar_entries_have_local_times_a_colour_per_kind_and_the_fill_in_the_title():
    events = [
        {"event_id": "ev_1", "kind": "camp", "title": "Robotics Bootcamp", "booked": 18,
         "capacity": 24, "starts_at": "2027-01-03T22:00:00Z", "ends_at": "2027-01-04T04:00:00Z",
         "status": "scheduled"},
        {"event_id": "ev_2", "kind": "party", "title": "Robot Rampage Party", "booked": 1,
         "capacity": None, "starts_at": "2027-01-08T23:00:00Z",
         "ends_at": "2027-01-09T01:00:00Z", "status": "scheduled"},
    ]  # fmt: skip

    camp, party = fmt.calendar_entries(events, SYDNEY)

    assert camp["title"] == "18/24 Robotics Bootcamp"
    assert (camp["start"], camp["end"]) == (
        "2027-01-04T09:00:00+11:00",
        "2027-01-04T15:00:00+11:00",
    )
    assert camp["backgroundColor"] == fmt.KIND_COLOURS["camp"]
    assert party["title"] == "1 Robot Rampage Party"
    assert party["backgroundColor"] == fmt.KIND_COLOURS["party"] != camp["backgroundColor"]

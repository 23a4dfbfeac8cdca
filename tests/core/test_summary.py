from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from core.summary import (
    DayRows,
    EventRow,
    TrendRows,
    apportion,
    day_figures,
    day_range,
    fill,
    money_by_kind,
    summary_text,
    trend_figures,
    yesterday,
)

SYDNEY = ZoneInfo("Australia/Sydney")


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        # AEDT (UTC+11): a 24-hour day
        (date(2026, 11, 25), datetime(2026, 11, 24, 13), datetime(2026, 11, 25, 13)),
        # clocks go back at 3:00 on 5 April 2026: a 25-hour day
        (date(2026, 4, 5), datetime(2026, 4, 4, 13), datetime(2026, 4, 5, 14)),
        # clocks go forward at 2:00 on 4 October 2026: a 23-hour day
        (date(2026, 10, 4), datetime(2026, 10, 3, 14), datetime(2026, 10, 4, 13)),
    ],
)
def test_a_business_day_is_the_utc_range_of_its_local_midnights(day, start, end):
    assert day_range(day, SYDNEY) == (start, end)


def test_yesterday_is_the_day_before_today_in_the_business_time_zone():
    # 20:30 UTC on the 25th is 07:30 on the 26th in Sydney
    assert yesterday(datetime(2026, 11, 25, 20, 30, tzinfo=UTC), SYDNEY) == date(2026, 11, 25)
    assert yesterday(datetime(2026, 11, 25, 12, 0), SYDNEY) == date(2026, 11, 24)  # naive UTC


@pytest.mark.parametrize(
    ("total", "shares", "expected"),
    [
        (100, {"a": 1, "b": 1, "c": 1}, {"a": 34, "b": 33, "c": 33}),
        (10001, {"camp": 2.0, "party": 1.0}, {"camp": 6667, "party": 3334}),
        (0, {"a": 0.0, "b": 0.0}, {"a": 0, "b": 0}),
        (500, {}, {}),
    ],
)
def test_apportion_hands_out_whole_cents_that_add_up_to_the_total(total, shares, expected):
    result = apportion(total, shares)

    assert result == expected
    if shares:
        assert sum(result.values()) == total


def test_money_by_kind_nets_refunds_and_adds_up_exactly():
    # an order of 100.00 (2/3 camp, 1/3 party) paid, and a 10.00 refund of it
    money = [("camp", 6666.666666, 666.666666), ("party", 3333.333334, 333.333334)]

    revenue = money_by_kind(money)

    assert revenue["gross"] == 10000
    assert revenue["refunded"] == 1000
    assert revenue["total"] == 9000
    assert sum(revenue["by_kind"].values()) == 9000
    assert revenue["by_kind"] == {"camp": 6000, "party": 3000, "ignite": 0}


def test_money_of_an_order_without_items_is_shown_unassigned():
    revenue = money_by_kind([("unassigned", 5000.0, 0.0)])

    assert revenue["by_kind"]["unassigned"] == 5000
    assert "unassigned" not in money_by_kind([("camp", 100.0, 0.0)])["by_kind"]


def _event(kind: str, product: str, hour: int, capacity: int, booked: int) -> EventRow:
    return EventRow(f"ev_{kind}_{hour}", f"{product} {hour}", kind, product,
                    datetime(2027, 1, 7, hour), capacity, booked)  # fmt: skip


def test_the_two_sessions_of_a_camp_day_share_one_capacity():
    events = [
        _event("camp", "robotics", 22, 24, 10),  # the day session
        _event("camp", "robotics", 23, 24, 8),  # the all-day session: the same 24 places
        _event("party", "party", 1, 1, 1),
    ]

    assert fill(events) == {"booked": 19, "capacity": 25, "fill": 0.76}
    assert fill([])["fill"] is None


def test_day_figures_count_errors_bookings_and_the_next_days_events():
    rows = DayRows(
        orders_created=3,
        orders_paid=2,
        money=[("camp", 17800.0, 0.0)],
        refunds=(1, 8900),
        bookings=[("camp", 2), ("ignite", 10)],
        next_day_events=[_event("party", "Robot party", 2, 1, 1)],
        errors=[("email", "high", 2), ("payment", "critical", 1), ("payment", "high", 1)],
        errors_open=5,
        tickets_new=1,
        tickets_open=2,
        webhooks={"received": 4, "processed": 4, "failed": 0, "backlog": 0,
                  "lag_p95_seconds": 0.25},
    )  # fmt: skip

    figures = day_figures(rows, date(2027, 1, 6), SYDNEY, "aud", datetime(2027, 1, 7, 1))

    assert figures["range"] == {"start": "2027-01-05T13:00:00Z", "end": "2027-01-06T13:00:00Z"}
    assert figures["bookings"] == {"total": 12, "by_kind": {"camp": 2, "party": 0, "ignite": 10}}
    assert figures["errors"]["by_category"] == {"email": 2, "payment": 2}
    assert figures["errors"]["by_severity"] == {"high": 3, "critical": 1}
    assert figures["tomorrow"]["date"] == "2027-01-07"
    assert figures["tomorrow"]["fill"] == 1.0
    text = summary_text(figures)
    assert "Wednesday 6 January 2027" in text
    assert "Revenue: $178.00 net" in text
    assert "13:00 Robot party 2 (party): 1/1" in text  # 02:00 UTC is 13:00 in Sydney
    assert "lag p95 0.25 s" in text


def test_trend_figures_give_every_day_even_an_empty_one():
    days = [date(2027, 1, 5), date(2027, 1, 6)]
    rows = TrendRows(
        money=[(1, "camp", 8900.0, 0.0)],
        bookings=[(1, "camp", 1)],
        events=[(1, _event("camp", "robotics", 22, 24, 6))],
    )

    trend = trend_figures(rows, days)

    assert [d["date"] for d in trend] == ["2027-01-05", "2027-01-06"]
    assert trend[0]["revenue"] == 0 and trend[0]["fill"] == 0.0
    assert trend[1]["revenue_by_kind"]["camp"] == 8900
    assert trend[1]["bookings_by_kind"] == {"camp": 1, "party": 0, "ignite": 0}
    assert trend[1]["fill"] == 0.25

"""core/staff_requests.py: staff action bodies read like a cart, every problem at its path."""

from __future__ import annotations

from datetime import date, time

import pytest

from core.staff_requests import (
    InvalidRequest,
    parse_capacity,
    parse_end_subscription,
    parse_move,
    parse_reason,
    parse_refund,
)


def problems(parse, body) -> list[tuple[str, str]]:
    with pytest.raises(InvalidRequest) as caught:
        parse(body)
    return [(p.path, p.message) for p in caught.value.problems]


def test_a_refund_reads_items_amount_and_reason():
    wanted = parse_refund({"items": ["ord_1:0", "ord_1:1"], "amount": 500, "reason": " sick "})
    assert (wanted.items, wanted.amount, wanted.reason) == (("ord_1:0", "ord_1:1"), 500, "sick")
    assert parse_refund({"reason": "whole order"}).items == ()


def test_a_refund_lists_every_problem_in_body_order():
    found = problems(parse_refund, {"items": ["a", "a", 3], "amount": True, "why": "x"})
    assert [path for path, _ in found] == ["why", "items[1]", "items[2]", "amount", "reason"]
    assert "already in the list" in found[1][1]
    assert found[-1] == ("reason", "missing (required)")
    assert problems(parse_refund, {"amount": 0, "reason": "r"}) == [
        ("amount", "must be more than 0 (cents), got 0")
    ]
    assert problems(parse_refund, []) == [
        ("", "expected a JSON object"),
        ("reason", "missing (required)"),
    ]


def test_a_move_reads_a_date_and_optional_session_start_and_room():
    move = parse_move({"date": "2027-01-08", "start_time": "13:00", "room": "workshop",
                       "reason": "clash"})  # fmt: skip
    assert (move.date, move.start_time, move.room, move.session) == (
        date(2027, 1, 8),
        time(13, 0),
        "workshop",
        None,
    )
    found = problems(parse_move, {"date": "8/1/2027", "start_time": "25:00", "reason": "\u202e"})
    assert [path for path, _ in found] == ["date", "start_time", "reason"]


def test_capacity_cancel_and_subscription_bodies():
    assert parse_capacity({"capacity": 0, "reason": "room closed"}).capacity == 0
    assert [p for p, _ in problems(parse_capacity, {"capacity": 1001})] == ["capacity", "reason"]
    assert parse_reason({"reason": "voucher"}) == "voucher"
    assert [p for p, _ in problems(parse_reason, {"reason": "x" * 501})] == ["reason"]
    assert parse_end_subscription({"when": "period_end", "reason": "r"}).when == "period_end"
    assert problems(parse_end_subscription, {"when": "soon", "reason": "r"}) == [
        ("when", "must be one of now, period_end")
    ]

"""The final check of `tinkertank db copy` (core/copy_check.py): counts and sums per table."""

from core.copy_check import mismatches


def test_equal_totals_are_no_mismatch_and_float_sums_may_differ_in_their_last_digits():
    source = {"orders": {"rows": 3, "sum(amount_paid)": 26700}, "t": {"sum(x)": 0.3}}
    target = {"orders": {"rows": 3, "sum(amount_paid)": 26700}, "t": {"sum(x)": 0.1 + 0.2}}

    assert mismatches(source, target) == []
    assert 0.1 + 0.2 != 0.3  # (the case the tolerance is for)


def test_each_difference_is_named_with_both_sides():
    source = {
        "orders": {"rows": 3, "sum(amount_paid)": 26700, "sum(amount_refunded)": None},
        "bookings": {"rows": 5},
        "refunds": {"rows": 1},
    }
    target = {
        "orders": {"rows": 2, "sum(amount_paid)": 17800, "sum(amount_refunded)": 0},
        "bookings": {"rows": 5, "sum(position)": 4},
    }

    assert mismatches(source, target) == [
        "bookings: no sum(position) in the source",
        "orders: rows 3 in the source, 2 in the target",
        "orders: sum(amount_paid) 26700 in the source, 17800 in the target",
        "orders: sum(amount_refunded) NULL in the source, 0 in the target",
        "refunds: not in the target",
    ]

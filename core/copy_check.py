"""The check that ends `tinkertank db copy`: each table's row count and the sums of its
number columns (money is BIGINT cents, so every amount is among them), read from the
source and from the target, must agree.

Totals are `{table: {"rows": n, "sum(amount_total)": s, …}}`. Whole numbers must be equal;
a float column's sum (none holds money) may differ in its last digits, since the two
databases add in different orders.
"""

from __future__ import annotations

import math

Totals = dict[str, dict[str, int | float | None]]
FLOAT_TOLERANCE = 1e-9


def mismatches(source: Totals, target: Totals) -> list[str]:
    """What differs, one line each (`orders: sum(amount_paid) 8900 in the source, 0 in the
    target`); empty when the copy is whole."""
    found = []
    for table in sorted(set(source) | set(target)):
        if table not in target:
            found.append(f"{table}: not in the target")
            continue
        if table not in source:
            found.append(f"{table}: not in the source")
            continue
        theirs, ours = source[table], target[table]
        for measure in sorted(set(theirs) | set(ours)):
            if measure not in theirs or measure not in ours:
                side = "source" if measure not in theirs else "target"
                found.append(f"{table}: no {measure} in the {side}")
                continue
            left, right = theirs[measure], ours[measure]
            if not _same(left, right):
                found.append(
                    f"{table}: {measure} {_shown(left)} in the source, {_shown(right)} in the"
                    " target"
                )
    return found


def _same(left: int | float | None, right: int | float | None) -> bool:
    if left is None or right is None:
        return left is right
    if isinstance(left, float) or isinstance(right, float):
        return math.isclose(left, right, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
    return left == right


def _shown(value: int | float | None) -> str:
    return "NULL" if value is None else str(value)

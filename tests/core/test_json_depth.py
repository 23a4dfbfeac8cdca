"""core/json_depth.py: JSON from outside, bounded in nesting."""

from __future__ import annotations

import pytest

from core import json_depth


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 0), ("[]", 1), ('{"a": [1, {"b": {}}]}', 4), ("[[], [[]], []]", 3)],
)
def test_depth_counts_levels_of_arrays_and_objects(text: str, expected: int):
    assert json_depth.depth(json_depth.loads(text)) == expected


@pytest.mark.parametrize("levels", [65, 999, 100_000])
def test_deeper_than_the_limit_is_refused_as_a_value_error(levels: int):
    with pytest.raises(json_depth.TooDeep, match="nested more than 64 levels deep"):
        json_depth.loads("[" * levels + "]" * levels)


def test_the_limit_itself_parses():
    assert json_depth.depth(json_depth.loads("[" * 64 + "]" * 64)) == 64

"""JSON from outside, bounded in how deeply it nests.

`json.loads` recurses once per level of nesting: ten thousand levels raise RecursionError
(not ValueError), and a few hundred levels parse here but can still exhaust the stack of a
deeper caller later, such as the fulfilment worker re-reading a stored Stripe event. So
every body from outside is refused past `MAX_DEPTH` levels, before anything is stored.
Stripe's events nest about ten levels deep, a cart four.

Pure: no I/O.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


class TooDeep(ValueError):
    """The JSON nests more than `MAX_DEPTH` levels."""


def loads(text: str | bytes | bytearray, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads`, raising TooDeep (a ValueError) for JSON nested deeper than `max_depth`
    and ValueError for anything else that is not JSON."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep(f"nested more than {max_depth} levels deep") from None
    if depth(value, max_depth) > max_depth:
        raise TooDeep(f"nested more than {max_depth} levels deep")
    return value


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How many levels of arrays and objects `value` nests (a scalar is 0), counted without
    recursion; stops counting once past `limit`."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        if level > deepest:
            deepest = level
            if deepest > limit:
                return deepest
        pending.extend((child, level) for child in children if isinstance(child, dict | list))
    return deepest

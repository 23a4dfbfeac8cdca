"""The hook for a freed place.

`place_freed` is called, in the same transaction, wherever a place goes back: a booking
cancelled or refunded by staff, a booking moved away, a capacity raised (see
`fulfilment/staff_actions.py` and `fulfilment/refunds.py`). The waitlist will offer the place
to the next family from here; until then it does nothing.
"""

from __future__ import annotations

from datetime import datetime

import duckdb


def place_freed(conn: duckdb.DuckDBPyConnection, resource_key: str, now: datetime) -> None:
    """A place on `resource_key` (a camp day `camp:<product>:<day>`, a party room slot
    `party:<venue>:<room>:<day>:<HH:MM>`, an Ignite program `ignite:<program>` or class
    `ignite:<program>:<day>`) was freed at `now`, inside the caller's write. No-op for now."""
    return None

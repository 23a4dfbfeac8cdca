"""The hook for a freed place.

`place_freed` is called, in the same transaction, wherever a place goes back: a booking
cancelled or refunded by staff, a booking moved away, a capacity raised (see
`fulfilment/staff_actions.py` and `fulfilment/refunds.py`). It offers the place to the next
family on the waitlist at once (`fulfilment/waitlist_offers.py`); the waitlist's pass every
30 s would find it too, later.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from fulfilment import waitlist_offers


def place_freed(conn: duckdb.DuckDBPyConnection, resource_key: str, now: datetime) -> int:
    """A place on `resource_key` (a camp day `camp:<product>:<day>`, a party room slot
    `party:<venue>:<room>:<day>:<HH:MM>`, an Ignite program `ignite:<program>` or class
    `ignite:<program>:<day>`) was freed at `now`, inside the caller's write: offer it to
    the next waiting family. How many offers were made (0 outside the store process, which
    has no catalog named: the pass then offers it)."""
    catalog = waitlist_offers.named_catalog()
    if catalog is None:
        return 0
    return waitlist_offers.place_freed(conn, catalog, resource_key, now)

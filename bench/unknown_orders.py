"""`python -m bench.unknown_orders`: what a payment naming an order we do not know costs the
worker, against a payment the bulk path takes (issue 16, item 3).

Stores N `payment_intent.succeeded` events whose metadata names an order this store never
made, drains them with the worker, and does the same with N storefront payments whose cart
is in their metadata (the bulk path). Prints ms per event of each, the error-log entries
and the alerts queued; the best of three runs.

Measured on 2026-12-07 on the shared two-core box, 500 events, best of three: before
issue 16, 33.8 ms an unknown order (one by one) against 1.2 ms a cart in bulk, with 500
error-log entries and an alert each (100 queued per sender pass); after, 0.33 ms against
0.73 ms, with one grouped entry and one alert.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.cart_metadata import encode_metadata_cart
from core.catalog_file import load_catalog
from core.settings import DatabaseLocation
from core.simulation import event_envelope, payment_intent
from core.stripe_events import parse_event
from fulfilment.worker import RetryPolicy, Worker
from senders.sender import queue_alerts
from store import inbox
from store.database import Database

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC).replace(tzinfo=None)
CATALOG = load_catalog(REPO / "data" / "catalog.toml")


def unknown_order_events(n: int) -> list[str]:
    return [
        json.dumps(event_envelope(
            f"evt_unknown_{i}", "payment_intent.succeeded",
            payment_intent(f"pi_unknown_{i}", int(NOW.timestamp()), 8900,
                           {"order_id": f"ord_nobody_{i}"}, "p@example.com"),
            int(NOW.timestamp()),
        ))
        for i in range(n)
    ]  # fmt: skip


def cart_events(n: int) -> list[str]:
    items = [{"product_id": "summer-robotics", "date": "2027-01-05", "session": "day",
              "student": {"name": "Kid", "age": 8}}]  # fmt: skip
    metadata = encode_metadata_cart(items, {"email": "p@example.com", "name": "Pat Parent"})
    return [
        json.dumps(event_envelope(
            f"evt_cart_{i}", "payment_intent.succeeded",
            payment_intent(f"pi_cart_{i}", int(NOW.timestamp()), 8900, metadata,
                           "p@example.com"),
            int(NOW.timestamp()),
        ))
        for i in range(n)
    ]  # fmt: skip


def drain(payloads: list[str]) -> tuple[float, int, int]:
    """Seconds the worker spends applying the events (steps excluded), error-log entries,
    alerts queued."""
    with tempfile.TemporaryDirectory() as folder:
        database = Database.open(DatabaseLocation("duckdb", f"{folder}/bench.duckdb"))
        try:
            events = [(parse_event(p), NOW) for p in payloads]
            database.write(inbox.store_events, events)
            worker = Worker(database, CATALOG, RetryPolicy(), livemode=False, clock=lambda: NOW)
            started = time.perf_counter()
            worker.run_events(NOW)
            seconds = time.perf_counter() - started
            entries = database.read(
                lambda conn: conn.execute("SELECT count(*) FROM error_log").fetchone()[0]
            )
            alerts = database.write(queue_alerts, True, (), NOW + timedelta(hours=1))
            return seconds, entries, alerts
        finally:
            database.close()


def main(n: int = 500) -> int:
    for name, payloads in (("unknown orders", unknown_order_events(n)),
                           ("carts in metadata (bulk)", cart_events(n))):  # fmt: skip
        # The best of three: the machine is shared, and a busy neighbour only adds.
        seconds, entries, alerts = min(drain(payloads) for _ in range(3))
        print(
            f"{name:26} {n} events: {seconds * 1000 / n:6.2f} ms each,"
            f" {entries} error-log entries, {alerts} alerts"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:])))

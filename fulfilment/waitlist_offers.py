"""The waitlist's writes: a family joins, and freed places are offered to the next families.

Each function is a write function for the store's single writer, so the free places are
counted and taken in one transaction: two passes, or a pass and a checkout, never take the
same place.

`offer_places` is the whole pass: offers paid for are marked booked, offers whose 24 hours
are up (or whose order expired) lapse and give their place back, and every event with a
waiting family and a free place offers it to the next. The store process runs it every
OFFER_PASS_SECONDS (`runtime/periodic_pass.py`), which is how a hold that lapsed by itself
passes its place on; staff can run it at once (`POST /api/waitlist/run`).

`place_freed` is the hook for whatever frees a place (a refund, a cancellation, a move, a
capacity raised): called in the same transaction, it offers the freed place at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from core.cart import Cart, InvalidCart
from core.cart_rules import validate_checkout
from core.catalog import Catalog
from core.checkout import HoldLimits, hold_requests
from core.validation import Problem, address_key
from core.waitlist import (
    Waiting,
    event_key,
    event_resources,
    free_places,
    lapsed,
    next_offers,
    offer_expiry,
)
from store import orders, outbox
from store import waitlist as entries
from store.capacity import with_overrides

PAID = ("paid", "partially_refunded", "refunded", "disputed")
GONE = ("expired", "failed")

# The catalog does not pickle, so a call from the web process cannot carry it: the store
# process names its own here at start (runtime/store_process.py), and `join` and `run`
# (the web process's calls) use it.
_store_catalog: Catalog | None = None


def use_catalog(catalog: Catalog) -> None:
    global _store_catalog
    _store_catalog = catalog


def named_catalog() -> Catalog | None:
    """The store process's catalog, or None outside it."""
    return _store_catalog


def store_catalog() -> Catalog:
    if _store_catalog is None:
        raise RuntimeError("the store process has not named its catalog (use_catalog)")
    return _store_catalog


def waitlist_cart(body: Any, catalog: Catalog, today) -> Cart:
    """A waitlist body: a checkout cart (the same validation) of exactly one item."""
    cart = validate_checkout(body, catalog, today)
    if len(cart.items) != 1:
        raise InvalidCart(
            [Problem("items", f"a waitlist entry is for one place: send one item, not "
                     f"{len(cart.items)}")]
        )  # fmt: skip
    return cart


@dataclass(frozen=True)
class Joined:
    entry: dict[str, Any] | None = None
    created: bool = False
    refusal: str | None = None  # 429: a limit, and what it is


def join(
    conn: duckdb.DuckDBPyConnection, body: dict[str, Any], cart: Cart, client: str | None,
    limits: HoldLimits, now: datetime,
) -> Joined:  # fmt: skip
    """Add the family to the event's list (once: again, it answers the entry it has), within
    the same per-mailbox and per-client limits as checkout; and offer at once if a place
    is free. Called from the web process: the catalog is the store process's."""
    catalog = store_catalog()
    (request,) = hold_requests(cart, catalog)
    key = event_key(request)
    email_key = address_key(cart.customer.email)
    existing = entries.find(conn, key, email_key)
    if existing is not None and existing["status"] in entries.OPEN:
        return Joined(entry=existing)
    if entries.open_count(conn, "email_key", email_key) >= limits.per_email:
        return Joined(
            refusal=f"one email address may wait for at most {limits.per_email} places at once"
        )
    if (
        client is not None
        and limits.per_client
        and entries.open_count(conn, "client", client) >= limits.per_client
    ):
        return Joined(refusal=f"one client may wait for at most {limits.per_client} places at once")
    entries.add(
        conn, orders.new_id("wait"), key, request.label, cart.customer.email, email_key, client,
        body, now,
    )  # fmt: skip
    offer_event(conn, catalog, key, now)
    return Joined(entry=entries.find(conn, key, email_key), created=True)


def run(conn: duckdb.DuckDBPyConnection, now: datetime) -> dict:
    """`offer_places` from the web process (`POST /api/waitlist/run`)."""
    return offer_places(conn, store_catalog(), now)


def offer_places(conn: duckdb.DuckDBPyConnection, catalog: Catalog, now: datetime) -> dict:
    """The whole pass (see the module's docstring); what it did, by count."""
    booked = gone = 0
    for entry_id, order_id, payment_status, expires_at in entries.offers(conn):
        if payment_status in PAID:
            booked += entries.close(conn, entry_id, "converted", f"booked ({order_id})", now)
        elif payment_status in GONE or lapsed(expires_at, now):
            orders.release_abandoned_checkout(conn, order_id, now)
            gone += entries.close(conn, entry_id, "lapsed", "the offer was not taken up", now)
    offered = sum(offer_event(conn, catalog, key, now) for key in entries.events_waiting(conn))
    return {"converted": booked, "lapsed": gone, "offered": offered}


def place_freed(
    conn: duckdb.DuckDBPyConnection, catalog: Catalog, resource_key: str, now: datetime
) -> int:
    """A place on `resource_key` (a hold's resource: core/checkout.hold_options) was freed
    in this transaction: offer it to the next waiting family of each event that can take
    it. How many offers were made. `now` is naive UTC."""
    return sum(
        offer_event(conn, catalog, key, now) for key in entries.events_waiting(conn, resource_key)
    )


def order_places_freed(
    conn: duckdb.DuckDBPyConnection, catalog: Catalog, order_id: str, now: datetime
) -> int:
    """`place_freed` for every place the order held (its holds were released in this
    transaction: an expired checkout, a refund, a cancellation)."""
    resources = conn.execute(
        "SELECT DISTINCT resource_key FROM holds WHERE order_id = ? ORDER BY 1", [order_id]
    ).fetchall()
    return sum(place_freed(conn, catalog, resource, now) for (resource,) in resources)


def offer_event(conn: duckdb.DuckDBPyConnection, catalog: Catalog, key: str, now: datetime) -> int:
    """Offer each free place of the event to the next waiting family; how many offers."""
    made = 0
    entries.lock_event(conn, key)  # one offer pass per event at a time, across sidecars
    waiting = entries.waiting(conn, key)
    if not waiting:
        return 0
    today = now.replace(tzinfo=UTC).astimezone(catalog.tz).date()
    carts: dict[str, Cart] = {}
    for entry_id, _, body in waiting:
        try:
            carts[entry_id] = waitlist_cart(json.loads(body), catalog, today)
        except (InvalidCart, KeyError, ValueError) as exc:  # the day has passed, or the
            # product left the catalog: nothing to offer any more
            entries.close(conn, entry_id, "removed", f"can no longer be booked: {exc}", now)
    if not carts:
        return 0
    (request,) = hold_requests(next(iter(carts.values())), catalog)
    free = free_places(
        [(orders.places_used(conn, resource, now), capacity) for resource, capacity in
         with_overrides(conn, request.options) if resource in event_resources(key)]
    )  # fmt: skip
    chosen = next_offers([Waiting(i, p) for i, p, _ in waiting if i in carts], free)
    for entry_id in chosen:
        cart = carts[entry_id]
        order_id = orders.new_id("ord")
        expires_at = offer_expiry(now)
        order = orders.NewOrder(
            order_id, cart, tuple(hold_requests(cart, catalog)), now, expires_at
        )
        if orders.place_order(conn, order):
            break  # not free after all (another item of the same resources): wait
        entries.mark_offered(conn, entry_id, order_id, expires_at, now)
        outbox.enqueue(
            conn,
            dedupe_key=f"waitlist-offer:{entry_id}:{order_id}",
            channel="email",
            payload={
                "template": "waitlist_offer",
                "name": cart.customer.name,
                "label": order.holds[0].label,
                "expires_at": expires_at.isoformat(),
            },
            now=now,
            recipient=cart.customer.email,
            order_id=order_id,
        )
        made += 1
    return made


def remove(conn: duckdb.DuckDBPyConnection, entry_id: str, reason: str, now: datetime) -> str:
    """Staff take a family off the list: `removed`, `not_found`, or `closed` (it was no
    longer open). An offer it held is withdrawn: its place goes back, and the next pass
    offers it to the next family."""
    entry = entries.entry(conn, entry_id)
    if entry is None:
        return "not_found"
    if not entries.close(conn, entry_id, "removed", reason, now):
        return "closed"
    if entry["status"] == "offered" and entry["order_id"]:
        orders.release_abandoned_checkout(conn, entry["order_id"], now)
    return "removed"

"""What staff can book by phone, from the catalog: each product with what its booking needs
(a camp's days and sessions, a party's days and start times, an Ignite class's weekday), for
the dashboard's booking form (`GET /api/catalog`). Pure: the catalog and the local day in,
plain data out; days before `today` are left out, and so are products with none left."""

from __future__ import annotations

from datetime import date
from typing import Any

from core.calendar_slots import place_names
from core.catalog import Camp, Catalog, Ignite, Party

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def bookable(catalog: Catalog, today: date) -> list[dict[str, Any]]:
    """Camps, then parties, then Ignite classes, each by name."""
    found: list[dict[str, Any]] = []
    for product in sorted(catalog.camps, key=lambda p: p.name):
        if described := _camp(catalog, product, today):
            found.append(described)
    for product in sorted(catalog.parties, key=lambda p: p.name):
        if described := _party(catalog, product, today):
            found.append(described)
    for product in sorted(catalog.ignite, key=lambda p: p.name):
        found.append(_ignite(catalog, product))
    return found


def _base(catalog: Catalog, product: Camp | Party | Ignite, room: str) -> dict[str, Any]:
    venue_name, _ = place_names(catalog, product.venue, room)
    return {"product_id": product.id, "kind": product.kind, "name": product.name,
            "venue_id": product.venue, "venue_name": venue_name}  # fmt: skip


def _camp(catalog: Catalog, camp: Camp, today: date) -> dict[str, Any] | None:
    days = [d.isoformat() for d in camp.dates if d >= today]
    if not days:
        return None
    return {**_base(catalog, camp, camp.room), "dates": days,
            "sessions": sorted(camp.prices), "prices": dict(camp.prices),
            "min_age": camp.min_age, "max_age": camp.max_age}  # fmt: skip


def _party(catalog: Catalog, party: Party, today: date) -> dict[str, Any] | None:
    if party.last_date < today:
        return None
    return {**_base(catalog, party, party.rooms[0] if party.rooms else ""),
            "first_date": max(party.first_date, today).isoformat(),
            "last_date": party.last_date.isoformat(),
            "weekdays": [WEEKDAYS[d] for d in party.weekdays],
            "start_times": [t.strftime("%H:%M") for t in party.slots],
            "price": party.price}  # fmt: skip


def _ignite(catalog: Catalog, ignite: Ignite) -> dict[str, Any]:
    return {**_base(catalog, ignite, ignite.room), "weekday": WEEKDAYS[ignite.weekday],
            "start_time": ignite.start.strftime("%H:%M"), "price": ignite.price,
            "billing_interval": ignite.billing_interval,
            "min_age": ignite.min_age, "max_age": ignite.max_age}  # fmt: skip


def label(product: dict[str, Any]) -> str:
    """How the form names a product: "Camp · Robotics Bootcamp, Marrickville"."""
    kind = {"camp": "Camp", "party": "Party", "ignite": "Ignite"}.get(product["kind"], "")
    return f"{kind} · {product['name']}, {product['venue_name']}"

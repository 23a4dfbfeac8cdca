"""What staff can book by phone (core/bookable.py): products with what their booking needs,
days already past left out."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from core.bookable import bookable, label
from core.catalog_file import load_catalog

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "data" / "catalog.toml")


def test_every_product_is_listed_by_kind_with_what_its_booking_needs():
    today = min(d for camp in CATALOG.camps for d in camp.dates)
    found = bookable(CATALOG, today)
    kinds = [p["kind"] for p in found]
    assert kinds == sorted(kinds, key=["camp", "party", "ignite"].index)
    assert {p["product_id"] for p in found} == set(CATALOG.products)
    robotics = next(p for p in found if p["product_id"] == "summer-robotics")
    camp = CATALOG.product("summer-robotics")
    assert robotics["dates"] == [d.isoformat() for d in camp.dates]
    assert robotics["sessions"] == ["all_day", "day"] and robotics["prices"]["day"] > 0
    party = next(p for p in found if p["kind"] == "party")
    assert party["start_times"] and all(len(t) == 5 for t in party["start_times"])
    ignite = next(p for p in found if p["kind"] == "ignite")
    assert ignite["weekday"] in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                 "Saturday", "Sunday")  # fmt: skip
    assert label(robotics) == f"Camp · {camp.name}, {robotics['venue_name']}"


def test_days_gone_by_are_left_out_and_so_are_camps_and_parties_with_none_left():
    camp = CATALOG.product("summer-robotics")
    middle = sorted(camp.dates)[len(camp.dates) // 2]
    listed = {p["product_id"]: p for p in bookable(CATALOG, middle)}
    if "summer-robotics" in listed:
        assert all(date.fromisoformat(d) >= middle for d in listed["summer-robotics"]["dates"])
    far = date(2100, 1, 1)
    assert {p["kind"] for p in bookable(CATALOG, far)} <= {"ignite"}

"""`GET /api/catalog`: what the dashboard's booking form offers (core/bookable.py)."""

from __future__ import annotations

import requests

from tests.conftest import SUITE_NOW, Sidecar


def test_staff_read_what_can_be_booked_from_today_on(sidecar: Sidecar):
    answer = sidecar.staff_get("/api/catalog")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["today"] == SUITE_NOW.date().isoformat()
    assert body["timezone"] == "Australia/Sydney"
    camps = [p for p in body["products"] if p["kind"] == "camp"]
    assert camps and all(d >= body["today"] for c in camps for d in c["dates"])
    assert {p["kind"] for p in body["products"]} == {"camp", "party", "ignite"}


def test_the_catalog_needs_a_staff_token(sidecar: Sidecar):
    assert requests.get(sidecar.url + "/api/catalog", timeout=10).status_code == 401

"""Checkout hold limits (docs/security.md, Abuse limits) against a real sidecar and FakeStripe.

The sidecar trusts X-Forwarded-For from the test (FORWARDED_ALLOW_IPS=127.0.0.1), as it
would from a storefront that forwards its customers' addresses; each test speaks as its own
clients, on camp days of its own.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import REPO, Sidecar, sidecar_env
from tests.fakes.stripe import FakeStripe

TEN_SEATS = """
[[camps]]
id = "ten-seats"
name = "Ten Seats"
venue = "marrickville"
room = "workshop"
dates = ["2027-01-11", "2027-01-12", "2027-01-13", "2027-01-14"]
capacity = 10
prices = { day = 5000, all_day = 7000 }
min_age = 5
max_age = 12
description = "Ten seats a day."

[[camps]]
id = "one-seat"
name = "One Seat"
venue = "marrickville"
room = "workshop"
dates = ["2027-01-15"]
capacity = 1
prices = { day = 5000, all_day = 7000 }
min_age = 5
max_age = 12
description = "One seat."
"""
PER_CLIENT = 8

_clients = (f"198.51.100.{n}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, fake: FakeStripe) -> Iterator[Sidecar]:
    tmp_path = tmp_path_factory.mktemp("holds")
    catalog = tmp_path / "catalog.toml"
    catalog.write_text((REPO / "data" / "catalog.toml").read_text() + TEN_SEATS)
    env = sidecar_env(
        tmp_path,
        STRIPE_SECRET_KEY="sk_test_123",
        STRIPE_API_BASE=fake.url,
        CATALOG_PATH=str(catalog),
        FORWARDED_ALLOW_IPS="127.0.0.1",
        CHECKOUT_PLACES_PER_CLIENT=str(PER_CLIENT),
        CHECKOUT_CLIENT_SHARE_PERCENT="50",
    )
    server = start_sidecar(free_port(), env, log_path=tmp_path / "sidecar.log")
    yield Sidecar(server)
    server.stop()


def camp(product_id: str, day: str, child: int = 0) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "date": day,
        "session": "day",
        "student": {"name": f"Child {'ABCDEFGHIJKLMNOPQRSTUVWXYZ'[child]}", "age": 9},
    }


def checkout(
    shop: Sidecar, items: list[dict[str, Any]], client: str, email: str | None = None
) -> requests.Response:
    email = email or f"family.{secrets.token_hex(4)}@example.com"
    body = {"customer": {"email": email, "name": "Sam Lee"}, "items": items}
    return requests.post(
        shop.url + "/api/checkout", json=body, headers={"X-Forwarded-For": client}, timeout=30
    )


def payment_status(shop: Sidecar, order_id: str) -> str:
    return requests.get(f"{shop.url}/api/orders/{order_id}/status", timeout=10).json()[
        "payment_status"
    ]


def test_one_client_cannot_hold_more_than_half_a_day_and_a_second_family_still_books(
    shop: Sidecar,
):
    attacker = next(_clients)
    answers = [checkout(shop, [camp("ten-seats", "2027-01-11")], attacker) for _ in range(6)]

    assert [a.status_code for a in answers] == [201] * 5 + [429]
    refused = answers[-1].json()
    assert refused["error"] == "too_many_holds"
    assert "at most 5 of the 10 places of Ten Seats on Mon 11 Jan 2027" in refused["message"]
    assert "try again in 30 minutes" in refused["message"]
    assert 1700 < int(answers[-1].headers["Retry-After"]) <= 1800
    family = checkout(shop, [camp("ten-seats", "2027-01-11")], next(_clients))
    assert family.status_code == 201


def test_a_cart_bigger_than_a_clients_share_is_refused_without_a_retry(shop: Sidecar):
    items = [camp("ten-seats", "2027-01-12", child) for child in range(6)]

    response = checkout(shop, items, next(_clients))

    assert response.status_code == 429
    assert "Retry-After" not in response.headers
    assert response.json()["retry_after"] is None


def test_one_client_holds_at_most_its_places_across_days(shop: Sidecar):
    client = next(_clients)
    days = ["2027-01-18", "2027-01-19", "2027-01-20", "2027-01-21", "2027-01-22"]
    first = checkout(shop, [camp("summer-robotics", day) for day in days], client)
    second = checkout(shop, [camp("summer-robotics", day, 1) for day in days[:3]], client)
    third = checkout(shop, [camp("summer-robotics", day, 2) for day in days[:4]], client)

    assert (first.status_code, second.status_code) == (201, 201)
    assert third.status_code == 429
    assert f"may hold at most {PER_CLIENT}" in third.json()["message"]
    assert 1700 < int(third.headers["Retry-After"]) <= 1800


def test_one_mailbox_holds_at_most_six_places(shop: Sidecar):
    items = [camp("ten-seats", "2027-01-13", child) for child in range(4)]
    items += [camp("ten-seats", "2027-01-14", child) for child in range(3)]

    response = checkout(shop, items, next(_clients))

    assert response.status_code == 429
    message = response.json()["message"]
    assert "one email address may hold at most 6 places unpaid at once" in message
    assert "this cart has 7" in message


def test_a_mailboxs_new_checkout_replaces_its_unpaid_one_and_closes_its_session(
    shop: Sidecar, fake: FakeStripe
):
    first = checkout(shop, [camp("one-seat", "2027-01-15")], next(_clients), "Kim.Lee@gmail.com")
    assert first.status_code == 201
    stranger = checkout(shop, [camp("one-seat", "2027-01-15")], next(_clients))
    assert stranger.status_code == 409  # the one seat is held

    # The same mailbox (a dot and a +tag apart), from another device, for the same seat.
    again = checkout(shop, [camp("one-seat", "2027-01-15")], next(_clients), "kimlee+2@gmail.com")

    assert again.status_code == 201, again.text
    first_order = first.json()["order_id"]
    assert payment_status(shop, first_order) == "expired"
    assert payment_status(shop, again.json()["order_id"]) == "pending"
    (session,) = [s for s in fake.sessions.values() if s["client_reference_id"] == first_order]
    deadline = time.monotonic() + 10
    while fake.sessions[session["id"]]["status"] != "expired" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.sessions[session["id"]]["status"] == "expired"
    assert checkout(shop, [camp("one-seat", "2027-01-15")], next(_clients)).status_code == 409

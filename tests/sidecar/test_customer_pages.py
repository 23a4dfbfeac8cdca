"""The customer's order pages over HTTP, on a real sidecar: not found, redirects, headers,
escaping. What a browser does with them is in test_customer_pages_browser.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import Sidecar, sidecar_env
from tests.fakes.stripe import FakeStripe
from tests.sidecar.test_fulfilment import (
    camp,
    checkout,
    delivered,
    fulfilled,
    pay,
    shop_env,
    status_when,
)

PAGES = ("processing", "success", "cancelled")


def start_shop(fake: FakeStripe, tmp_path: Path) -> Sidecar:
    """A sidecar whose PUBLIC_BASE_URL is itself, so every link on the pages works."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = sidecar_env(tmp_path, **shop_env(fake), PUBLIC_BASE_URL=url)
    return Sidecar(start_sidecar(port, env, log_path=tmp_path / "sidecar.log"))


@pytest.fixture(scope="module")
def shop(fake: FakeStripe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    sidecar = start_shop(fake, tmp_path_factory.mktemp("pages"))
    yield sidecar
    sidecar.server.stop()


def get(shop: Sidecar, path: str) -> requests.Response:
    return requests.get(shop.url + path, allow_redirects=False, timeout=10)


def nonce_of(response: requests.Response) -> str:
    (nonce,) = re.findall(
        r"script-src 'nonce-([^']+)'", response.headers["Content-Security-Policy"]
    )
    return nonce


def assert_private_page(response: requests.Response) -> None:
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "'unsafe-inline'" not in policy
    nonce = nonce_of(response)
    # Every script and style on the page carries the response's nonce, and only that.
    tags = re.findall(r"<(script|style)\b([^>]*)>", response.text)
    assert tags
    assert all(attrs == f' nonce="{nonce}"' for _, attrs in tags)


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("key", ["ord_doesnotexist", "cs_test_nope", "x" * 300])
def test_an_unknown_order_gets_a_friendly_404_page(shop, page, key):
    response = get(shop, f"/orders/{key}/{page}")

    assert response.status_code == 404
    assert "We couldn't find that order" in response.text
    assert f'href="{shop.url}/"' in response.text  # back to the shop
    assert_private_page(response)


def test_an_unpaid_order_shows_the_processing_page_and_its_success_page_redirects_there(shop, fake):
    order_id, session_id = checkout(shop, fake, [camp("2027-01-04", "day", "Ada")])

    success = get(shop, f"/orders/{order_id}/success")
    processing = get(shop, f"/orders/{session_id}/processing")

    assert success.status_code == 303
    assert success.headers["Location"] == f"/orders/{order_id}/processing"
    assert success.headers["Cache-Control"] == "no-store"
    assert processing.status_code == 200
    assert "Confirming your booking" in processing.text
    # Opened with the Checkout Session id, it polls the order by its own id.
    assert f'data-status-url="/api/orders/{order_id}/status"' in processing.text
    assert '<meta http-equiv="refresh" content="5">' in processing.text  # without JS
    assert_private_page(processing)
    assert nonce_of(processing) != nonce_of(get(shop, f"/orders/{order_id}/processing"))


def test_a_fulfilled_order_goes_from_processing_to_success_which_shows_its_bookings(shop, fake):
    order_id, session_id = checkout(
        shop, fake, [camp("2027-01-05", "all_day", "Ada"), camp("2027-01-05", "day", "Ben")]
    )
    pay(shop, fake, session_id)
    status_when(shop, order_id, fulfilled)

    processing = get(shop, f"/orders/{order_id}/processing")
    success = get(shop, f"/orders/{session_id}/success")

    assert processing.status_code == 303
    assert processing.headers["Location"] == f"/orders/{order_id}/success"
    assert success.status_code == 200
    assert_private_page(success)
    html = success.text
    assert html.index("<h2>Ada</h2>") < html.index("<h2>Ben</h2>")
    assert "Tuesday 5 January 2027, 9:00 AM to 5:00 PM" in html  # Ada, all day
    assert "Tuesday 5 January 2027, 9:00 AM to 3:00 PM" in html  # Ben, day
    assert "TinkerTank Marrickville, Unit 3, 48 Farr Street, Marrickville NSW 2204" in html
    assert f'href="{shop.url}/orders/{order_id}/calendar.ics"' in html
    assert 'data-calendar="google"' in html
    assert "Pack lunch" in html


def test_a_hostile_student_name_is_escaped_on_the_success_page(shop, fake):
    name = '<script>alert("pwned")</script>'
    order_id, session_id = checkout(shop, fake, [camp("2027-01-06", "day", name)])
    pay(shop, fake, session_id)
    status_when(shop, order_id, fulfilled)

    response = get(shop, f"/orders/{order_id}/success")

    assert response.status_code == 200
    assert name not in response.text
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in response.text
    assert len(re.findall(r"<script\b", response.text)) == 1  # the page's own, with its nonce
    assert_private_page(response)


def test_the_cancel_page_says_nothing_was_taken_and_gives_the_places_back_at_once(shop, fake):
    order_id, session_id = checkout(shop, fake, [camp("2027-01-07", "day", "Ada")])

    released = get(shop, f"/orders/{order_id}/cancelled")
    expired = status_when(shop, order_id, lambda s: s["payment_status"] == "expired")
    again = get(shop, f"/orders/{order_id}/cancelled")
    processing = get(shop, f"/orders/{order_id}/processing")

    assert released.status_code == 200
    assert_private_page(released)
    assert "No payment was taken" in released.text
    assert f'href="{shop.url}/"' in released.text
    # Abandoned: the session is closed at Stripe, so it cannot be paid for places that are
    # given back now rather than when the 30-minute hold lapses.
    assert fake.sessions[session_id]["status"] == "expired"
    assert expired["payment_status"] == "expired"
    assert "have been released" in released.text and "have been released" in again.text
    assert "holding your places until" not in released.text
    assert "This checkout has expired" in processing.text
    assert "http-equiv" not in processing.text  # nothing more to wait for
    # Stripe's checkout.session.expired that follows changes nothing.
    expired_event = fake.events[0]
    assert expired_event["type"] == "checkout.session.expired"
    delivered(shop, expired_event)
    assert status_when(shop, order_id, lambda s: True)["payment_status"] == "expired"


def test_the_cancel_page_keeps_the_places_held_while_stripe_cannot_expire_the_session(shop, fake):
    order_id, _session_id = checkout(shop, fake, [camp("2027-01-07", "day", "Bea")])
    fake.fail_next(3)  # the expire request and both of the library's retries

    held = get(shop, f"/orders/{order_id}/cancelled")

    assert held.status_code == 200
    assert "holding your places until <strong>" in held.text
    assert status_when(shop, order_id, lambda s: True)["payment_status"] == "pending"


def test_the_cancel_page_of_a_paid_order_sends_the_customer_to_the_processing_page(shop, fake):
    order_id, session_id = checkout(shop, fake, [camp("2027-01-08", "day", "Ada")])
    pay(shop, fake, session_id)
    status_when(shop, order_id, lambda s: s["payment_status"] == "paid")

    response = get(shop, f"/orders/{order_id}/cancelled")

    assert response.status_code == 303
    assert response.headers["Location"] == f"/orders/{order_id}/processing"

"""What customers type is shown as text everywhere on the dashboard, never read as Markdown:
a name of `:red[REFUND APPROVED]` is those characters, not a red notice, and a Markdown image
loads nothing from anywhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import Sidecar, sidecar_env
from tests.dashboard.conftest import dashboard_settings, log_in, new_dashboard, no_trouble
from tests.fakes.stripe import FakeStripe

# The support form takes only a plain name (docs/security.md, Abuse limits), so a ticket carries its
# hostile text in the message.
PLAIN_NAME = "Jo O'Brien"
HOSTILE = ":red[**REFUND APPROVED**] ![seen](https://tracker.example/p.png) <b>hi</b> _x_"
EMAIL = "refund_approved_now@example.com"  # underscores would be italics in Markdown


@pytest.fixture(scope="module")
def shop(fake_stripe: FakeStripe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    tmp_path = tmp_path_factory.mktemp("customer-text")
    env = sidecar_env(tmp_path, STRIPE_SECRET_KEY="sk_test_123", STRIPE_API_BASE=fake_stripe.url)
    server = start_sidecar(free_port(), env, log_path=tmp_path / "sidecar.log")
    yield Sidecar(server)
    server.stop()


def _open(shop: Sidecar, page: str):
    at = log_in(new_dashboard(dashboard_settings(shop.url)))
    at.switch_page(f"pages/{page}.py").run()
    return at


def _no_markdown_reads(at, text: str) -> None:
    """Nowhere is the customer's text handed to Markdown as it is."""
    for element in [*at.markdown, *at.caption, *at.error, *at.warning, *at.info, *at.success]:
        assert text not in element.value


def test_an_order_shows_the_customers_name_and_email_as_text(shop: Sidecar):
    cart = {
        "customer": {"email": EMAIL, "name": HOSTILE},
        "items": [{"product_id": "summer-robotics", "date": "2027-01-04", "session": "day",
                   "student": {"name": "Kim", "age": 9}}],
    }  # fmt: skip
    placed = requests.post(shop.url + "/api/checkout", json=cart, timeout=10)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]

    at = _open(shop, "orders")
    at.text_input(key="orders-open").input(order_id).run()

    no_trouble(at)
    assert any(t.value.startswith(f"{HOSTILE} · {EMAIL} · created ") for t in at.text)
    _no_markdown_reads(at, HOSTILE)
    _no_markdown_reads(at, EMAIL)


def test_a_support_ticket_shows_the_customers_name_and_email_as_text(shop: Sidecar):
    ticket = requests.post(
        shop.url + "/api/support/booking-issue",
        json={"order_id": "ord_not_theirs", "email": EMAIL, "category": "payment",
              "name": PLAIN_NAME, "message": f"{HOSTILE}\n# Heading\n[click](https://evil.example)"},
        timeout=10,
    )  # fmt: skip
    assert ticket.status_code == 201, ticket.text
    ticket_id = ticket.json()["ticket_id"]

    at = _open(shop, "support")
    at.selectbox(key="support-ticket").select(ticket_id).run()

    no_trouble(at)
    texts = [t.value for t in at.text]
    assert f"payment from {PLAIN_NAME} <{EMAIL}>" in texts
    assert f"{HOSTILE}\n# Heading\n[click](https://evil.example)" in texts
    _no_markdown_reads(at, HOSTILE)

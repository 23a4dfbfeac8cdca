"""Staff actions in a real browser: `tinkertank dashboard` against a sidecar of its own,
driven by Playwright through Debian's headless Chromium: refund an item, then move a
booking, from the order page. Screenshots go to `test-artifacts/dashboard/`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import CLOCK_SHIFT, Sidecar, sidecar_env
from tests.dashboard.browser import SCREENSHOTS, running_dashboard, settled, trouble
from tests.dashboard.conftest import PASSWORD, camp, order_status, place_and_pay, wait_for
from tests.dashboard.test_order_actions import Shop

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shop(fake_stripe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    tmp_path = tmp_path_factory.mktemp("actions-browser")
    env = sidecar_env(tmp_path, STRIPE_SECRET_KEY="sk_test_123", STRIPE_API_BASE=fake_stripe.url)
    server = start_sidecar(free_port(), env, log_path=tmp_path / "sidecar.log")
    yield Shop(Sidecar(server))
    server.stop()


@pytest.fixture(scope="module")
def dashboard_url(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_dashboard(
        shop.url, tmp_path_factory.mktemp("actions-dashboard-home"), CLOCK_SHIFT
    ) as url:
        yield url


def test_staff_refund_an_item_and_move_a_booking_in_a_browser(
    browser, dashboard_url: str, shop: Shop, fake_stripe
):
    order_id = place_and_pay(
        shop.sidecar, fake_stripe, "Uma Parent",
        [camp("2027-01-19", "day", "Uma"), camp("2027-01-20", "day", "Vic")],
    )  # fmt: skip
    wait_for(lambda: order_status(shop.url, order_id)["fulfillment_status"] == "fulfilled")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1440, "height": 1400})
    page.goto(dashboard_url)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("textbox", name="Your name").fill("Robin")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Live").wait_for()
    settled(page)
    page.get_by_role("link", name="Orders").click()
    page.get_by_role("heading", name="Orders", exact=True).wait_for()
    settled(page)
    page.get_by_role("textbox", name="Open an order by order, cs_ or pi_ id").fill(order_id)
    page.keyboard.press("Enter")
    page.get_by_text("Act on this order").click()
    settled(page)

    # Refund Uma's day.
    refund = page.locator('[data-testid="stForm"]').filter(has_text="Items to refund")
    refund.locator('[data-testid="stMultiSelect"]').click()
    page.get_by_role("option", name="Uma", exact=False).click()
    page.keyboard.press("Escape")
    refund.get_by_role("textbox", name="Why").fill("Uma has the flu")
    page.screenshot(path=SCREENSHOTS / "order-refund.png", full_page=True)
    refund.get_by_role("button", name="Refund").click()
    page.get_by_text("$89.00 refunded").first.wait_for()
    settled(page)
    assert trouble(page) == []
    (event,) = [e for e in fake_stripe.refund_events()
                if e["data"]["object"]["payment_intent"]
                == shop.get(f"/api/orders/{order_id}")["order"]["payment_intent_id"]]  # fmt: skip
    assert shop.sidecar.deliver(event).status_code == 200
    wait_for(lambda: {b["student"]: b["status"] for b in
                      shop.get(f"/api/orders/{order_id}")["bookings"]}
             == {"Uma": "cancelled", "Vic": "confirmed"})  # fmt: skip

    # Move Vic's day to the 21st.
    page.get_by_text("Act on this order").click()
    settled(page)
    page.get_by_role("tab", name="Move a booking").click()
    move = page.locator('[data-testid="stForm"]').filter(has_text="New day")
    move.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="Vic", exact=False).click()
    move.locator('[data-testid="stDateInput"] input').fill("2027-01-21")  # type="date": ISO
    move.get_by_role("textbox", name="Why").fill("family holiday")
    page.screenshot(path=SCREENSHOTS / "order-move.png", full_page=True)
    move.get_by_role("button", name="Move").click()
    page.get_by_text("moved from").first.wait_for()
    settled(page)
    assert trouble(page) == []
    items = shop.get(f"/api/orders/{order_id}")["items"]
    assert next(i for i in items if i["student"] == "Vic")["item_date"] == "2027-01-21"

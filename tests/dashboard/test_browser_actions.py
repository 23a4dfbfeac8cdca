"""Staff actions in a real browser: `tinkertank dashboard` against a sidecar of its own,
driven by Playwright through Debian's headless Chromium: refund an item, then move a
booking, from the order page; refund an Ignite enrolment from the invoice chosen.
Screenshots go to `test-artifacts/dashboard/`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from runtime.sidecar_process import free_port, start_sidecar
from tests.conftest import CLOCK_SHIFT, Sidecar, sidecar_env
from tests.dashboard.browser import SCREENSHOTS, running_dashboard, settled, trouble
from tests.dashboard.conftest import PASSWORD, camp, order_status, place_and_pay, wait_for
from tests.dashboard.test_order_actions import Shop
from tests.sidecar.test_ignite import invoice, stripe_event

pytestmark = pytest.mark.slow
IGNITE_PRICE = "price_ignite_coding_monday_2027"


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

    # Move Vic's day to the 21st (the actions stay open after the refund, its answer shown).
    open_actions(page)
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


def test_staff_refund_an_ignite_enrolment_from_a_chosen_invoice_in_a_browser(
    browser, dashboard_url: str, shop: Shop, fake_stripe
):
    order_id, intents = ignite_order(shop, fake_stripe, "Ines")
    detail = shop.get(f"/api/orders/{order_id}")
    february = detail["invoices"][0]
    assert february["period_start"].startswith("2027-02-01") and february["refundable"] == 14900
    page = signed_in(browser, dashboard_url)
    open_order(page, order_id)
    open_actions(page)

    # Ines's February classes, from February's invoice (the latest is March's).
    refund = page.locator('[data-testid="stForm"]').filter(has_text="Items to refund")
    refund.locator('[data-testid="stMultiSelect"]').click()
    page.get_by_role("option", name="Ines", exact=False).click()
    page.keyboard.press("Escape")
    chooser = refund.locator('[data-testid="stSelectbox"]').filter(has_text="invoice")
    chooser.get_by_role("combobox").click()
    chooser.get_by_role("combobox").fill(february["invoice_id"])  # typed: the list narrows
    page.get_by_role("option", name=february["invoice_id"], exact=False).click()
    refund.get_by_role("textbox", name="Why").fill("away all February")
    page.screenshot(path=SCREENSHOTS / "order-refund-ignite.png", full_page=True)
    refund.get_by_role("button", name="Refund").click()
    # The answer shows next to the button, in the opened actions.
    actions = page.locator('[data-testid="stExpander"]').filter(has_text="Items to refund")
    answer = actions.get_by_text("$149.00 refunded")
    answer.wait_for()
    settled(page)
    assert f"from invoice {february['invoice_id']}" in answer.inner_text()
    assert "3 classes it paid for still to come" in answer.inner_text()
    assert trouble(page) == []

    # Stripe was asked once, for February's payment; its charge.refunded cancels February's
    # classes still to come, and March's stay.
    assert [r["amount"] for r in fake_stripe.refunds if r["payment_intent"] in intents] == [14900]
    (refund_made,) = [r for r in fake_stripe.refunds if r["payment_intent"] in intents]
    assert refund_made["payment_intent"] == intents[0]
    assert refund_made["metadata"]["tt_invoice"] == february["invoice_id"]
    (event,) = [e for e in fake_stripe.refund_events()
                if e["data"]["object"]["payment_intent"] == intents[0]]  # fmt: skip
    assert shop.sidecar.deliver(event).status_code == 200
    wait_for(lambda: {b["event"]["starts_at"][:7]: b["status"]
                      for b in shop.get(f"/api/orders/{order_id}")["bookings"]}
             == {"2027-02": "cancelled", "2027-03": "confirmed"})  # fmt: skip
    after = shop.get(f"/api/orders/{order_id}")
    assert [(i["refunded"], i["refundable"]) for i in after["invoices"]] == [(14900, 0), (0, 14900)]
    (audit,) = [a for a in after["actions"] if a["action"] == "refund"]
    assert audit["reason"] == "away all February"


def ignite_order(shop: Shop, fake, name: str) -> tuple[str, list[str]]:
    """An Ignite sign-up paid for February and March 2027 (its 7 classes booked): the order
    and its two invoices' PaymentIntents."""
    fake.add_price(IGNITE_PRICE, unit_amount=14900, currency="aud",
                   recurring={"interval": "month"})  # fmt: skip
    body = {"customer": {"email": f"{name.lower()}.parent@example.com", "name": "Pat Parent"},
            "items": [{"product_id": "ignite-coding-monday",
                       "student": {"name": name, "age": 9}}]}  # fmt: skip
    made = requests.post(shop.url + "/api/checkout", json=body, timeout=30)
    assert made.status_code == 201, made.text
    order_id = made.json()["order_id"]
    (session,) = [s for s in fake.sessions.values() if s["client_reference_id"] == order_id]
    completed = fake.complete_session(session["id"])
    subscription = completed["data"]["object"]["subscription"]
    assert shop.sidecar.deliver(completed).status_code == 200
    intents = []
    for start, end in (
        (datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC)),
        (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC)),
    ):
        paid = invoice(subscription, order_id, start, end)
        intents.append(fake.add_invoice_payment(paid["id"], amount=paid["amount_paid"]))
        assert shop.sidecar.deliver(stripe_event("invoice.paid", paid)).status_code == 200
    wait_for(lambda: len(shop.get(f"/api/orders/{order_id}")["bookings"]) == 3 + 4)
    return order_id, intents


def signed_in(browser, dashboard_url: str):
    """A page of the dashboard, signed in as Robin, on the Live page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1440, "height": 1400})
    page.goto(dashboard_url)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("textbox", name="Your name").fill("Robin")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Live").wait_for()
    settled(page)
    return page


def open_order(page, order_id: str) -> None:
    page.get_by_role("link", name="Orders").click()
    page.get_by_role("heading", name="Orders", exact=True).wait_for()
    settled(page)
    page.get_by_role("textbox", name="Open an order by order, cs_ or pi_ id").fill(order_id)
    page.keyboard.press("Enter")
    page.get_by_text("Act on this order").wait_for()
    settled(page)


def open_actions(page) -> None:
    """Open "Act on this order" unless it is open."""
    if not page.get_by_role("tab", name="Move a booking").is_visible():
        page.get_by_text("Act on this order").click()
        settled(page)

"""The customer's order pages in a real browser: Debian's headless Chromium, driven by
Playwright, against a real sidecar, on a phone-sized screen. Screenshots land in each
test's tmp_path.

CI must run these: without Chromium they fail, saying how to install it (`make test` does).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page

from tests.conftest import Sidecar
from tests.fakes.stripe import FakeStripe
from tests.sidecar.test_customer_pages import start_shop
from tests.sidecar.test_fulfilment import camp, checkout, delivered, pay

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
ARRIVAL = 30_000  # ms: generous, so a busy machine fails nothing


@pytest.fixture(scope="module")
def shop(fake: FakeStripe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    sidecar = start_shop(fake, tmp_path_factory.mktemp("pages-browser"))
    yield sidecar
    sidecar.server.stop()


@dataclass
class Phone:
    """A fresh phone-sized browser profile, and what its pages wrote to the console."""

    context: BrowserContext
    console: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [line for line in self.console if "Content Security Policy" in line]


@pytest.fixture
def phone(browser: Browser) -> Iterator[Phone]:
    phone = Phone(browser.new_context(**PHONE))
    phone.context.on("console", lambda message: phone.console.append(message.text))
    yield phone
    phone.context.close()


def visible_state(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "[data-for]", "sections => sections.filter(s => !s.hidden).map(s => s.dataset.for)"
    )


def query(url: str) -> dict[str, str]:
    return {key: value for key, (value,) in parse_qs(urlsplit(url).query).items()}


def test_the_processing_page_moves_on_by_itself_once_paid_and_clears_the_cart(
    shop, fake, phone, tmp_path
):
    order_id, session_id = checkout(shop, fake, [camp("2027-01-18", "day", "Ada")])
    # The storefront, on PUBLIC_BASE_URL's origin, opens the checkout's return page and
    # listens for the success page's message.
    storefront = phone.context.new_page()
    storefront.goto(f"{shop.url}/healthz")
    storefront.evaluate(
        """() => {
            window.heard = [];
            window.addEventListener("message", e => {
                window.heard.push({origin: e.origin, data: e.data});
            });
        }"""
    )
    with phone.context.expect_page() as opened:
        storefront.evaluate("url => window.open(url)", f"{shop.url}/orders/{session_id}/processing")
    page = opened.value
    page.wait_for_load_state()
    page.screenshot(path=tmp_path / "processing.png", full_page=True)
    assert visible_state(page) == ["processing"]
    assert page.get_by_role("heading", name="Confirming your booking…").is_visible()

    pay(shop, fake, session_id)

    page.wait_for_url(f"{shop.url}/orders/{order_id}/success", timeout=ARRIVAL)
    page.screenshot(path=tmp_path / "success.png", full_page=True)
    assert page.get_by_role("heading", name="Ada").is_visible()
    booking = page.locator("article.booking")
    assert booking.locator("h3").inner_text() == "Robotics Bootcamp — day session"
    assert booking.locator(".when").inner_text() == "Monday 18 January 2027, 9:00 AM to 3:00 PM"
    assert booking.locator(".where").inner_text() == (
        "TinkerTank Marrickville, Unit 3, 48 Farr Street, Marrickville NSW 2204"
    )
    links = {
        kind: booking.locator(f'[data-calendar="{kind}"]').get_attribute("href")
        for kind in ("google", "outlook", "office", "apple")
    }
    assert links["google"].startswith("https://calendar.google.com/calendar/render?")
    google = query(links["google"])
    assert google["dates"] == "20270117T220000Z/20270118T040000Z"  # 9 to 3, Sydney summer
    assert (google["text"], google["ctz"]) == (
        "Robotics Bootcamp — day session",
        "Australia/Sydney",
    )
    for kind, host in (("outlook", "outlook.live.com"), ("office", "outlook.office.com")):
        assert urlsplit(links[kind]).netloc == host
        outlook = query(links[kind])
        assert (outlook["startdt"], outlook["enddt"]) == (
            "2027-01-18T09:00:00+11:00",
            "2027-01-18T15:00:00+11:00",
        )
    ics_url = f"{shop.url}/orders/{order_id}/calendar.ics"
    assert links["apple"] == ics_url
    assert page.locator("#download-all").get_attribute("href") == ics_url
    ics = requests.get(ics_url, timeout=10)
    assert ics.headers["Content-Type"].startswith("text/calendar")
    assert "SUMMARY:Robotics Bootcamp — day session (" in ics.text
    assert "UID:booking." in ics.text
    assert page.get_by_text("Pack lunch", exact=False).is_visible()
    # The cart-clearing hook: the storefront's origin sees the key, and its window the message.
    assert page.evaluate("localStorage.getItem('tinkertank:cart-cleared')") == order_id
    assert storefront.evaluate("localStorage.getItem('tinkertank:cart-cleared')") == order_id
    storefront.wait_for_function("window.heard.length > 0", timeout=ARRIVAL)
    assert storefront.evaluate("window.heard") == [
        {"origin": shop.url, "data": {"type": "tinkertank:order-confirmed", "orderId": order_id}}
    ]
    # Readable on a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert phone.csp_violations() == []


def test_the_processing_page_says_so_when_the_checkout_expires(shop, fake, phone, tmp_path):
    order_id, session_id = checkout(shop, fake, [camp("2027-01-19", "day", "Ada")])
    page = phone.context.new_page()
    page.goto(f"{shop.url}/orders/{order_id}/processing")
    assert visible_state(page) == ["processing"]

    delivered(shop, fake.expire_session(session_id))

    page.locator('[data-for="expired"]').wait_for(state="visible", timeout=ARRIVAL)
    page.screenshot(path=tmp_path / "expired.png", full_page=True)
    assert visible_state(page) == ["expired"]
    assert page.url == f"{shop.url}/orders/{order_id}/processing"
    assert page.evaluate("localStorage.getItem('tinkertank:cart-cleared')") is None
    assert phone.csp_violations() == []


def test_without_javascript_the_processing_page_refreshes_its_way_to_success(
    shop, fake, browser, tmp_path
):
    order_id, session_id = checkout(shop, fake, [camp("2027-01-20", "all_day", "Ada")])
    context = browser.new_context(**PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{shop.url}/orders/{order_id}/processing")
        assert page.get_by_role("link", name="Check again").first.is_visible()

        pay(shop, fake, session_id)

        page.wait_for_url(f"{shop.url}/orders/{order_id}/success", timeout=ARRIVAL)
        page.screenshot(path=tmp_path / "success-without-js.png", full_page=True)
        when = page.locator("article.booking .when").inner_text()
        assert when == "Wednesday 20 January 2027, 9:00 AM to 5:00 PM"
    finally:
        context.close()


def test_the_cancel_page_reads_well_on_a_phone(shop, fake, phone, tmp_path):
    order_id, _ = checkout(shop, fake, [camp("2027-01-21", "day", "Ada")])
    page = phone.context.new_page()

    page.goto(f"{shop.url}/orders/{order_id}/cancelled")

    page.screenshot(path=tmp_path / "cancelled.png", full_page=True)
    assert page.get_by_role("heading", name="No payment was taken").is_visible()
    assert page.get_by_role("link", name="Back to the TinkerTank shop").get_attribute("href") == (
        f"{shop.url}/"
    )
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert phone.csp_violations() == []

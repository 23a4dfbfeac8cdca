"""The success page's support form in a real browser with JavaScript off, on a phone-sized
screen (Debian's headless Chromium, driven by Playwright), against a real sidecar."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.sidecar.test_customer_pages_browser import PHONE
from tests.sidecar.test_roster_messages import camp_day, pay

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_a_parent_sends_the_form_from_a_phone_without_javascript(
    start_sidecar_process, browser: Browser, tmp_path
):
    sidecar = start_sidecar_process()
    order_id = pay(sidecar, [camp_day("Mia")], "jane@example.com", "Jane Citizen", 8900)
    context = browser.new_context(**PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{sidecar.url}/orders/{order_id}/success")
        assert page.input_value("#support-email") == "jane@example.com"
        page.select_option("#support-category", "child_details")
        page.click("text=Send to TinkerTank")  # an empty message: the browser's own check
        assert page.url.endswith("/success")
        page.fill("#support-message", "Mia is allergic to peanuts.")
        page.fill("#support-name", "Jane")
        page.click("text=Send to TinkerTank")

        page.wait_for_url(f"**/orders/{order_id}/support")
        assert page.get_by_role("heading").first.inner_text() == "Thanks, we've got your request"
        reference = page.locator("main strong").first.inner_text()
        assert reference.startswith("TT-")
        # Nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(tmp_path / "support-answer.png"), full_page=True)
    finally:
        context.close()
    ticket = sidecar.staff_get(f"/api/tickets/{reference}").json()
    assert (ticket["category"], ticket["order_id"]) == ("child_details", order_id)

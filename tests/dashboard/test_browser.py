"""The dashboard in a real browser: `tinkertank dashboard` against a seeded sidecar, driven by
Playwright through Debian's headless Chromium. Screenshots of every page are kept in
`test-artifacts/dashboard/` for a person to look at."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import CLOCK_SHIFT
from tests.dashboard.browser import SCREENSHOTS, running_dashboard, settled, trouble
from tests.dashboard.conftest import PASSWORD, Seeded, step_status, wait_for

pytestmark = pytest.mark.slow

PAGE_TITLES = (
    "Live", "Orders", "Calendar", "Check-in", "Webhooks", "Errors", "Summaries", "Support", "SQL",
    "Bookings", "Waitlist",
)  # fmt: skip


@pytest.fixture(scope="module")
def dashboard_url(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_dashboard(
        seeded.url, tmp_path_factory.mktemp("dashboard-home"), CLOCK_SHIFT
    ) as url:
        yield url


def test_staff_log_in_open_every_page_and_retry_a_failed_step(
    browser, dashboard_url: str, seeded: Seeded
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(dashboard_url)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("textbox", name="Your name").fill("Robin")
    page.screenshot(path=SCREENSHOTS / "login.png")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Live").wait_for()
    settled(page)

    for title in PAGE_TITLES:
        page.get_by_role("link", name=title).click()
        page.get_by_role("heading", name=title, exact=True).wait_for()
        settled(page)
        assert trouble(page) == [], title
        page.screenshot(path=SCREENSHOTS / f"{title.lower()}.png", full_page=True)

    # The calendar: go to the seeded events, click one, read its roster.
    page.get_by_role("link", name="Calendar").click()
    page.get_by_role("button", name="Go to the next events").click()
    settled(page)
    # The month left behind stays on screen until the new one is drawn: wait for one calendar
    # showing the seeded party.
    frames = page.locator('iframe[title="streamlit_calendar.calendar"]')
    wait_for(
        lambda: (
            frames.count() == 1
            and frames.first.content_frame.get_by_text("10:00 Robot Rampage Party 1/1").count()
        ),
        60,
    )
    calendar = page.frame_locator('iframe[title="streamlit_calendar.calendar"]')
    calendar.locator(".fc-event", has_text="9:00 Robotics Bootcamp 2/24").first.click()
    page.get_by_role("heading", name="Robotics Bootcamp").wait_for()
    settled(page)
    assert trouble(page) == []
    page.screenshot(path=SCREENSHOTS / "calendar-roster.png", full_page=True)
    page.get_by_text("Week", exact=True).click()
    settled(page)
    wait_for(
        lambda: frames.count() == 1 and frames.first.content_frame.locator(".fc-timegrid").count(),
        60,
    )
    calendar.get_by_text("Mon 28 Dec").wait_for()  # dates the Australian way round
    settled(page)
    assert trouble(page) == []
    page.screenshot(path=SCREENSHOTS / "calendar-week.png", full_page=True)

    order_id = seeded.failed_orders[2]
    page.get_by_role("link", name="Orders").click()
    page.get_by_role("heading", name="Orders", exact=True).wait_for()
    settled(page)
    page.get_by_role("textbox", name="Open an order by order, cs_ or pi_ id").fill(order_id)
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Retry schedule_events").click()
    page.locator('[data-testid="stAlertContentSuccess"]').wait_for()  # next to the button
    settled(page)
    page.screenshot(path=SCREENSHOTS / "orders-retried.png", full_page=True)
    assert trouble(page) == []
    assert page.locator('[data-testid="stAlertContentSuccess"]').count() == 1
    wait_for(lambda: step_status(seeded.url, order_id, "schedule_events") == "done")

    page.get_by_role("button", name="Log out").click()
    page.get_by_role("textbox", name="Password").wait_for()
    assert page.get_by_role("link", name="Orders").count() == 0

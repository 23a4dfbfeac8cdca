"""A camp day at the door in a real browser: `tinkertank dashboard` and the sidecar both on
the door's clock (tests/door.py: 09:20 on a Robotics Bootcamp day, children booked through
the real checkout), driven by Playwright through Debian's headless Chromium on a tablet-sized
screen. A child is checked in and out on today's events, the roster is read, and no error
shows anywhere. Screenshots go to `test-artifacts/dashboard/checkin-*.png`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.dashboard.browser import SCREENSHOTS, running_dashboard, settled, trouble
from tests.dashboard.conftest import PASSWORD
from tests.door import DOOR_SHIFT, Door, door_day

pytestmark = pytest.mark.slow

TABLET = {"width": 1180, "height": 820}  # an iPad Air held sideways


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    with door_day(tmp_path_factory.mktemp("door-browser")) as world:
        yield world


@pytest.fixture(scope="module")
def door_dashboard(door: Door, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # The dashboard's today is the door's, as the sidecar's is.
    with running_dashboard(
        door.url, tmp_path_factory.mktemp("door-dashboard-home"), DOOR_SHIFT
    ) as url:
        yield url


def test_check_a_child_in_and_out_at_the_door_then_read_the_roster(
    browser, door_dashboard: str, door: Door
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport=TABLET)
    page.goto(door_dashboard)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("textbox", name="Your name").fill("Robin")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Live").wait_for()
    settled(page)

    page.get_by_role("link", name="Check-in").click()
    page.get_by_role("heading", name="Check-in", exact=True).wait_for()
    settled(page)
    page.get_by_text("Robotics Bootcamp — day session").wait_for()
    assert page.get_by_text("2 not arrived 15 minutes after the start.").count() == 1
    assert trouble(page) == []
    page.screenshot(path=SCREENSHOTS / "checkin-today.png", full_page=True)

    booking = door.bookings["Bo"]
    page.locator(f".st-key-checkin-in-{booking} button").click()
    page.get_by_text("Bo checked in by Robin").wait_for()
    settled(page)
    assert trouble(page) == []
    # Ada alone is still to come to the day session (Cy to the all-day one).
    assert page.get_by_text("2 not arrived 15 minutes after the start.").count() == 0
    assert page.get_by_text("1 not arrived 15 minutes after the start.").count() == 2
    page.screenshot(path=SCREENSHOTS / "checkin-checked-in.png", full_page=True)

    # Collected by defaults to the parent who booked.
    page.locator(f".st-key-checkin-out-{booking} button").click()
    page.get_by_text("Bo checked out to Ben Parent by Robin").wait_for()
    settled(page)
    assert trouble(page) == []
    assert page.locator(f".st-key-checkin-undo-out-{booking} button").count() == 1
    page.screenshot(path=SCREENSHOTS / "checkin-checked-out.png", full_page=True)

    # The roster of today's camp, from the calendar (which opens on today).
    page.get_by_role("link", name="Calendar").click()
    page.get_by_role("heading", name="Calendar", exact=True).wait_for()
    settled(page)
    calendar = page.frame_locator('iframe[title="streamlit_calendar.calendar"]')
    calendar.locator(".fc-event", has_text="3/24").first.click()  # the camp day: both sessions
    page.get_by_role("heading", name="Robotics Bootcamp").wait_for()
    settled(page)
    assert trouble(page) == []
    page.screenshot(path=SCREENSHOTS / "checkin-roster.png", full_page=True)

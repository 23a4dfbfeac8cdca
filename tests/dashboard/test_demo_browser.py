"""The demo at the door, in a real browser: what `make run` does — `tinkertank demo-catalog`,
`tinkertank demo-history`, the sidecar on the demo catalog and `tinkertank dashboard` — on the
suite's pinned clock (a Thursday morning, SUITE_NOW) and on a Saturday morning, driven by
Playwright through Debian's headless Chromium on a tablet-sized screen. Staff open Check-in,
see today's events with the demo's children (some already in, some flagged not arrived),
check a child in and out, read the roster from the Calendar, and no error shows anywhere.
Screenshots go to `test-artifacts/dashboard/demo-*.png`.

Whatever the real date: every process runs on the pinned moment (CLOCK_SHIFT_SECONDS) and
the demo catalog is made for that day, as `make run` makes it for today."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import requests

from runtime.sidecar_process import free_port, inherited_env, start_sidecar
from tests.conftest import ADMIN_TOKEN, REPO, SUITE_NOW, SYDNEY, sidecar_env
from tests.dashboard.browser import SCREENSHOTS, running_dashboard, settled, trouble
from tests.dashboard.conftest import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.browser]

TABLET = {"width": 1180, "height": 820}  # an iPad Air held sideways


@dataclass(frozen=True)
class DemoDay:
    name: str
    now: datetime
    child: str  # a child staff check in and out in the browser
    parent: str  # who collects them
    event: str  # the event of today's the child is booked into, as the calendar titles it
    already_in: str  # a child the demo checked in this morning
    note: str  # part of that child's notes, on the roster

    @property
    def shift(self) -> float:
        return self.now.timestamp() - time.time()


WEEKDAY = DemoDay("thursday", SUITE_NOW, "Ethan Nguyen", "Linh Nguyen", "Makers Week",
                  "Olivia Tran", "peanut allergy")  # fmt: skip
SATURDAY = DemoDay("saturday", datetime(2026, 11, 28, 11, 0, tzinfo=SYDNEY), "Noah Singh",
                   "Harpreet Singh", "Slime Lab Party", "Ruby Chen", "Birthday girl")  # fmt: skip


@dataclass
class Demo:
    day: DemoDay
    sidecar_url: str
    dashboard_url: str


def _run(command: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *command], env={**inherited_env(), **env}, cwd=cwd,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module", params=[WEEKDAY, SATURDAY], ids=lambda d: d.name)
def demo(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    day: DemoDay = request.param
    tmp_path = tmp_path_factory.mktemp(f"demo-{day.name}")
    shift = str(day.shift)
    catalog = tmp_path / "demo-catalog.toml"
    env = sidecar_env(tmp_path, CLOCK_SHIFT_SECONDS=shift, CATALOG_PATH=str(catalog))
    # As `make run` does for a new demo database (fewer past days, to be quick); the demo
    # catalog's today is named.
    _run(["demo-catalog", "--source", str(REPO / "data" / "catalog.toml"), "--out",
          str(catalog), "--today", day.now.date().isoformat()], env, tmp_path)  # fmt: skip
    history = _run(["demo-history", "--days", "7", "--per-day", "4"], env, tmp_path)
    families = 9 if day.now.weekday() < 5 else 11  # the camp's nine, and two parties
    assert f"{families} orders of the demo's families this week" in history
    server = start_sidecar(free_port(), env, log_path=tmp_path / "sidecar.log")
    try:
        with running_dashboard(server.url, tmp_path, shift) as url:
            yield Demo(day, server.url, url)
    finally:
        server.stop()


def _booking_of(demo: Demo, child: str) -> tuple[str, dict]:
    """The booking id of `child` today, and its attendance, from the staff API."""
    answer = requests.get(
        demo.sidecar_url + "/api/attendance",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    for event in answer.json()["events"]:
        for row in event["children"]:
            if row["student"] == child:
                return row["booking_id"], row
    raise AssertionError(f"{child} is not booked today: {answer.json()}")


def test_run_the_demo_day_at_the_door_then_read_the_roster(browser, demo: Demo):
    day = demo.day
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport=TABLET)
    page.goto(demo.dashboard_url)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("textbox", name="Your name").fill("Robin")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Live").wait_for()
    settled(page)
    assert trouble(page) == []

    page.get_by_role("link", name="Check-in").click()
    page.get_by_role("heading", name="Check-in", exact=True).wait_for()
    settled(page)
    page.get_by_text(day.event).first.wait_for()
    page.get_by_text(day.already_in).first.wait_for()
    assert trouble(page) == []
    page.screenshot(path=SCREENSHOTS / f"demo-{day.name}-checkin.png", full_page=True)

    booking, before = _booking_of(demo, day.child)
    assert before["checked_in_at"] is None
    page.locator(f".st-key-checkin-in-{booking} button").click()
    page.get_by_text(f"{day.child} checked in by Robin").wait_for()
    settled(page)
    assert trouble(page) == []
    page.locator(f".st-key-checkin-out-{booking} button").click()
    page.get_by_text(f"{day.child} checked out to {day.parent} by Robin").wait_for()
    settled(page)
    assert trouble(page) == []
    assert page.locator(f".st-key-checkin-undo-out-{booking} button").count() == 1
    _, after = _booking_of(demo, day.child)
    assert after["checked_in_by"] == "Robin" and after["collected_by"] == day.parent
    page.screenshot(path=SCREENSHOTS / f"demo-{day.name}-checked-out.png", full_page=True)

    # Today's roster, from the calendar (which opens on today).
    page.get_by_role("link", name="Calendar").click()
    page.get_by_role("heading", name="Calendar", exact=True).wait_for()
    settled(page)
    calendar = page.frame_locator('iframe[title="streamlit_calendar.calendar"]')
    calendar.locator(".fc-event", has_text=day.event).first.click()
    page.get_by_role("heading", name=day.event).first.wait_for()
    settled(page)
    assert trouble(page) == []
    assert page.get_by_text("with notes (⚠): read them first.").count() == 1
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    roster = Path(download.value.path()).read_text(encoding="utf-8")
    assert day.already_in in roster and day.note in roster
    page.screenshot(path=SCREENSHOTS / f"demo-{day.name}-roster.png", full_page=True)

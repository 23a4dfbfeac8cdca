"""The Check-in page (AppTest) against a real sidecar on a camp day (tests/door.py): each
child's row, the flags, check in and out with the result next to the button, an adult not
named needing a reason, undo, and a day without events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ADMIN_TOKEN
from tests.dashboard.conftest import dashboard_settings, log_in, new_dashboard, no_trouble
from tests.door import DOOR_NOW, Door, door_day

TODAY = DOOR_NOW.date()


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    with door_day(tmp_path_factory.mktemp("door-page")) as world:
        yield world


def checkin_page(door: Door, day: date = TODAY) -> AppTest:
    at = log_in(new_dashboard(dashboard_settings(door.url)), name="Robin")
    at.switch_page("pages/checkin.py").run()
    # The page opens on today by the dashboard's clock (the suite's); the door is on its own.
    at.date_input(key="checkin-day").set_value(day).run()
    no_trouble(at)
    return at


def texts(at: AppTest) -> str:
    """The page's text as a person reads it (customer text is shown escaped)."""
    return "\n".join(
        [m.value for m in at.markdown] + [c.value for c in at.caption]
        + [h.value for h in at.subheader] + [w.value for w in at.warning]
    ).replace("\\", "")  # fmt: skip


def test_each_child_has_a_row_with_age_notes_who_may_collect_and_the_flags(door):
    at = checkin_page(door)
    shown = texts(at)

    assert "Robotics Bootcamp" in shown
    assert "Ada, 9" in shown and "Bo, 9" in shown and "Cy, 9" in shown
    assert "Peanut allergy" in shown
    assert "Ann Parent (parent), Grace Chen 0498 765 432" in shown
    assert "Wei Chen 0412 345 678" in shown
    assert "not arrived 15 minutes after the start" in shown
    assert at.button(key=f"checkin-in-{door.bookings['Ada']}").label == "Check in"


def test_check_in_then_out_shows_what_happened_next_to_the_button(door):
    booking = door.bookings["Ada"]
    at = checkin_page(door)

    at.button(key=f"checkin-in-{booking}").click().run()
    no_trouble(at)
    assert [s.value for s in at.success] == ["Ada checked in by Robin"]
    assert "In " in texts(at) and "by Robin" in texts(at)

    at.selectbox(key=f"checkin-collector-{booking}").set_value("Grace Chen").run()
    at.button(key=f"checkin-out-{booking}").click().run()
    no_trouble(at)
    assert [s.value for s in at.success] == ["Ada checked out to Grace Chen by Robin"]
    assert at.button(key=f"checkin-undo-out-{booking}").label == "Undo check-out"


def test_someone_not_named_is_refused_without_a_reason_and_undo_takes_back_the_check_in(door):
    booking = door.bookings["Bo"]
    at = checkin_page(door)
    at.button(key=f"checkin-in-{booking}").click().run()

    at.selectbox(key=f"checkin-collector-{booking}").set_value("Someone else…").run()
    at.text_input(key=f"checkin-other-{booking}").input("Uncle Tom").run()
    at.button(key=f"checkin-out-{booking}").click().run()

    assert not at.exception
    (refusal,) = [e.value for e in at.error]
    assert "Uncle Tom is not allowed to collect Bo" in refusal
    at.button(key=f"checkin-undo-in-{booking}").click().run()
    no_trouble(at)
    assert [s.value for s in at.success] == ["Bo's check-in undone by Robin"]
    assert at.button(key=f"checkin-in-{booking}").label == "Check in"


def test_a_day_without_events_says_so(door):
    at = checkin_page(door, date(2027, 3, 3))

    assert any("No events on 03/03/2027" in i.value for i in at.info)


def test_the_days_summary_shows_arrivals_no_shows_and_late_pickups(door):
    at = log_in(new_dashboard(dashboard_settings(door.url)), name="Robin")
    at.switch_page("pages/summaries.py").run()
    summary = door.sidecar.session.post(
        f"{door.url}/api/summaries/run", json={"date": TODAY.isoformat()},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30,
    )  # fmt: skip
    assert summary.status_code == 200, summary.text
    figures = summary.json()["summary"]["figures"]["attendance"]

    at.date_input(key="summary-day").set_value(TODAY).run()

    no_trouble(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Arrived"] == f"{figures['arrived']} of 3"
    assert metrics["No-shows"] == str(figures["no_shows"])

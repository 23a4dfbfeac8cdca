"""Check-in and check-out through the staff API, end to end: a real sidecar on a camp day
(tests/door.py), children booked through the checkout with their contacts, ticked in and
out, with double taps, refusals, undo, the roster, the exports and the daily summary."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import ADMIN_TOKEN
from tests.door import DOOR_DAY, Door, camp_today, door_day

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    with door_day(tmp_path_factory.mktemp("door")) as world:
        yield world


def post(door: Door, booking_id: str, action: str, body: dict | None = None) -> requests.Response:
    return requests.post(
        f"{door.url}/api/attendance/{booking_id}/{action}", json=body or {}, headers=AUTH,
        timeout=10,
    )  # fmt: skip


def children(door: Door, day: str = DOOR_DAY) -> dict[str, dict]:
    response = requests.get(f"{door.url}/api/attendance", params={"date": day}, headers=AUTH,
                            timeout=10)  # fmt: skip
    assert response.status_code == 200, response.text
    return {c["student"]: c for e in response.json()["events"] for c in e["children"]}


def test_todays_events_list_each_child_with_who_may_collect_and_the_not_arrived_flag(door):
    response = requests.get(f"{door.url}/api/attendance", headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    answer = response.json()

    assert answer["date"] == DOOR_DAY  # today, on the sidecar's clock
    titles = sorted(e["title"] for e in answer["events"])
    assert len(titles) == 2 and all("Robotics Bootcamp" in t for t in titles), titles
    # Where, as staff know the place: the catalog's names beside its ids.
    assert {(e["venue_name"], e["room_name"]) for e in answer["events"]} == {
        ("TinkerTank Marrickville", "The Workshop")
    }
    ada = {c["student"]: c for e in answer["events"] for c in e["children"]}["Ada"]
    assert ada["notes"] == "Peanut allergy: EpiPen in her bag"
    assert ada["emergency_contacts"] == [{"name": "Wei Chen", "phone": "0412 345 678"}]
    assert ada["may_collect"] == ["Ann Parent", "Grace Chen"]
    # 09:20 and nobody checked in yet: the sessions started at 09:00.
    assert {name: c["state"] for name, c in children(door).items()} == dict.fromkeys(
        ("Ada", "Bo", "Cy"), "not_arrived"
    )
    assert ada["flags"] == ["not_arrived"]


def test_a_double_tap_checks_a_child_in_once(door):
    booking = door.bookings["Cy"]

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post(door, booking, "check-in", {"by": "Robin"}),
                                range(4)))  # fmt: skip

    assert [a.status_code for a in answers] == [200] * 4
    assert sorted(a.json()["outcome"] for a in answers) == ["already"] * 3 + ["checked_in"]
    cy = children(door)["Cy"]
    assert (cy["state"], cy["checked_in_by"], cy["flags"]) == ("checked_in", "Robin", [])


def test_a_child_goes_home_only_with_a_named_adult_unless_staff_give_a_reason(door):
    booking = door.bookings["Ada"]
    assert post(door, booking, "check-out", {"collected_by": "Grace Chen"}).json()["error"] \
        == "not_checked_in"  # fmt: skip
    assert post(door, booking, "check-in").json()["outcome"] == "checked_in"

    refused = post(door, booking, "check-out", {"collected_by": "Uncle Tom", "by": "Robin"})
    assert refused.status_code == 409
    assert refused.json()["error"] == "not_authorised"
    assert "Ann Parent, Grace Chen" in refused.json()["message"]
    assert children(door)["Ada"]["state"] == "checked_in"

    done = post(door, booking, "check-out", {"collected_by": "grace  chen", "by": "Robin"})
    assert done.status_code == 200, done.text
    assert done.json()["outcome"] == "checked_out"
    again = post(door, booking, "check-out", {"collected_by": "Grace Chen", "by": "Sam"})
    assert again.json()["outcome"] == "already"
    ada = children(door)["Ada"]
    assert (ada["state"], ada["collected_by"], ada["checked_out_by"]) == (
        "checked_out", "grace  chen", "Robin",
    )  # fmt: skip
    assert ada["checked_in_by"] == "staff (admin token)"  # no name given: the token's identity


def test_someone_not_named_collects_with_an_override_reason_which_is_kept(door):
    booking = door.bookings["Bo"]
    post(door, booking, "check-in", {"by": "Robin"})

    done = post(door, booking, "check-out", {"collected_by": "Uncle Tom", "by": "Robin",
                "override_reason": "Ben Parent phoned at 14:50 to say Tom collects"})  # fmt: skip

    assert done.status_code == 200, done.text
    bo = children(door)["Bo"]
    assert bo["collected_by"] == "Uncle Tom"
    assert bo["collection_override"] == "Ben Parent phoned at 14:50 to say Tom collects"
    assert "override" in done.json()["message"]


def test_undo_takes_back_a_mistaken_tick_one_step_at_a_time(door):
    booking = door.bookings["Bo"]  # checked out by the test before
    assert children(door)["Bo"]["state"] == "checked_out"

    refused = post(door, booking, "undo", {"action": "check_in"})
    assert (refused.status_code, refused.json()["error"]) == (409, "undo_check_out_first")
    assert post(door, booking, "undo", {"action": "check_out"}).json()["outcome"] == "undone"
    assert post(door, booking, "undo", {"action": "check_out"}).json()["outcome"] == "nothing"
    assert children(door)["Bo"]["state"] == "checked_in"
    assert post(door, booking, "undo", {"action": "check_in"}).json()["outcome"] == "undone"
    bo = children(door)["Bo"]
    assert (bo["state"], bo["checked_in_at"], bo["collected_by"]) == ("not_arrived", None, None)


def test_bad_bodies_list_every_problem_with_its_path_and_unknown_bookings_are_404(door):
    response = post(door, door.bookings["Ada"], "check-out",
                    {"collected_by": "", "by": 5, "why": "x"})  # fmt: skip

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_body"
    assert [p["path"] for p in response.json()["problems"]] == ["why", "by", "collected_by"]
    undo = post(door, door.bookings["Ada"], "undo", {"action": "everything"})
    assert [p["path"] for p in undo.json()["problems"]] == ["action"]
    missing = post(door, "bkg_nope", "check-in")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    unauthorised = requests.post(f"{door.url}/api/attendance/x/check-in", timeout=10)
    assert unauthorised.status_code == 401


def test_the_roster_shows_emergency_contacts_and_authorised_collectors(door):
    ada = children(door)["Ada"]
    span = {"start": DOOR_DAY, "end": "2027-01-07"}
    events = requests.get(f"{door.url}/api/events", params=span, headers=AUTH, timeout=10)
    rosters = [
        requests.get(
            f"{door.url}/api/events/{e['event_id']}/roster", headers=AUTH, timeout=10
        ).json()["roster"]
        for e in events.json()["events"]
        if e["event_id"]  # a slot nobody has booked has no event yet
    ]

    (row,) = [r for roster in rosters for r in roster if r["booking_id"] == ada["booking_id"]]
    assert row["emergency_contacts"] == [{"name": "Wei Chen", "phone": "0412 345 678"}]
    assert row["authorised_collectors"] == [{"name": "Grace Chen", "phone": "0498 765 432"}]


def test_the_daily_summary_counts_the_day_at_the_door(door):
    # Ada came and went, Cy is in, Bo's ticks were undone (no-show at 09:20 and later).
    response = requests.post(f"{door.url}/api/summaries/run", json={"date": DOOR_DAY},
                             headers=AUTH, timeout=30)  # fmt: skip

    assert response.status_code == 200, response.text
    door_figures = response.json()["summary"]["figures"]["attendance"]
    assert door_figures == {"booked": 3, "arrived": 2, "no_shows": 1, "late_pickups": 0}


def test_attendance_goes_into_the_analysts_sql_and_the_parquet_export(door):
    sql = requests.post(f"{door.url}/api/sql", headers=AUTH, timeout=60, json={
        "sql": "SELECT booking_id, checked_in_by FROM attendance ORDER BY booking_id"})  # fmt: skip
    exported = requests.post(f"{door.url}/api/export", headers=AUTH, timeout=60)

    assert sql.status_code == 200, sql.text
    assert sorted(row[0] for row in sql.json()["rows"]) == sorted(
        [door.bookings["Ada"], door.bookings["Cy"]]
    )
    assert exported.status_code == 200, exported.text
    assert exported.json()["tables"]["attendance"] == 2
    assert Path(exported.json()["path"], "attendance").is_dir()
    students = requests.post(f"{door.url}/api/sql", headers=AUTH, timeout=60,
                             json={"sql": "SELECT * FROM students"}).json()  # fmt: skip
    assert "emergency_contacts" not in students["columns"]


def test_checkout_refuses_bad_contacts_listing_every_problem_with_its_path(door):
    body = {
        "customer": {"email": "pat@example.com", "name": "Pat Parent"},
        "items": [camp_today("Dee", emergency_contacts=[{"name": "Wei"}],
                             authorised_collectors=[{"name": "Grace", "phone": "ring me"}])],
    }  # fmt: skip

    response = requests.post(f"{door.url}/api/checkout", json=body, timeout=10)

    assert response.status_code == 422
    assert response.json() == {"error": "invalid_cart", "problems": [
        {"path": "items[0].student.emergency_contacts[0].phone", "message": "missing (required)"},
        {"path": "items[0].student.authorised_collectors[0].phone",
         "message": "'ring me' is not a phone number (digits, spaces, +, ( ) and -)"},
    ]}  # fmt: skip

"""Errors page: the open entries, filters, and retry or resolve for the chosen ones."""

from __future__ import annotations

from tests.dashboard.conftest import Seeded, no_trouble, step_status, wait_for


def _entry_of(seeded: Seeded, order_id: str) -> dict:
    (entry,) = seeded.get("/api/errors", order_id=order_id)["errors"]
    return entry


def test_open_entries_are_listed_and_the_category_filter_narrows_them(dashboard, seeded: Seeded):
    at = dashboard("errors")

    no_trouble(at)
    listed = at.dataframe[0].value
    assert set(seeded.failed_orders) & set(listed["Order"])
    assert "Resolved" not in listed.columns  # open entries only
    assert set(listed["What to do"]) == {"Retry"}  # failed steps: a retry can fix them

    at.selectbox(key="errors-category").select("email").run()
    no_trouble(at)
    assert not at.dataframe or set(at.dataframe[0].value["Category"]) == {"email"}


def test_retrying_an_entry_runs_its_failed_step_again(dashboard, seeded: Seeded):
    order_id = seeded.failed_orders[1]
    entry = _entry_of(seeded, order_id)
    at = dashboard("errors")

    at.multiselect(key="errors-chosen").select(entry["error_id"]).run()
    at.button(key="errors-retry").click().run()

    no_trouble(at)
    assert len(at.success) == 1
    wait_for(lambda: step_status(seeded.url, order_id, "schedule_events") == "done")


def test_resolving_an_entry_records_who_resolved_it(dashboard, seeded: Seeded):
    entry = _entry_of(seeded, seeded.failed_orders[0])
    at = dashboard("errors")

    at.multiselect(key="errors-chosen").select(entry["error_id"]).run()
    at.button(key="errors-resolve").click().run()

    no_trouble(at)
    assert len(at.success) == 1
    resolved = _entry_of(seeded, seeded.failed_orders[0])
    assert resolved["resolved_at"] is not None
    assert resolved["resolved_by"] == "Robin"
    assert entry["error_id"] not in set(at.dataframe[0].value["Entry"]) if at.dataframe else True

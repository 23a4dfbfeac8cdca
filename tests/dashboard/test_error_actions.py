"""Errors page on a log with one of each kind: critical entries first and marked, Retry only
where a retry can succeed, and each action's result in the colour of what happened."""

from __future__ import annotations

from dashboard import error_advice
from tests.dashboard.conftest import Troubled, open_page_on, step_status, wait_for


def test_critical_entries_come_first_marked_with_what_to_do_and_no_retry(troubled: Troubled):
    dispute = troubled.entry("dispute")
    at = open_page_on(troubled.url, "errors")

    assert not at.exception
    (banner,) = at.error
    assert "1 critical entry open" in banner.value
    listed = at.dataframe[0].value
    assert listed["Severity"].iloc[0] == "■ CRITICAL"
    assert "Answer the dispute in Stripe" in listed["What to do"].iloc[0]
    assert "$89.00" in listed["Message"].iloc[0]  # amounts in dollars
    keys = {b.key for b in at.button}
    assert f"errors-resolve-{dispute['error_id']}" in keys
    assert f"errors-retry-{dispute['error_id']}" not in keys  # a retry cannot fix a dispute


def test_retry_is_offered_only_for_entries_a_retry_can_fix(troubled: Troubled):
    dispute, partial = troubled.entry("dispute"), troubled.entry("partial-refund")
    at = open_page_on(troubled.url, "errors")

    at.multiselect(key="errors-chosen").select(dispute["error_id"]).select(partial["error_id"])
    at.run()

    assert at.button(key="errors-retry").disabled
    (said,) = at.info
    assert "2 of the chosen entries cannot be fixed by a retry" in said.value
    assert "cancel or move the refunded bookings" in said.value


def test_retrying_a_failed_step_says_so_in_green_next_to_the_button(troubled: Troubled):
    step, dispute = troubled.entry("step"), troubled.entry("dispute")
    at = open_page_on(troubled.url, "errors")

    at.multiselect(key="errors-chosen").select(step["error_id"]).select(dispute["error_id"])
    at.run()
    assert at.button(key="errors-retry").label == "Retry 1"  # the dispute is left out
    at.button(key="errors-retry").click().run()

    assert not at.exception
    assert [e.value for e in at.error if "critical" not in e.value] == []
    (done,) = at.success
    assert done.value == "1 of 1 retried."
    wait_for(lambda: step_status(troubled.url, troubled.failed_order, "schedule_events") == "done")


def test_a_bulk_answer_with_skips_is_a_warning_and_with_nothing_done_an_error():
    judge = error_advice.bulk_outcome("retry", 2)
    skipped = [{"error_id": "err_1", "reason": "not failed"}, {"error_id": "err_2", "reason": "x"}]

    assert judge({"done": 2, "skipped": []}) == ("success", "2 of 2 retried.")
    level, message = judge({"done": 1, "skipped": skipped[:1]})
    assert (level, message) == ("warning", "1 of 2 retried. 1 skipped: err_1: not failed")
    level, message = judge({"done": 0, "skipped": skipped})
    assert level == "error" and message.startswith("0 of 2 retried. 2 skipped")


def test_what_a_retry_can_fix():
    step = {"step": "schedule_events", "order_id": "ord_1", "dedupe_key": None}
    message = {"context": '{"message_id": "msg_1"}', "dedupe_key": None}
    event = {"stripe_event_id": "evt_1", "dedupe_key": "gave-up:evt_1"}
    conflict = {**step, "dedupe_key": "conflict:item_1"}
    dispute = {"stripe_event_id": "evt_2", "dedupe_key": "dispute:dp_1"}
    partial = {"stripe_event_id": "evt_3", "dedupe_key": "partial-refund:ord_1:4000"}
    assert [error_advice.retryable(e) for e in (step, message, event)] == [True, True, True]
    assert [error_advice.retryable(e) for e in (conflict, dispute, partial)] == [False] * 3
    assert not error_advice.retryable({**step, "resolved_at": "2027-01-01T00:00:00Z"})
    wrong = {"dedupe_key": "wrong-payment:ord_1", "context": '{"expected": 8900, "paid": 4450}'}
    assert error_advice.amount(wrong) == "expected $89.00, paid $44.50"

"""Support page: the open tickets, and moving one along with a note."""

from __future__ import annotations

from tests.dashboard.conftest import Seeded, no_trouble


def test_an_open_ticket_is_listed_and_staff_move_it_along_with_a_note(dashboard, seeded: Seeded):
    at = dashboard("support")

    no_trouble(at)
    listed = at.dataframe[0].value
    row = listed.loc[listed["Ticket"] == seeded.ticket_id]
    assert row["Status"].item() == "open"
    assert row["Category"].item() == "wrong date"
    assert row["Email"].item() == "ada.parent@example.com"
    assert "meant Thursday" in row["Message"].item()

    at.selectbox(key="support-ticket").select(seeded.ticket_id).run()
    at.selectbox(key="ticket-status").select("in_progress")
    at.text_area(key="ticket-note").input("Moved Ada to Thursday; emailed the parent.")
    at.button(key="ticket-save").click().run()

    no_trouble(at)
    (done,) = at.success
    assert done.value.startswith(f"{seeded.ticket_id}: status in_progress, note saved")
    ticket = seeded.get(f"/api/tickets/{seeded.ticket_id}")
    assert ticket["status"] == "in_progress"
    assert ticket["staff_note"] == "Moved Ada to Thursday; emailed the parent."

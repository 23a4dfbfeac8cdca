"""`actor` and `acting_name`: what every record of a staff action names as its author."""

from __future__ import annotations

from starlette.requests import Request

from sidecar.staff_identity import StaffMember, acting_name, actor


def request_of(member: StaffMember | None) -> Request:
    request = Request({"type": "http", "method": "POST", "path": "/", "headers": []})
    request.state.staff = member
    return request


def test_a_signed_in_member_acts_in_their_own_name_whatever_the_body_says():
    robin = request_of(StaffMember("robin", "staff"))

    assert actor(robin) == "robin"
    assert acting_name(robin, "someone else") == "robin"
    assert acting_name(robin, None) == "robin"


def test_the_machine_token_is_machine_and_names_who_acts_in_the_body():
    machine = request_of(StaffMember("machine", "admin", machine=True))

    assert actor(machine) == "machine"
    assert acting_name(machine, "Priya") == "Priya"
    assert acting_name(machine, None) is None  # the caller's own check asks for "by"

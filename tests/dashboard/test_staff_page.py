"""The Staff page (admins): an account's role changed and an account disabled and enabled
again from the dashboard, each recorded with who did it; a member's session holds the new
role from its next request."""

from __future__ import annotations

import pytest
import requests

from tests.dashboard.conftest import Seeded, no_trouble
from tests.dashboard.test_sign_in import PASSWORD, account, sign_in, signing_in


def staff_accounts(seeded: Seeded) -> dict:
    return seeded.get("/api/staff")


def test_an_admin_changes_a_role_and_enables_an_account_from_the_staff_page(
    seeded: Seeded, dashboard
):
    name = account(seeded, "analyst")
    member = sign_in(signing_in(seeded), name)
    token = member.session_state["member"]["token"]

    at = dashboard("staff")
    no_trouble(at)
    assert at.title[0].value == "Staff"
    at.selectbox(key="staff-role-name").set_value(name)
    at.selectbox(key="staff-role-role").set_value("staff")
    at.button(key="staff-role-submit").click().run()
    no_trouble(at)
    assert any(f"{name} is now staff (was analyst)" in s.value for s in at.success)
    roles = {a["name"]: a["role"] for a in staff_accounts(seeded)["staff"]}
    assert roles[name] == "staff"
    me = requests.get(seeded.url + "/api/me", headers={"Authorization": f"Bearer {token}"},
                      timeout=10)  # fmt: skip
    assert me.json()["role"] == "staff"  # the member's own session, no sign-in again

    at.selectbox(key="staff-disable-name").set_value(name)
    at.button(key="staff-disable-submit").click().run()
    no_trouble(at)
    assert me.status_code == 200
    assert requests.get(seeded.url + "/api/me", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code == 401  # fmt: skip
    at.selectbox(key="staff-enable-name").set_value(name)
    at.button(key="staff-enable-submit").click().run()
    no_trouble(at)
    login = requests.post(seeded.url + "/api/login", json={"name": name, "password": PASSWORD},
                          timeout=10)  # fmt: skip
    assert login.status_code == 200 and login.json()["role"] == "staff"

    changes = [(c["what"], c["new_value"], c["actor"])
               for c in staff_accounts(seeded)["changes"] if c["name"] == name]  # fmt: skip
    assert sorted(changes, key=str) == sorted(
        [("add", "analyst", "machine"), ("role", "staff", "machine"),
         ("disable", None, "machine"), ("enable", None, "machine")], key=str,
    )  # fmt: skip
    table = at.dataframe[-1].value
    assert set(table["Change"]) >= {"role", "disable", "enable"}


def test_the_staff_page_is_not_in_a_staff_members_menu(seeded: Seeded):
    at = sign_in(signing_in(seeded), account(seeded, "staff"))
    no_trouble(at)
    # Not among the member's pages (an admin's has it: the test above).
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/staff.py")

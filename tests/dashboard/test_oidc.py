"""OIDC sign-in per person: the dashboard (holding ADMIN_TOKEN) asks the sidecar for a
session of the staff account named by the person's OIDC email (`POST /api/staff/sessions`,
machine token only) and acts with it, so their role applies and their actions are recorded
in their name. Against a sidecar of its own; `st.user` is AppTest's `at.user`."""

from __future__ import annotations

import re
import secrets

import pytest
import requests
from streamlit.testing.v1 import AppTest

from client.staff_api import StaffApi
from dashboard.session import OidcRefused, oidc_member
from tests.conftest import ADMIN_TOKEN, Sidecar
from tests.dashboard.conftest import (
    AUTH,
    dashboard_settings,
    new_dashboard,
    no_trouble,
    order_status,
    wait_for,
)

PASSWORD = "a long enough password"
OIDC = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "x" * 32,
    "client_id": "tinkertank",
    "client_secret": "secret",
    "server_metadata_url": "https://id.example.org/.well-known/openid-configuration",
}


def account(sidecar: Sidecar, role: str, name: str | None = None) -> str:
    name = name or f"{role}.{secrets.token_hex(3)}@tinkertank.example"
    made = requests.post(sidecar.url + "/api/staff", headers=AUTH, timeout=30,
                         json={"name": name, "role": role, "password": PASSWORD})  # fmt: skip
    assert made.status_code == 201, made.text
    return name


def cash_booking(sidecar: Sidecar, email: str) -> str:
    cart = {"customer": {"email": email, "name": "Sam Lee"},
            "items": [{"product_id": "summer-robotics", "date": "2027-01-08", "session": "day",
                       "student": {"name": "Ava Lee", "age": 9}}]}  # fmt: skip
    body = {"cart": cart, "payment": {"method": "cash", "amount": 8900, "reference": "r1"},
            "by": "front desk", "request_id": secrets.token_hex(8)}  # fmt: skip
    made = requests.post(sidecar.url + "/api/bookings", json=body, headers=AUTH, timeout=30)
    assert made.status_code == 201, made.text
    order_id = made.json()["order_id"]
    wait_for(lambda: order_status(sidecar.url, order_id)["fulfillment_status"] == "fulfilled")
    return order_id


def oidc_dashboard(sidecar: Sidecar, user: dict) -> AppTest:
    at = new_dashboard(dashboard_settings(sidecar.url))
    at.secrets["auth"] = OIDC
    at.user = user
    return at.run()


# --- the sidecar's route and the dashboard's choice of session -------------------------------


def test_the_machine_opens_a_session_for_the_account_of_an_email_and_no_one_else_can(
    sidecar: Sidecar,
):
    email = account(sidecar, "staff")
    machine = StaffApi(sidecar.url, ADMIN_TOKEN)

    member = oidc_member(machine, email.upper(), True)  # providers' case is not the name's
    assert member["name"] == email and member["role"] == "staff"
    assert member["token"] != ADMIN_TOKEN and machine.token == ADMIN_TOKEN
    me = requests.get(sidecar.url + "/api/me", timeout=10,
                      headers={"Authorization": f"Bearer {member['token']}"})  # fmt: skip
    assert me.json() == {"name": email, "role": "staff", "machine": False}

    # A member's session may not open one for another (nor may an admin's): only the machine.
    admin_name = account(sidecar, "admin")
    admin = requests.post(sidecar.url + "/api/login", timeout=10,
                          json={"name": admin_name, "password": PASSWORD})  # fmt: skip
    for token in (member["token"], admin.json()["token"]):
        forged = requests.post(
            sidecar.url + "/api/staff/sessions", json={"email": email}, timeout=10,
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
        assert forged.status_code == 403, forged.text
    bad = requests.post(sidecar.url + "/api/staff/sessions", json={"email": "nobody"},
                        headers=AUTH, timeout=10)  # fmt: skip
    assert bad.status_code == 422 and bad.json()["problems"][0]["path"] == "email"

    # No account, a disabled one, an unverified or missing email: refused, saying what to do.
    with pytest.raises(
        OidcRefused, match=re.escape("tinkertank staff add stranger@tinkertank.example")
    ):
        oidc_member(machine, "stranger@tinkertank.example", True)
    requests.post(sidecar.url + f"/api/staff/{email}/disable", headers=AUTH, timeout=10)
    with pytest.raises(OidcRefused, match="no staff account here"):
        oidc_member(machine, email, True)
    with pytest.raises(OidcRefused, match="not verified"):
        oidc_member(machine, account(sidecar, "staff"), False)
    with pytest.raises(OidcRefused, match="no email address"):
        oidc_member(machine, None, None)
    assert requests.get(sidecar.url + "/api/me", timeout=10, headers={
        "Authorization": f"Bearer {member['token']}"}).status_code == 401  # fmt: skip


# --- the dashboard ---------------------------------------------------------------------------


def test_an_oidc_person_acts_as_themselves_with_their_role(sidecar: Sidecar):
    email = account(sidecar, "staff")
    order_id = cash_booking(sidecar, f"family.{secrets.token_hex(3)}@example.com")
    at = oidc_dashboard(sidecar, {"is_logged_in": True, "email": email, "email_verified": True})
    no_trouble(at)
    assert at.title[0].value == "Live"
    assert any(f"Logged in as {email} (staff)" in c.value for c in at.sidebar.caption)
    assert at.session_state["member"]["token"] != ADMIN_TOKEN
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/staff.py")  # staff, not admin: no accounts page

    at.switch_page("pages/orders.py").run()
    at.text_input(key="orders-open").input(order_id).run()
    no_trouble(at)
    (booking,) = requests.get(sidecar.url + f"/api/orders/{order_id}", headers=AUTH,
                              timeout=10).json()["bookings"]  # fmt: skip
    at.selectbox(key=f"cancel-booking-{order_id}").set_value(booking["booking_id"])
    at.text_input(key=f"cancel-reason-{order_id}").input("family moved away")
    (cancel,) = [b for b in at.button if b.label == "Cancel booking (keep credit)"]
    cancel.click().run()
    no_trouble(at)

    actions = requests.get(sidecar.url + "/api/actions", params={"order_id": order_id},
                           headers=AUTH, timeout=10).json()["actions"]  # fmt: skip
    assert [(a["action"], a["actor"]) for a in actions] == [("cancel", email)]
    changes = requests.get(sidecar.url + "/api/staff", headers=AUTH, timeout=10).json()["changes"]
    assert ("oidc_sign_in", email, "machine") in {(c["what"], c["name"], c["actor"])
                                                  for c in changes}  # fmt: skip


def test_an_admin_promotes_an_oidc_person_and_their_menu_follows(sidecar: Sidecar):
    email = account(sidecar, "analyst")
    # Signed in as an analyst earlier in this browser session (the session kept).
    member = oidc_member(StaffApi(sidecar.url, ADMIN_TOKEN), email, True)
    assert member["role"] == "analyst"
    promoted = requests.post(sidecar.url + f"/api/staff/{email}/role", json={"role": "admin"},
                             headers=AUTH, timeout=10)  # fmt: skip
    assert promoted.status_code == 200

    at = new_dashboard(dashboard_settings(sidecar.url))
    at.secrets["auth"] = OIDC
    at.user = {"is_logged_in": True, "email": email}
    at.session_state["member"] = member
    at.run()
    no_trouble(at)
    # The same session token, its role as the sidecar has it now: the admin's page is there.
    assert at.session_state["member"]["token"] == member["token"]
    assert at.session_state["member"]["role"] == "admin"
    at.switch_page("pages/staff.py").run()
    no_trouble(at)
    assert at.title[0].value == "Staff"


def test_an_oidc_email_without_an_account_is_refused_with_what_to_do(sidecar: Sidecar):
    at = oidc_dashboard(sidecar, {"is_logged_in": True, "email": "nobody@tinkertank.example"})

    assert not at.exception
    (refused,) = at.error
    assert "nobody@tinkertank.example has no staff account here" in refused.value
    assert "tinkertank staff add nobody@tinkertank.example" in refused.value
    assert "member" not in at.session_state
    assert not at.metric and not at.dataframe
    assert [b.label for b in at.button] == ["Log out"]

"""Sign-in with staff accounts: a dashboard without ADMIN_TOKEN signs each member of staff
in (POST /api/login), shows who and in what role, and holds each role to what it may do."""

from __future__ import annotations

import secrets

import requests
from streamlit.testing.v1 import AppTest

from core.settings import load_settings
from tests.dashboard.conftest import AUTH, Seeded, new_dashboard, no_trouble

PASSWORD = "a long enough password"


def account(seeded: Seeded, role: str) -> str:
    name = f"{role}-{secrets.token_hex(3)}"
    made = requests.post(
        seeded.url + "/api/staff",
        json={"name": name, "role": role, "password": PASSWORD},
        headers=AUTH,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    return name


def signing_in(seeded: Seeded) -> AppTest:
    """A dashboard with no ADMIN_TOKEN of its own, as a fresh browser session gets it."""
    settings = load_settings({"SIDECAR_URL": seeded.url}, client=True, signs_in=True)
    return new_dashboard(settings)


def sign_in(at: AppTest, name: str, password: str = PASSWORD) -> AppTest:
    at.run()
    at.text_input(key="sign-in-name").input(name)
    at.text_input(key="sign-in-password").input(password)
    at.button(key="sign-in-submit").click().run()
    return at


def test_without_a_token_only_the_sign_in_form_renders(seeded: Seeded):
    at = signing_in(seeded).run()

    assert [t.label for t in at.text_input] == ["Name", "Password"]
    assert "member" not in at.session_state  # the next page drawn is the sign-in form
    assert not at.metric and not at.dataframe and not at.sidebar.children
    assert not at.exception


def test_a_wrong_password_is_refused(seeded: Seeded):
    at = sign_in(signing_in(seeded), account(seeded, "staff"), "not the password")

    assert [e.value for e in at.error] == ["Wrong name or password."]
    assert not at.metric and not at.dataframe


def test_staff_sign_in_to_the_live_page_named_with_their_role_and_can_act(seeded: Seeded):
    name = account(seeded, "staff")
    at = sign_in(signing_in(seeded), name)

    no_trouble(at)
    assert at.title[0].value == "Live"
    assert any(f"Signed in as {name} (staff)" in c.value for c in at.sidebar.caption)
    assert [b.label for b in at.sidebar.button] == ["Sign out"]
    at.switch_page("pages/orders.py").run()
    at.text_input(key="orders-open").input(seeded.fulfilled_orders[0]).run()
    no_trouble(at)
    assert not at.button(key=f"resend-{seeded.fulfilled_orders[0]}").disabled


def test_an_analyst_reads_with_the_action_buttons_disabled(seeded: Seeded):
    name = account(seeded, "analyst")
    at = sign_in(signing_in(seeded), name)
    no_trouble(at)
    assert any(f"Signed in as {name} (analyst)" in c.value for c in at.sidebar.caption)

    at.switch_page("pages/orders.py").run()
    at.text_input(key="orders-open").input(seeded.fulfilled_orders[0]).run()
    no_trouble(at)
    assert at.subheader[0].value == f"Order {seeded.fulfilled_orders[0]}"
    assert at.button(key=f"resend-{seeded.fulfilled_orders[0]}").disabled

    at.switch_page("pages/errors.py").run()
    no_trouble(at)
    assert at.button(key="errors-resolve").disabled


def test_signing_out_ends_the_session_on_the_sidecar(seeded: Seeded):
    at = sign_in(signing_in(seeded), account(seeded, "staff"))
    token = at.session_state["member"]["token"]

    at.button(key="sign-out").click().run()

    assert "member" not in at.session_state  # the next page drawn is the sign-in form
    me = requests.get(
        seeded.url + "/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert me.status_code == 401

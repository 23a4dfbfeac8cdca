"""Login: nothing but the login form until the visitor has proved who they are."""

from __future__ import annotations

import requests

from tests.dashboard.conftest import (
    AUTH,
    PASSWORD,
    Seeded,
    dashboard_settings,
    log_in,
    new_dashboard,
    no_trouble,
)


def test_without_the_password_nothing_but_the_login_form_renders(seeded: Seeded):
    at = new_dashboard(dashboard_settings(seeded.url)).run()

    assert [t.label for t in at.text_input] == ["Your name", "Password"]
    assert [b.label for b in at.button] == ["Log in"]
    assert [t.value for t in at.title] == ["TinkerTank Ops"]
    assert not at.metric and not at.dataframe and not at.sidebar.children
    assert not at.exception


def test_a_wrong_password_is_refused_and_shows_nothing_else(seeded: Seeded):
    at = log_in(new_dashboard(dashboard_settings(seeded.url)), password="guess")

    assert [e.value for e in at.error] == ["Wrong password."]
    assert [t.value for t in at.title] == ["TinkerTank Ops"]
    assert not at.metric and not at.dataframe


def test_the_right_password_opens_the_live_page_with_the_staff_name(seeded: Seeded):
    at = log_in(new_dashboard(dashboard_settings(seeded.url)), password=PASSWORD, name="Robin")

    no_trouble(at)
    assert at.title[0].value == "Live"
    assert any("Logged in as Robin" in c.value for c in at.sidebar.caption)
    assert [b.label for b in at.sidebar.button] == ["Log out"]


def test_with_no_login_configured_a_dashboard_not_bound_to_localhost_refuses(seeded: Seeded):
    at = new_dashboard(dashboard_settings(seeded.url, DASHBOARD_PASSWORD="")).run()

    assert "No login is configured" in at.error[0].value
    assert [t.value for t in at.title] == ["TinkerTank Ops"]
    assert not at.metric and not at.text_input


def test_with_oidc_configured_only_the_login_button_shows_until_logged_in(seeded: Seeded):
    at = new_dashboard(dashboard_settings(seeded.url))
    at.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "a-long-random-cookie-secret",
        "client_id": "tinkertank",
        "client_secret": "secret",
        "server_metadata_url": "https://login.example/.well-known/openid-configuration",
    }
    at.user = {"is_logged_in": False}
    at.run()

    assert [b.label for b in at.button] == ["Log in"]
    assert not at.text_input and not at.metric

    # Signed in with OIDC, Robin acts through the staff account of that email (an admin
    # made it): with its role, in Robin's name (tests/dashboard/test_oidc.py).
    robin = {"name": "robin@tinkertank.example", "role": "staff", "password": "a long password"}
    made = requests.post(seeded.url + "/api/staff", headers=AUTH, timeout=30, json=robin)
    assert made.status_code in (201, 409), made.text
    at.user = {"is_logged_in": True, "email": "robin@tinkertank.example"}
    at.run()
    no_trouble(at)
    assert at.title[0].value == "Live"
    assert any("robin@tinkertank.example (staff)" in c.value for c in at.sidebar.caption)

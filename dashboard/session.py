"""One browser session of the dashboard: its settings, its API client and who is logged in.

Login (docs/operations.md, Dashboard): Streamlit's OIDC login (`st.login`, `st.user`) when
an `[auth]` section is in the secrets; otherwise `DASHBOARD_PASSWORD` through a form. With
neither, the dashboard runs without a login only when bound to this machine
(`tinkertank dashboard` on 127.0.0.1): it refuses otherwise.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

import streamlit as st

from client.staff_api import StaffApi
from core import clock
from core.settings import Settings, load_settings

SETTINGS_KEY = "settings"  # a test puts its own Settings here, as create_app(settings) does
STAFF_KEY = "staff"  # who logged in with the password form
LOCAL_ADDRESSES = ("127.0.0.1", "localhost", "::1")


@st.cache_resource
def _environment_settings() -> Settings:
    settings = load_settings(client=True)
    clock.set_shift(settings.clock_shift_seconds)
    return settings


def settings() -> Settings:
    if SETTINGS_KEY not in st.session_state:
        st.session_state[SETTINGS_KEY] = _environment_settings()
    return st.session_state[SETTINGS_KEY]


def api() -> StaffApi:
    current = settings()
    client = st.session_state.get("api")
    if client is None or client.base_url != current.sidecar_url.rstrip("/"):
        client = st.session_state["api"] = StaffApi(current.sidecar_url, current.admin_token)
    return client


def oidc_section() -> dict[str, Any] | None:
    """The `[auth]` secrets when OIDC is configured (st.secrets raises without a file)."""
    try:
        if "auth" in st.secrets:
            return dict(st.secrets["auth"])
    except Exception:  # no secrets.toml at all, or one that does not parse
        return None
    return None


def local_only() -> bool:
    return (st.get_option("server.address") or "") in LOCAL_ADDRESSES


def staff_name() -> str:
    """Who acts: recorded as `by` when an error is resolved."""
    if oidc_section() is not None and st.user.is_logged_in:
        return str(st.user.get("email") or st.user.get("name") or "staff")
    return st.session_state.get(STAFF_KEY) or "staff"


def signed_in() -> bool:
    """True when the visitor may see the dashboard (then `login_page` is not shown)."""
    auth = oidc_section()
    if auth is not None:
        return bool(st.user.is_logged_in)
    if settings().dashboard_password:
        return bool(st.session_state.get(STAFF_KEY))
    if local_only():
        st.session_state.setdefault(STAFF_KEY, "local")
        return True
    return False


def login_page() -> None:
    """The only page a visitor sees until logged in."""
    st.title("TinkerTank Ops")
    auth = oidc_section()
    if auth is not None:
        _oidc_login(auth)
    elif password := settings().dashboard_password:
        _password_login(password)
    else:
        st.error(
            "No login is configured: set `DASHBOARD_PASSWORD` or an `[auth]` section in "
            "`.streamlit/secrets.toml`. Without one the dashboard only runs on 127.0.0.1."
        )


def _oidc_login(auth: dict[str, Any]) -> None:
    # One provider: settings at the top of [auth]; several: one [auth.<name>] each.
    providers = [name for name, value in auth.items() if isinstance(value, dict)]
    if "client_id" in auth or not providers:
        st.button("Log in", type="primary", on_click=st.login)
    for provider in providers:
        st.button(f"Log in with {provider}", on_click=st.login, args=(provider,))


def _password_login(password: str) -> None:
    with st.form("login"):
        name = st.text_input(
            "Your name", help="Recorded when you resolve an error.", key="login-name"
        )
        entered = st.text_input("Password", type="password", key="login-password")
        submitted = st.form_submit_button("Log in", type="primary", key="login-submit")
    if submitted:
        if hmac.compare_digest(entered.encode(), password.encode()):
            st.session_state[STAFF_KEY] = name.strip() or "staff"
            st.rerun()
        time.sleep(1)  # slows guessing down
        st.error("Wrong password.")


def log_out() -> None:
    if oidc_section() is not None and st.user.is_logged_in:
        st.logout()
    st.session_state.pop(STAFF_KEY, None)

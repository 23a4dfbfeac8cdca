"""One browser session of the dashboard: its settings, its API client and who is logged in.

Login (docs/operations.md, Dashboard), two ways:

- Without `ADMIN_TOKEN` in its environment, the dashboard signs each member of staff in with
  their own account (`POST /api/login`, made with `tinkertank staff add`): their session
  token is the API client's, their name and role are shown in the sidebar, and what their
  role may not do is hidden or disabled (`may_act`, `may_see`).
- With `ADMIN_TOKEN` and an `[auth]` section in the secrets, Streamlit's OIDC login
  (`st.login`, `st.user`): the person then acts as themselves. The dashboard asks the
  sidecar, with its machine token, for a session of the staff account named by their
  OIDC email (`POST /api/staff/sessions`, `oidc_member`) and uses that session's token for
  everything they do: their role applies and every action is recorded in their name. An
  email with no enabled account (or one the provider says is not verified) is refused
  with what to do; a session that ends (expired, role gone) is opened again on the next
  page while they are still signed in with OIDC.
- With `ADMIN_TOKEN` and no `[auth]`, it calls the API as the machine (an admin) and logs
  people in with `DASHBOARD_PASSWORD` through a form. With neither, the dashboard runs
  without a login only when bound to this machine (`tinkertank dashboard` on 127.0.0.1):
  it refuses otherwise.
"""

from __future__ import annotations

import contextlib
import hmac
import time
from typing import Any

import streamlit as st

from client.staff_api import ApiError, SidecarError, StaffApi
from core import clock
from core.settings import Settings, load_settings
from core.staff_accounts import may

SETTINGS_KEY = "settings"  # a test puts its own Settings here, as create_app(settings) does
STAFF_KEY = "staff"  # who logged in with the password form
MEMBER_KEY = "member"  # a signed-in staff account: {"name", "role", "token"}
OIDC_REFUSED_KEY = "oidc-refused"  # why the OIDC-signed-in person may not come in
LOCAL_ADDRESSES = ("127.0.0.1", "localhost", "::1")


@st.cache_resource
def _environment_settings() -> Settings:
    settings = load_settings(client=True, signs_in=True)
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
    if personal():
        member = st.session_state.get(MEMBER_KEY)
        token = member["token"] if member else ""
        if client.token != token:
            client.use_token(token)
    return client


def accounts() -> bool:
    """True when staff sign in with their own accounts (no ADMIN_TOKEN configured here)."""
    return not settings().admin_token


def oidc() -> bool:
    """True when people sign in with OIDC and act through their own staff account."""
    return not accounts() and oidc_section() is not None


def personal() -> bool:
    """True when the API is called with the signed-in member's own session token."""
    return accounts() or oidc()


def role() -> str:
    """The signed-in member's role; with ADMIN_TOKEN and a password login, the dashboard
    acts as an admin."""
    if personal():
        member = st.session_state.get(MEMBER_KEY)
        return member["role"] if member else ""
    return "admin"


def may_act() -> bool:
    """Buttons that change something (retry, resend, resolve …) need staff or admin."""
    return may(role(), "staff")


# The pages an analyst gets: figures and reads without families' own words (support
# tickets), children's contacts (check-in) or carts (waitlist), and no page that only acts
# (bookings by phone). A page added later is for staff until it is listed here.
ANALYST_PAGES = ("live", "orders", "calendar", "webhooks", "errors", "summaries", "sql")


# Pages for admins only: staff accounts and their roles.
ADMIN_PAGES = ("staff",)


def may_see(page: str) -> bool:
    if page in ADMIN_PAGES:
        return may(role(), "admin")
    return may_act() or page in ANALYST_PAGES


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
    if personal():
        member = st.session_state.get(MEMBER_KEY)
        return member["name"] if member else ""
    return st.session_state.get(STAFF_KEY) or "staff"


class OidcRefused(Exception):
    """The OIDC-signed-in person may not use the dashboard; the message says why and what
    to do."""


def oidc_member(machine: StaffApi, email: Any, verified: Any) -> dict[str, str]:
    """The staff session of the person the OIDC provider vouched for: asked of the sidecar
    with the machine token (`machine`), for the enabled account named by their email.
    `{"name", "role", "token", "email"}`, or `OidcRefused`."""
    if not isinstance(email, str) or not email.strip():
        raise OidcRefused(
            "Your sign-in gave no email address, which names your staff account. Ask an"
            " admin to check the OIDC provider's settings (the `email` scope)."
        )
    email = email.strip().lower()
    if verified is False:
        raise OidcRefused(f"Your identity provider has not verified {email}; verify it there.")
    try:
        answer = machine.session_for(email)
    except ApiError as exc:
        if exc.status == 404:
            raise OidcRefused(
                f"{email} has no staff account here (or it is disabled). Ask an admin to run"
                f" `tinkertank staff add {email} --role staff`."
            ) from None
        raise OidcRefused(exc.message) from None
    return {"name": answer["name"], "role": answer["role"], "token": answer["token"],
            "email": email}  # fmt: skip


def _oidc_signed_in() -> bool:
    """The OIDC-signed-in person has their own staff session (opened now if need be)."""
    if not st.user.is_logged_in:
        return False
    email = str(st.user.get("email") or "").strip().lower()
    member = st.session_state.get(MEMBER_KEY)
    if member and member.get("email") == email:
        return True
    st.session_state.pop(MEMBER_KEY, None)
    current = settings()
    machine = StaffApi(current.sidecar_url, current.admin_token)
    try:
        st.session_state[MEMBER_KEY] = oidc_member(
            machine, st.user.get("email"), st.user.get("email_verified")
        )
    except OidcRefused as exc:
        st.session_state[OIDC_REFUSED_KEY] = str(exc)
        return False
    except SidecarError as exc:
        st.session_state[OIDC_REFUSED_KEY] = f"The sidecar could not be asked: {exc}"
        return False
    st.session_state.pop(OIDC_REFUSED_KEY, None)
    return True


def signed_in() -> bool:
    """True when the visitor may see the dashboard (then `login_page` is not shown)."""
    if accounts():
        return bool(st.session_state.get(MEMBER_KEY))
    auth = oidc_section()
    if auth is not None:
        return _oidc_signed_in()
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
    if accounts():
        _account_login()
    elif auth is not None:
        _oidc_login(auth)
    elif password := settings().dashboard_password:
        _password_login(password)
    else:
        st.error(
            "No login is configured: set `DASHBOARD_PASSWORD` or an `[auth]` section in "
            "`.streamlit/secrets.toml`. Without one the dashboard only runs on 127.0.0.1."
        )


def _oidc_login(auth: dict[str, Any]) -> None:
    if st.user.is_logged_in:  # signed in with OIDC, but refused here
        st.error(st.session_state.get(OIDC_REFUSED_KEY) or "You may not use this dashboard.")
        st.button("Log out", on_click=st.logout, key="oidc-log-out")
        return
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


def _account_login() -> None:
    with st.form("sign-in"):
        name = st.text_input("Name", help="Your staff account.", key="sign-in-name")
        entered = st.text_input("Password", type="password", key="sign-in-password")
        submitted = st.form_submit_button("Sign in", type="primary", key="sign-in-submit")
    if not submitted:
        return
    client = api()
    try:
        answer = client.login(name.strip(), entered)
    except ApiError as exc:
        # 401: wrong name or password; 429: locked out for a while; 422: a field empty.
        st.error("Wrong name or password." if exc.status == 401 else exc.message)
        return
    except SidecarError as exc:
        st.error(str(exc))
        return
    st.session_state[MEMBER_KEY] = {
        "name": answer["name"], "role": answer["role"], "token": answer["token"],
    }  # fmt: skip
    st.rerun()


def refresh_role() -> None:
    """The member's role as the sidecar has it now (an admin may have changed it since
    they signed in): the menu and buttons follow it from the next page on. A session that
    ended is forgotten (the sign-in form, or with OIDC a new session)."""
    member = st.session_state.get(MEMBER_KEY)
    if not personal() or not member:
        return
    try:
        me = api().me()
    except ApiError as exc:
        if exc.status == 401:
            forget_member()
        return
    except SidecarError:
        return  # the pages say the sidecar is down
    if me.get("role") and me["role"] != member["role"]:
        st.session_state[MEMBER_KEY] = {**member, "role": me["role"]}


def forget_member() -> None:
    """The session ended on the sidecar (expired, disabled): back to the sign-in form (with
    OIDC, a new session is asked for on the next page)."""
    st.session_state.pop(MEMBER_KEY, None)
    if (client := st.session_state.get("api")) is not None:
        client.use_token("")


def log_out() -> None:
    if accounts():
        if st.session_state.get(MEMBER_KEY):
            # Gone or expired already: forgetting it here is what matters.
            with contextlib.suppress(SidecarError):
                api().logout()
        forget_member()
        return
    if oidc_section() is not None and st.user.is_logged_in:
        if st.session_state.get(MEMBER_KEY):
            with contextlib.suppress(SidecarError):
                api().logout()
        forget_member()
        st.logout()
    st.session_state.pop(STAFF_KEY, None)

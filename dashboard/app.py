"""The staff dashboard (docs/operations.md, Dashboard): `tinkertank dashboard --port P`, or
`streamlit run dashboard/app.py`. A client of the sidecar's staff API; it never opens the
database. Pages are thin: they lay out what the API returns (`dashboard/pages/`)."""

from __future__ import annotations

import streamlit as st

from client.staff_api import ApiError, NotAvailable, SidecarDown
from core.settings import SettingsError
from dashboard import session, ui

st.set_page_config(
    page_title="TinkerTank Ops", page_icon=":material/precision_manufacturing:", layout="wide"
)

try:
    settings = session.settings()
except SettingsError as exc:
    st.error(f"The dashboard cannot start: {exc}")
    st.stop()

session.refresh_role()
if not session.signed_in():
    # The login form as the only page: no menu of the pages behind it.
    st.navigation([st.Page(session.login_page, title="Log in")], position="hidden").run()
    st.stop()

PAGES = [
    st.Page("pages/live.py", title="Live", icon=":material/monitoring:", default=True),
    st.Page("pages/orders.py", title="Orders", icon=":material/receipt_long:"),
    st.Page("pages/calendar.py", title="Calendar", icon=":material/calendar_month:"),
    st.Page("pages/checkin.py", title="Check-in", icon=":material/how_to_reg:"),
    st.Page("pages/webhooks.py", title="Webhooks", icon=":material/webhook:"),
    st.Page("pages/errors.py", title="Errors", icon=":material/error:"),
    st.Page("pages/summaries.py", title="Summaries", icon=":material/summarize:"),
    st.Page("pages/support.py", title="Support", icon=":material/support_agent:"),
    st.Page("pages/bookings.py", title="Bookings", icon=":material/add_call:"),
    st.Page("pages/waitlist.py", title="Waitlist", icon=":material/hourglass_top:"),
    st.Page("pages/sql.py", title="SQL", icon=":material/database:"),
    st.Page("pages/staff.py", title="Staff", icon=":material/badge:"),
]
# What the signed-in role may not use is not in the menu (session.may_see).
PAGES = [p for p in PAGES if session.may_see(p.title.lower())]
with st.sidebar:
    st.caption(f"Sidecar {settings.sidecar_url} · times in {settings.timezone}")
    if session.accounts():
        st.caption(f"Signed in as {session.staff_name()} ({session.role()})")
        # A callback: it runs before the next run, which then draws the sign-in form.
        st.button("Sign out", on_click=session.log_out, key="sign-out")
    elif session.oidc():
        st.caption(f"Logged in as {session.staff_name()} ({session.role()})")
        if st.button("Log out", key="oidc-sign-out"):
            session.log_out()
            st.rerun()
    elif session.oidc_section() is not None or settings.dashboard_password:
        st.caption(f"Logged in as {session.staff_name()}")
        if st.button("Log out"):
            session.log_out()
            st.rerun()
    else:
        st.caption("No login: this dashboard only listens on this machine.")

page = st.navigation(PAGES)

# Pages show API failures where they happen (ui.section); this is the net under them.
try:
    page.run()
except SidecarDown as exc:
    ui.sidecar_down(exc)
except NotAvailable as exc:
    ui.not_available(exc)
except ApiError as exc:
    if exc.status == 401 and session.personal():
        session.forget_member()  # the session ended: sign in again
        st.rerun()
    st.error(exc.message)

"""The staff dashboard (SPEC §7): `tinkertank dashboard --port P`, or
`streamlit run dashboard/app.py`. A client of the sidecar's staff API; it never opens the
database. Pages are thin: they lay out what the API returns (`dashboard/pages/`)."""

from __future__ import annotations

import streamlit as st

from core.settings import SettingsError
from dashboard import session, ui
from dashboard.api import ApiError, NotAvailable, SidecarDown

st.set_page_config(page_title="TinkerTank Ops", page_icon="🤖", layout="wide")

try:
    settings = session.settings()
except SettingsError as exc:
    st.error(f"The dashboard cannot start: {exc}")
    st.stop()

if not session.signed_in():
    st.stop()

PAGES = [
    st.Page("pages/live.py", title="Live", icon="📈", default=True),
    st.Page("pages/orders.py", title="Orders", icon="🧾"),
    st.Page("pages/calendar.py", title="Calendar", icon="📅"),
    st.Page("pages/webhooks.py", title="Webhooks", icon="📨"),
    st.Page("pages/errors.py", title="Errors", icon="🚨"),
    st.Page("pages/summaries.py", title="Summaries", icon="📊"),
    st.Page("pages/support.py", title="Support", icon="🛟"),
    st.Page("pages/sql.py", title="SQL", icon="🔎"),
]
page = st.navigation(PAGES)

with st.sidebar:
    st.caption(f"Sidecar {settings.sidecar_url} · times in {settings.timezone}")
    if session.oidc_section() is not None or settings.dashboard_password:
        st.caption(f"Logged in as {session.staff_name()}")
        if st.button("Log out"):
            session.log_out()
            st.rerun()
    else:
        st.caption("No login: this dashboard only listens on this machine.")

banner = st.container()
ui.show_flash()
try:
    page.run()
except SidecarDown as exc:
    with banner:
        ui.sidecar_down(exc)
except NotAvailable as exc:
    ui.not_available(exc)
except ApiError as exc:
    st.error(exc.message)

"""Staff accounts (admins only): who may sign in and in what role; change a role, disable
an account or enable it again, and every change to an account with who made it.

A role changed here holds from the member's next request: their session stays signed in
and the sidecar reads the account's role on each call (docs/security.md, Staff roles)."""

from __future__ import annotations

import streamlit as st

from core.vocabulary import STAFF_ROLES
from dashboard import formatting as fmt
from dashboard import session, ui

api, tz = session.api(), session.settings().tz
ui.page_title("Staff")

accounts: list[dict] = []
changes: list[dict] = []
with ui.section():
    answer = api.staff_accounts()
    accounts, changes = answer["staff"], answer.get("changes", [])
    shown = [{**a, "state": "disabled" if a["disabled_at"] else "active"} for a in accounts]
    ui.table(
        fmt.table_times(shown, tz, "created_at", "updated_at", "disabled_at"),
        {"name": "Account", "role": "Role", "state": "State", "created_at": "Added",
         "disabled_at": "Disabled"},
    )  # fmt: skip
if not accounts:
    st.info(
        "No staff accounts yet: `tinkertank staff add NAME --role staff` (name an account by"
        " the member's email address for OIDC sign-in)."
    )

names = [a["name"] for a in accounts]
roles = {a["name"]: a["role"] for a in accounts}
with st.form("staff-role"):
    st.subheader("Change a role")
    name = st.selectbox("Account", names, index=None, key="staff-role-name")
    role = st.selectbox(
        "New role", list(STAFF_ROLES), index=None, key="staff-role-role",
        help="analyst: reads; staff: runs the day; admin: accounts, capacity",
    )  # fmt: skip
    change = st.form_submit_button("Change role", key="staff-role-submit")
if change:
    if not name or not role:
        st.error("Choose the account and its new role.")
    else:
        ui.act(lambda: api.set_staff_role(name, role), f"{name} is now {role}.")

disabled = [a["name"] for a in accounts if a["disabled_at"]]
active = [a["name"] for a in accounts if not a["disabled_at"]]
left, right = st.columns(2)
with left, st.form("staff-disable"):
    gone = st.selectbox("Disable (their sessions end)", active, index=None,
                        key="staff-disable-name")  # fmt: skip
    if st.form_submit_button("Disable", key="staff-disable-submit") and gone:
        ui.act(lambda: api.disable_staff(gone), f"{gone} disabled.")
with right, st.form("staff-enable"):
    back = st.selectbox("Enable again", disabled, index=None, key="staff-enable-name")
    if st.form_submit_button("Enable", key="staff-enable-submit") and back:
        ui.act(lambda: api.enable_staff(back), f"{back} enabled.")

st.subheader("Changes to accounts")
ui.table(
    fmt.table_times(changes, tz, "created_at"),
    {"created_at": "When", "name": "Account", "what": "Change", "old_value": "Was",
     "new_value": "Now", "actor": "By"},
)  # fmt: skip

"""Named staff against a real sidecar: accounts made with `tinkertank staff`, sign-in and
sign-out, lockout after too many failures, and each role held to what it may do
(docs/security.md, Staff sign-in and Staff roles)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from runtime.sidecar_process import free_port, inherited_env, start_sidecar
from tests.conftest import ADMIN_TOKEN, REPO, Sidecar, make_event, sidecar_env
from tests.fakes.stripe import FakeStripe
from tests.sidecar.test_fulfilment import checkout, shop_env, wait_for

PASSWORD = "a long enough password"
MACHINE = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def tinkertank(sidecar: Sidecar, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**inherited_env(), "ADMIN_TOKEN": ADMIN_TOKEN, "SIDECAR_URL": sidecar.url}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env, cwd=REPO, input=stdin, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def login(sidecar: Sidecar, name: str, password: str = PASSWORD) -> requests.Response:
    return requests.post(
        sidecar.url + "/api/login", json={"name": name, "password": password}, timeout=30
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed_in(sidecar: Sidecar, name: str) -> dict[str, str]:
    response = login(sidecar, name)
    assert response.status_code == 200, response.text
    return bearer(response.json()["token"])


def add(sidecar: Sidecar, role: str) -> str:
    name = f"{role}-{secrets.token_hex(3)}"
    made = tinkertank(sidecar, "staff", "add", name, "--role", role, stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    return name


@pytest.fixture(scope="module")
def sidecar(fake: FakeStripe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    tmp_path = tmp_path_factory.mktemp("staff")
    env = sidecar_env(
        tmp_path, **shop_env(fake), LOGIN_FAILURES_PER_ACCOUNT="3", LOGIN_FAILURES_PER_CLIENT="1000"
    )
    server = start_sidecar(free_port(), env, log_path=tmp_path / "sidecar.log")
    yield Sidecar(server)
    server.stop()


# --- accounts and sign-in ------------------------------------------------------------------


def test_the_cli_makes_an_account_that_signs_in_with_its_name_and_role(sidecar: Sidecar):
    made = tinkertank(sidecar, "staff", "add", "robin", "--role", "staff", stdin=PASSWORD)
    again = tinkertank(sidecar, "staff", "add", "robin", "--role", "admin", stdin=PASSWORD)
    listed = tinkertank(sidecar, "staff", "list")

    assert made.returncode == 0, made.stderr
    assert "robin can sign in as staff" in made.stdout
    assert again.returncode == 1 and "already an account 'robin'" in again.stderr
    assert any(line.split() == ["robin", "staff", "active"] for line in listed.stdout.splitlines())
    answer = login(sidecar, "robin")
    assert answer.status_code == 200, answer.text
    token = answer.json()["token"]
    assert answer.json()["role"] == "staff" and answer.json()["expires_at"].endswith("Z")
    me = requests.get(sidecar.url + "/api/me", headers=bearer(token), timeout=10)
    assert me.json() == {"name": "robin", "role": "staff", "machine": False}


def test_a_bad_account_is_refused_with_every_problem_at_its_path(sidecar: Sidecar):
    response = requests.post(
        sidecar.url + "/api/staff",
        json={"name": "Robin Hood", "role": "boss", "password": "short", "extra": 1},
        headers=MACHINE,
        timeout=30,
    )

    assert response.status_code == 422
    paths = [p["path"] for p in response.json()["problems"]]
    assert paths == ["extra", "name", "role", "password"]


def test_a_wrong_password_or_an_unknown_name_is_401_and_says_no_more(sidecar: Sidecar):
    name = add(sidecar, "staff")

    wrong = login(sidecar, name, "not the password at all")
    unknown = login(sidecar, "nobody-here")

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"error": "wrong_login",
                                              "message": "wrong name or password"}  # fmt: skip
    assert login(sidecar, name).status_code == 200  # the failures do not lock it out


def test_after_too_many_failures_even_the_right_password_gets_429_with_retry_after(
    sidecar: Sidecar,
):
    name = add(sidecar, "staff")

    failures = [login(sidecar, name, f"wrong password {n}").status_code for n in range(3)]
    locked = login(sidecar, name)

    assert failures == [401, 401, 401]
    assert locked.status_code == 429
    assert locked.json()["error"] == "too_many_attempts"
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    assert login(sidecar, name).status_code == 429  # still locked, across sessions


def test_a_right_password_starts_the_accounts_count_again(sidecar: Sidecar):
    name = add(sidecar, "staff")
    for n in range(2):
        assert login(sidecar, name, f"wrong password {n}").status_code == 401
    assert login(sidecar, name).status_code == 200

    again = [login(sidecar, name, f"wrong again {n}").status_code for n in range(3)]

    assert again == [401, 401, 401]


def test_signing_out_disabling_or_a_new_password_ends_a_session(sidecar: Sidecar):
    out, disabled, changed = add(sidecar, "staff"), add(sidecar, "staff"), add(sidecar, "staff")
    sessions = {name: signed_in(sidecar, name) for name in (out, disabled, changed)}

    def me(name: str) -> int:
        return requests.get(sidecar.url + "/api/me", headers=sessions[name], timeout=10).status_code

    assert {me(n) for n in sessions} == {200}
    signed_out = requests.post(sidecar.url + "/api/logout", headers=sessions[out], timeout=10)
    assert signed_out.json()["message"] == f"{out} signed out"
    assert tinkertank(sidecar, "staff", "disable", disabled).returncode == 0
    renewed = tinkertank(sidecar, "staff", "password", changed, stdin="another long password")
    assert renewed.returncode == 0, renewed.stderr

    assert [me(n) for n in (out, disabled, changed)] == [401, 401, 401]
    assert login(sidecar, disabled).status_code == 401
    assert login(sidecar, changed).status_code == 401
    assert login(sidecar, changed, "another long password").status_code == 200


# --- roles ---------------------------------------------------------------------------------


def test_an_analyst_reads_but_a_post_is_403_saying_why(sidecar: Sidecar):
    session = signed_in(sidecar, add(sidecar, "analyst"))

    orders = requests.get(sidecar.url + "/api/orders", headers=session, timeout=10)
    remind = requests.post(sidecar.url + "/api/reminders/run", headers=session, timeout=10)
    export = requests.post(sidecar.url + "/api/export", headers=session, timeout=10)
    tickets = requests.get(sidecar.url + "/api/tickets", headers=session, timeout=10)

    assert orders.status_code == 200
    assert remind.status_code == 403 and export.status_code == 403
    assert tickets.status_code == 403  # families' own words
    assert remind.json()["error"] == "forbidden"
    assert "signed in as analyst; POST /api/reminders/run needs staff" in remind.json()["message"]


def test_staff_act_but_accounts_are_for_admins(sidecar: Sidecar):
    staff = signed_in(sidecar, add(sidecar, "staff"))
    admin = signed_in(sidecar, add(sidecar, "admin"))

    remind = requests.post(sidecar.url + "/api/reminders/run", headers=staff, timeout=10)
    listing = requests.get(sidecar.url + "/api/staff", headers=staff, timeout=10)
    adding = requests.post(
        sidecar.url + "/api/staff",
        json={"name": "sneaky", "role": "admin", "password": PASSWORD},
        headers=staff,
        timeout=10,
    )

    capacity = requests.post(
        sidecar.url + "/api/events/cal_nothing/capacity",
        json={"capacity": 30, "reason": "extra helper"},
        headers=staff,
        timeout=10,
    )

    assert remind.status_code == 200
    assert listing.status_code == 403 and adding.status_code == 403
    assert capacity.status_code == 403 and "needs admin" in capacity.json()["message"]
    assert "needs admin" in listing.json()["message"]
    assert login(sidecar, "sneaky").status_code == 401
    assert requests.get(sidecar.url + "/api/staff", headers=admin, timeout=10).status_code == 200


def test_the_analysts_sql_sees_no_childrens_notes_or_ticket_text(sidecar: Sidecar, fake):
    item = {"product_id": "summer-robotics", "date": "2027-01-06", "session": "day",
            "student": {"name": "Noa", "age": 9, "notes": "severe nut allergy"}}  # fmt: skip
    order_id, _ = checkout(sidecar, fake, [item])
    ticket = requests.post(
        sidecar.url + "/api/support/booking-issue",
        json={"order_id": order_id, "email": "noa.parent@example.com", "category": "wrong_date",
              "name": "Noa Parent", "message": "Noa has a new allergy, please call."},
        timeout=10,
    )  # fmt: skip
    assert ticket.status_code == 201, ticket.text
    query = {
        "sql": f"SELECT (SELECT notes FROM students WHERE order_id = '{order_id}'),"
        " (SELECT message FROM support_tickets WHERE email = 'noa.parent@example.com')"
    }
    analyst = signed_in(sidecar, add(sidecar, "analyst"))
    staff = signed_in(sidecar, add(sidecar, "staff"))

    def rows(headers: dict[str, str]) -> list:
        response = requests.post(sidecar.url + "/api/sql", json=query, headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()["rows"]

    assert rows(analyst) == [[None, None]]
    assert rows(staff) == [["severe nut allergy", "Noa has a new allergy, please call."]]
    assert rows(MACHINE) == rows(staff)

    def notes(headers: dict[str, str]) -> list:
        detail = requests.get(sidecar.url + f"/api/orders/{order_id}", headers=headers, timeout=10)
        assert detail.status_code == 200, detail.text
        return [student["notes"] for student in detail.json()["students"]]

    assert notes(analyst) == [None]
    assert notes(staff) == ["severe nut allergy"]


def test_an_error_resolved_by_a_signed_in_member_is_resolved_in_their_name(sidecar: Sidecar):
    name = add(sidecar, "staff")
    session = signed_in(sidecar, name)
    intent = {"id": f"pi_{secrets.token_hex(8)}", "object": "payment_intent", "amount": 8900,
              "amount_received": 8900, "currency": "aud", "status": "succeeded",
              "metadata": {"tt_items": "not a cart"}}  # fmt: skip
    event = make_event(type="payment_intent.succeeded", data={"object": intent})
    assert sidecar.deliver(event).status_code == 200

    def entry() -> dict | None:
        found = requests.get(
            sidecar.url + "/api/errors", params={"resolved": "false"}, headers=session, timeout=10
        ).json()["errors"]
        return next((e for e in found if e.get("stripe_event_id") == event["id"]), None)

    error = wait_for(entry)
    resolved = requests.post(
        sidecar.url + f"/api/errors/{error['error_id']}/resolve",
        json={"by": "someone else"},
        headers=session,
        timeout=10,
    )

    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["message"] == f"{error['error_id']} resolved by {name}"


def test_too_many_failures_from_one_address_lock_it_out_whichever_the_account(
    start_sidecar_process,
):
    sidecar = start_sidecar_process(LOGIN_FAILURES_PER_CLIENT="2")
    name = add(sidecar, "staff")

    tries = [login(sidecar, f"guess-{n}", "some password").status_code for n in range(2)]
    locked = login(sidecar, name)

    assert tries == [401, 401]
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0


# --- an admin changes roles, enables accounts ------------------------------------------------


def test_an_admin_changes_a_role_which_holds_from_the_members_next_request(sidecar: Sidecar):
    name = add(sidecar, "analyst")
    session = signed_in(sidecar, name)
    admin_name = add(sidecar, "admin")
    admin = signed_in(sidecar, admin_name)

    def remind(headers: dict[str, str]) -> int:
        return requests.post(
            sidecar.url + "/api/reminders/run", headers=headers, timeout=10
        ).status_code

    assert remind(session) == 403
    promoted = requests.post(sidecar.url + f"/api/staff/{name}/role", json={"role": "staff"},
                             headers=admin, timeout=10)  # fmt: skip
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["before"] == "analyst" and promoted.json()["changed"] is True
    # The same session, its next request: the new role, no sign-in again.
    me = requests.get(sidecar.url + "/api/me", headers=session, timeout=10).json()
    assert me == {"name": name, "role": "staff", "machine": False}
    assert remind(session) == 200

    # The CLI does the same; a role that does not exist is 422 at its path.
    demoted = tinkertank(sidecar, "staff", "role", name, "analyst")
    assert demoted.returncode == 0, demoted.stderr
    assert f"{name} is now analyst (was staff)" in demoted.stdout
    assert remind(session) == 403
    unknown = requests.post(sidecar.url + f"/api/staff/{name}/role", json={"role": "boss"},
                            headers=admin, timeout=10)  # fmt: skip
    assert unknown.status_code == 422
    assert [p["path"] for p in unknown.json()["problems"]] == ["role"]
    assert tinkertank(sidecar, "staff", "role", name, "boss").returncode != 0
    missing = requests.post(sidecar.url + "/api/staff/nobody-here/role", json={"role": "staff"},
                            headers=admin, timeout=10)  # fmt: skip
    assert missing.status_code == 404

    # Not for staff, nor for the member themself.
    staff = signed_in(sidecar, add(sidecar, "staff"))
    for headers in (staff, session):
        refused = requests.post(sidecar.url + f"/api/staff/{name}/role",
                                json={"role": "admin"}, headers=headers, timeout=10)  # fmt: skip
        assert refused.status_code == 403 and "needs admin" in refused.json()["message"]
    assert requests.get(sidecar.url + "/api/me", headers=session, timeout=10).json()["role"] == (
        "analyst"
    )

    # Audited: who changed whom, from what to what.
    changes = requests.get(sidecar.url + "/api/staff", headers=MACHINE, timeout=10).json()[
        "changes"
    ]
    mine = [(c["what"], c["old_value"], c["new_value"], c["actor"])
            for c in changes if c["name"] == name]  # fmt: skip
    assert mine[:2] == [("role", "staff", "analyst", "machine"),
                        ("role", "analyst", "staff", admin_name)]  # fmt: skip


def test_a_disabled_account_is_enabled_again_and_signs_in(sidecar: Sidecar):
    name = add(sidecar, "staff")
    assert tinkertank(sidecar, "staff", "disable", name).returncode == 0
    assert login(sidecar, name).status_code == 401

    enabled = tinkertank(sidecar, "staff", "enable", name)
    assert enabled.returncode == 0, enabled.stderr
    assert f"{name} enabled" in enabled.stdout
    assert login(sidecar, name).status_code == 200
    again = requests.post(sidecar.url + f"/api/staff/{name}/enable", headers=MACHINE, timeout=10)
    assert again.status_code == 409 and again.json()["error"] == "not_disabled"
    listed = tinkertank(sidecar, "staff", "list")
    assert any(line.split() == [name, "staff", "active"] for line in listed.stdout.splitlines())

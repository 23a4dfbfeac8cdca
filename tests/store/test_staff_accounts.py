"""Staff sessions and failed sign-ins in the store, on an injected clock: a session ends at
its expiry, a lockout at the end of its period (store/staff_accounts.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.staff_accounts import LoginLimits, may, token_key
from store import staff_accounts
from store.database import Database

NOW = datetime(2026, 11, 25, 23, 0)  # naive UTC, as the store keeps time
LIMITS = LoginLimits(per_account=2, per_client=3, lockout_seconds=600)


def test_a_session_lasts_until_its_expiry_and_not_a_moment_longer(database: Database):
    database.write(staff_accounts.add_account, "robin", "staff", "hash", NOW)
    key = token_key("tts_example")
    expires = database.write(staff_accounts.open_session, key, "robin", NOW, timedelta(hours=12))

    just_before = database.read(staff_accounts.session_member, key, expires - timedelta(seconds=1))
    at_expiry = database.read(staff_accounts.session_member, key, expires)

    assert expires == NOW + timedelta(hours=12)
    assert just_before == {"name": "robin", "role": "staff", "expires_at": expires}
    assert at_expiry is None


def test_a_lockout_ends_after_its_period_and_counts_afresh(database: Database):
    def attempt(at: datetime, client: str = "10.0.0.1") -> datetime | None:
        return database.write(staff_accounts.begin_login, "robin", client, LIMITS, at)

    assert [attempt(NOW), attempt(NOW + timedelta(seconds=1))] == [None, None]
    locked = attempt(NOW + timedelta(seconds=2))
    assert locked == NOW + timedelta(seconds=602)
    assert attempt(NOW + timedelta(seconds=601), client="10.0.0.2") == locked  # any address

    assert attempt(locked) is None  # over: counted afresh
    assert attempt(locked + timedelta(seconds=1)) is None


def test_a_right_password_clears_the_account_but_only_takes_back_one_client_attempt(
    database: Database,
):
    for _ in range(2):
        database.write(staff_accounts.begin_login, "robin", "10.0.0.1", LIMITS, NOW)
    database.write(staff_accounts.login_succeeded, "robin", "10.0.0.1")

    # robin's count starts again; the address has one failure left over (of three).
    assert database.write(staff_accounts.begin_login, "robin", "10.0.0.1", LIMITS, NOW) is None
    assert database.write(staff_accounts.begin_login, "ada", "10.0.0.1", LIMITS, NOW) is None
    assert database.write(staff_accounts.begin_login, "bo", "10.0.0.1", LIMITS, NOW) is not None


def test_roles_are_ordered_analyst_staff_admin():
    assert may("admin", "staff") and may("staff", "analyst") and may("analyst", "analyst")
    assert not may("analyst", "staff") and not may("staff", "admin")
    assert not may("", "analyst") and not may("owner", "analyst")


def test_the_only_enabled_admin_keeps_the_role_until_another_admin_is_made(database: Database):
    database.write(staff_accounts.add_account, "ann", "admin", "hash", NOW)
    database.write(staff_accounts.add_account, "bob", "staff", "hash", NOW)

    assert database.write(staff_accounts.set_role, "ann", "staff", "ann", NOW) == (
        "last_admin", "admin"
    )  # fmt: skip
    assert database.write(staff_accounts.set_role, "bob", "admin", "ann", NOW) == (
        "changed", "staff"
    )  # fmt: skip
    assert database.write(staff_accounts.set_role, "bob", "admin", "ann", NOW) == (
        "same", "admin"
    )  # fmt: skip
    assert database.write(staff_accounts.set_role, "ann", "staff", "bob", NOW)[0] == "changed"
    roles = {a["name"]: a["role"] for a in database.read(staff_accounts.list_accounts)}
    assert roles == {"ann": "staff", "bob": "admin"}
    changes = database.read(staff_accounts.account_changes)
    # One record per change made (none for the refusal or the "same"), at the same time.
    assert sorted((c["name"], c["what"], c["old_value"], c["new_value"], c["actor"])
                  for c in changes if c["what"] == "role") == [
        ("ann", "role", "admin", "staff", "bob"), ("bob", "role", "staff", "admin", "ann")
    ]  # fmt: skip


def test_a_session_is_opened_for_an_enabled_account_only(database: Database):
    database.write(staff_accounts.add_account, "ann@example.org", "staff", "hash", NOW)
    key = token_key("tts_oidc")
    opened = database.write(staff_accounts.open_session_for, key, "ann@example.org", "oidc",
                            "machine", NOW, timedelta(hours=1))  # fmt: skip
    assert opened == {"name": "ann@example.org", "role": "staff",
                      "expires_at": NOW + timedelta(hours=1)}  # fmt: skip
    assert database.read(staff_accounts.session_member, key, NOW)["name"] == "ann@example.org"

    database.write(staff_accounts.disable_account, "ann@example.org", NOW)
    assert database.read(staff_accounts.session_member, key, NOW) is None
    assert database.write(staff_accounts.open_session_for, token_key("tts_2"), "ann@example.org",
                          "oidc", "machine", NOW, timedelta(hours=1)) is None  # fmt: skip
    assert database.write(staff_accounts.open_session_for, token_key("tts_3"), "nobody@x.org",
                          "oidc", "machine", NOW, timedelta(hours=1)) is None  # fmt: skip

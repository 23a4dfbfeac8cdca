"""Staff accounts, their sessions and the count of failed sign-ins: the only writer of
`staff_accounts`, `staff_sessions`, `login_throttle` and `staff_account_changes` (who
changed which account how, schema v15) (docs/security.md, Staff sign-in).

Passwords arrive here already hashed (Argon2id, in the web process) and session tokens as
their SHA-256 (`core/staff_accounts.token_key`); nothing here sees a secret.

Failed sign-ins are counted before the password is checked (`begin_login`), in the
writer's transaction: fifty guesses sent at once are fifty counted attempts, not fifty
verified before the first failure is written. A right password then takes its attempt
back (`login_succeeded`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import duckdb

from core.staff_accounts import LoginLimits
from store.orders import new_id

ACCOUNT_COLUMNS = ("name", "role", "created_at", "updated_at", "disabled_at")


# --- accounts ------------------------------------------------------------------------------


CHANGE_COLUMNS = ("change_id", "name", "what", "old_value", "new_value", "actor", "created_at")


def _changed(
    conn: duckdb.DuckDBPyConnection, name: str, what: str, old: str | None, new: str | None,
    actor: str, now: datetime,
) -> None:  # fmt: skip
    conn.execute(
        f"INSERT INTO staff_account_changes ({', '.join(CHANGE_COLUMNS)})"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [new_id("acc"), name, what, old, new, actor, now],
    )


def account_changes(conn: duckdb.DuckDBPyConnection, limit: int = 50) -> list[dict[str, Any]]:
    """The newest changes to accounts first: who changed which account how."""
    rows = conn.execute(
        f"SELECT {', '.join(CHANGE_COLUMNS)} FROM staff_account_changes"
        " ORDER BY created_at DESC, change_id LIMIT ?",
        [limit],
    ).fetchall()
    return [dict(zip(CHANGE_COLUMNS, row, strict=True)) for row in rows]


def add_account(
    conn: duckdb.DuckDBPyConnection, name: str, role: str, password_hash: str, now: datetime,
    actor: str = "machine",
) -> bool:  # fmt: skip
    """A new account; False when the name is taken (by a disabled account too)."""
    rows = conn.execute(
        "INSERT INTO staff_accounts (name, role, password_hash, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING name",
        [name, role, password_hash, now, now],
    ).fetchall()
    if rows:
        _changed(conn, name, "add", None, role, actor, now)
    return bool(rows)


def set_role(
    conn: duckdb.DuckDBPyConnection, name: str, role: str, actor: str, now: datetime
) -> tuple[str, str | None]:
    """(outcome, role before): "changed", "same", "not_found", or "last_admin" (the one
    enabled admin account would be left with none). Sessions are read with the account's
    role as it is now (`session_member`), so the change holds from their next request."""
    row = conn.execute(
        "SELECT role, disabled_at FROM staff_accounts WHERE name = ?", [name]
    ).fetchone()
    if row is None:
        return "not_found", None
    before, disabled_at = row
    if before == role:
        return "same", before
    if before == "admin" and disabled_at is None:
        (others,) = conn.execute(
            "SELECT count(*) FROM staff_accounts WHERE role = 'admin' AND disabled_at IS NULL"
            " AND name <> ?",
            [name],
        ).fetchone()
        if others == 0:
            return "last_admin", before
    conn.execute(
        "UPDATE staff_accounts SET role = ?, updated_at = ? WHERE name = ?", [role, now, name]
    )
    _changed(conn, name, "role", before, role, actor, now)
    return "changed", before


def enable_account(conn: duckdb.DuckDBPyConnection, name: str, actor: str, now: datetime) -> str:
    """ "enabled", "already" (it was not disabled) or "not_found". Its old sessions stay
    ended: the member signs in again."""
    row = conn.execute("SELECT disabled_at FROM staff_accounts WHERE name = ?", [name]).fetchone()
    if row is None:
        return "not_found"
    if row[0] is None:
        return "already"
    conn.execute(
        "UPDATE staff_accounts SET disabled_at = NULL, updated_at = ? WHERE name = ?", [now, name]
    )
    _changed(conn, name, "enable", None, None, actor, now)
    return "enabled"


def list_accounts(conn: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT {', '.join(ACCOUNT_COLUMNS)} FROM staff_accounts ORDER BY name"
    ).fetchall()
    return [dict(zip(ACCOUNT_COLUMNS, row, strict=True)) for row in rows]


def password_hash(conn: duckdb.DuckDBPyConnection, name: str) -> tuple[str, str] | None:
    """(role, password hash) of an account that may sign in; None for an unknown or
    disabled one."""
    row = conn.execute(
        "SELECT role, password_hash FROM staff_accounts WHERE name = ? AND disabled_at IS NULL",
        [name],
    ).fetchone()
    return (row[0], row[1]) if row else None


def disable_account(
    conn: duckdb.DuckDBPyConnection, name: str, now: datetime, actor: str = "machine"
) -> str:
    """ "disabled", "already" or "not_found". Its sessions end with it."""
    row = conn.execute("SELECT disabled_at FROM staff_accounts WHERE name = ?", [name]).fetchone()
    if row is None:
        return "not_found"
    if row[0] is not None:
        return "already"
    conn.execute(
        "UPDATE staff_accounts SET disabled_at = ?, updated_at = ? WHERE name = ?",
        [now, now, name],
    )
    _revoke_all(conn, name, now)
    _changed(conn, name, "disable", None, None, actor, now)
    return "disabled"


def set_password(
    conn: duckdb.DuckDBPyConnection, name: str, password_hash: str, now: datetime,
    actor: str = "machine",
) -> bool:  # fmt: skip
    """A new password; every session of the account ends. False for an unknown account."""
    rows = conn.execute(
        "UPDATE staff_accounts SET password_hash = ?, updated_at = ? WHERE name = ? RETURNING name",
        [password_hash, now, name],
    ).fetchall()
    if rows:
        _revoke_all(conn, name, now)
        _changed(conn, name, "password", None, None, actor, now)
    return bool(rows)


def _revoke_all(conn: duckdb.DuckDBPyConnection, name: str, now: datetime) -> None:
    conn.execute(
        "UPDATE staff_sessions SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
        [now, name],
    )


# --- sessions ------------------------------------------------------------------------------


def open_session(
    conn: duckdb.DuckDBPyConnection, token_hash: str, name: str, now: datetime, lifetime: timedelta
) -> datetime:
    """A new session; when it expires."""
    expires_at = now + lifetime
    conn.execute(
        "INSERT INTO staff_sessions (token_hash, name, created_at, expires_at) VALUES (?, ?, ?, ?)",
        [token_hash, name, now, expires_at],
    )
    return expires_at


def open_session_for(
    conn: duckdb.DuckDBPyConnection, token_hash: str, name: str, how: str, actor: str,
    now: datetime, lifetime: timedelta,
) -> dict[str, Any] | None:  # fmt: skip
    """A session for an enabled account, opened for its member by the machine (after the
    dashboard's OIDC sign-in, `how`): `{"name", "role", "expires_at"}`, recorded; None
    for an unknown or disabled account."""
    row = conn.execute(
        "SELECT role FROM staff_accounts WHERE name = ? AND disabled_at IS NULL", [name]
    ).fetchone()
    if row is None:
        return None
    expires_at = open_session(conn, token_hash, name, now, lifetime)
    _changed(conn, name, "oidc_sign_in", None, how, actor, now)
    return {"name": name, "role": row[0], "expires_at": expires_at}


def session_member(
    conn: duckdb.DuckDBPyConnection, token_hash: str, now: datetime
) -> dict[str, Any] | None:
    """`{"name", "role", "expires_at"}` of a live session: not expired, not revoked, its
    account not disabled. The role is the account's as it is now."""
    row = conn.execute(
        "SELECT a.name, a.role, s.expires_at FROM staff_sessions s"
        " JOIN staff_accounts a ON a.name = s.name"
        " WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.expires_at > ?"
        " AND a.disabled_at IS NULL",
        [token_hash, now],
    ).fetchone()
    return {"name": row[0], "role": row[1], "expires_at": row[2]} if row else None


def revoke_session(conn: duckdb.DuckDBPyConnection, token_hash: str, now: datetime) -> bool:
    rows = conn.execute(
        "UPDATE staff_sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL"
        " RETURNING token_hash",
        [now, token_hash],
    ).fetchall()
    return bool(rows)


# --- failed sign-ins -----------------------------------------------------------------------


def _subjects(name: str, client: str | None, limits: LoginLimits) -> list[tuple[str, int]]:
    subjects = [(f"account:{name}", limits.per_account)]
    if client:
        subjects.append((f"client:{client}", limits.per_client))
    return subjects


def begin_login(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    client: str | None,
    limits: LoginLimits,
    now: datetime,
) -> datetime | None:
    """Count a sign-in attempt as failed until it is proved right. None: go on and check
    the password; a time: refused until then (this attempt was one too many, or the
    account or client is locked out already)."""
    window = timedelta(seconds=limits.lockout_seconds)
    subjects = _subjects(name, client, limits)
    rows = conn.execute(
        "SELECT subject, failures, window_start, locked_until FROM login_throttle"
        f" WHERE subject IN ({', '.join('?' for _ in subjects)})",
        [s for s, _ in subjects],
    ).fetchall()
    held = {row[0]: row[1:] for row in rows}
    locked = [row[2] for row in held.values() if row[2] is not None and row[2] > now]
    if locked:
        return max(locked)
    refused_until = None
    for subject, allowed in subjects:
        failures, window_start, _ = held.get(subject, (0, now, None))
        if now - window_start >= window:
            failures, window_start = 0, now
        failures += 1
        locked_until = None
        if failures > allowed:  # one too many: refused, and locked out for a while
            locked_until = refused_until = now + window
            failures, window_start = 0, now
        conn.execute(
            "INSERT INTO login_throttle (subject, failures, window_start, locked_until)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (subject) DO UPDATE SET"
            " failures = excluded.failures, window_start = excluded.window_start,"
            " locked_until = excluded.locked_until",
            [subject, failures, window_start, locked_until],
        )
    return refused_until


def login_succeeded(conn: duckdb.DuckDBPyConnection, name: str, client: str | None) -> None:
    """The password was right: the account's count starts again, and the client's attempt
    is taken back (only that one: one good account does not clear a client's guesses)."""
    conn.execute("DELETE FROM login_throttle WHERE subject = ?", [f"account:{name}"])
    if client:
        conn.execute(
            "UPDATE login_throttle SET failures = failures - 1 WHERE subject = ? AND failures > 0",
            [f"client:{client}"],
        )

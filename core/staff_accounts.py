"""Staff accounts and sign-in, as pure rules: names, roles, passwords, session tokens, and
the limits on failed sign-ins (docs/security.md, Staff sign-in).

- `may(role, needed)`: roles are ordered (`vocabulary.STAFF_ROLES`), each may do what
  those before it may.
- `read_account`, `read_password`, `read_login`: a body checked with the validation kit,
  every problem listed with its path, or `InvalidRequest`.
- `new_session_token` and `token_key`: a session token is random (256 bits); only its
  SHA-256 is stored, so the table cannot be replayed. SHA-256 and not a password hash:
  the token is not guessable, so a slow hash would add nothing.
- `LoginLimits`: failed sign-ins counted per account and per client address in the store
  (`store/staff_accounts.py`), so the count holds across sessions, processes and restarts.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from core.support import InvalidRequest
from core.validation import MISSING, Invalid, Problems, text
from core.vocabulary import STAFF_ROLES

MACHINE = "machine"  # the actor of the ADMIN_TOKEN (cron, scripts)
MIN_PASSWORD = 12
MAX_PASSWORD = 256
TOKEN_PREFIX = "tts_"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,39}")
# An account named by its member's email address is the one the dashboard's OIDC sign-in
# maps that address to (docs/security.md, OIDC).
_EMAIL_NAME = re.compile(r"[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(\.[a-z0-9-]+)+")
MAX_EMAIL_NAME = 100


def may(role: str, needed: str) -> bool:
    """True when `role` may do what `needed` may (an admin may do what staff may …)."""
    return role in STAFF_ROLES and STAFF_ROLES.index(role) >= STAFF_ROLES.index(needed)


def is_email_name(value: str) -> bool:
    return len(value) <= MAX_EMAIL_NAME and _EMAIL_NAME.fullmatch(value) is not None


def account_name(value: Any) -> str:
    if not isinstance(value, str) or not (_NAME.fullmatch(value) or is_email_name(value)):
        raise Invalid(
            "must be 2..40 lower-case letters, digits, '.', '_' or '-', starting with a"
            f" letter or digit, or a lower-case email address of at most {MAX_EMAIL_NAME}"
            " characters (for OIDC sign-in)"
        )
    if value == MACHINE:
        raise Invalid(f"{MACHINE!r} is the ADMIN_TOKEN's name")
    return value


def role(value: Any) -> str:
    if value not in STAFF_ROLES:
        raise Invalid(f"must be one of {', '.join(STAFF_ROLES)}")
    return value


def password(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("expected text")
    if not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        raise Invalid(f"must be {MIN_PASSWORD}..{MAX_PASSWORD} characters, got {len(value)}")
    if value != value.strip():
        raise Invalid("must not start or end with spaces")
    return value


def _body(body: Any, keys: tuple[str, ...]) -> tuple[Problems, dict[str, Any]]:
    problems = Problems()
    if not isinstance(body, dict):
        problems.add("", "expected a JSON object")
        return problems, {}
    problems.reject_unknown_keys(body, keys, "")
    return problems, body


def _done(problems: Problems) -> None:
    if problems:
        raise InvalidRequest(problems.found)


@dataclass(frozen=True)
class NewAccount:
    name: str
    role: str
    password: str


def read_account(body: Any) -> NewAccount:
    """`{"name", "role", "password"}` of a new account."""
    problems, body = _body(body, ("name", "role", "password"))
    name = problems.check("name", body.get("name", MISSING), account_name)
    chosen = problems.check("role", body.get("role", MISSING), role)
    secret = problems.check("password", body.get("password", MISSING), password)
    _done(problems)
    return NewAccount(name, chosen, secret)  # type: ignore[arg-type]


def read_role(body: Any) -> str:
    """`{"role"}`: an account's new role."""
    problems, body = _body(body, ("role",))
    chosen = problems.check("role", body.get("role", MISSING), role)
    _done(problems)
    return chosen  # type: ignore[return-value]


def read_email(body: Any) -> str:
    """`{"email"}`: whose session the machine opens after an OIDC sign-in (lower-cased)."""
    problems, body = _body(body, ("email",))
    email = problems.check(
        "email",
        body.get("email", MISSING),
        lambda v: v.strip().lower() if isinstance(v, str) and is_email_name(v.strip().lower())
        else _not_email(),
    )  # fmt: skip
    _done(problems)
    return email  # type: ignore[return-value]


def _not_email() -> str:
    raise Invalid(f"expected an email address of at most {MAX_EMAIL_NAME} characters")


def read_password(body: Any) -> str:
    """`{"password"}`: a new password."""
    problems, body = _body(body, ("password",))
    secret = problems.check("password", body.get("password", MISSING), password)
    _done(problems)
    return secret  # type: ignore[return-value]


def read_login(body: Any) -> tuple[str, str]:
    """`{"name", "password"}` of a sign-in. Only shapes are checked: a name or password
    that could never be right is simply wrong (401), so nothing here tells a guesser more."""
    problems, body = _body(body, ("name", "password"))
    name = problems.check(
        "name", body.get("name", MISSING), lambda v: text(v, max_length=100).lower()
    )
    secret = problems.check(
        "password",
        body.get("password", MISSING),
        lambda v: v if isinstance(v, str) and 0 < len(v) <= MAX_PASSWORD else _bad(v),
    )
    _done(problems)
    return name, secret  # type: ignore[return-value]


def _bad(value: Any) -> str:
    raise Invalid(f"expected text of 1..{MAX_PASSWORD} characters")


def new_session_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_key(token: str) -> str:
    """What the store keeps of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class LoginLimits:
    """Failed sign-ins allowed per account and per client address within `lockout_seconds`
    before further attempts are refused (429) for `lockout_seconds`."""

    per_account: int = 5
    per_client: int = 20
    lockout_seconds: int = 900

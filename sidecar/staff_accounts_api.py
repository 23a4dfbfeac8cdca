"""Staff sign-in and accounts (docs/http-api.md, Staff sign-in; docs/security.md).

    POST /api/login                  {"name", "password"} → token, name, role, expires_at
    POST /api/logout                 ends the session whose token is sent
    GET  /api/me                     who the token is: name, role
    GET  /api/staff                  the accounts (admin)
    POST /api/staff                  {"name", "role", "password"} → 201 (admin)
    POST /api/staff/{name}/disable   its sessions end with it (admin)
    POST /api/staff/{name}/password  {"password"}: its sessions end (admin)
    POST /api/staff/{name}/role      {"role"}: from the member's next request (admin)
    POST /api/staff/{name}/enable    a disabled account may sign in again (admin)
    POST /api/staff/sessions         {"email"} → a session for the account of that email,
                                     for the dashboard after its OIDC sign-in (ADMIN_TOKEN only)

Every change to an account is recorded with who made it (`staff_account_changes`, listed
by `GET /api/staff` as `changes`).

Passwords are hashed with Argon2id (argon2-cffi) in a worker thread, never on the event
loop. A sign-in is counted as failed in the store before the password is checked
(`store/staff_accounts.begin_login`), per account and per client address; past the limit
it answers 429 with Retry-After, whichever the password.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.clock import utcnow
from core.settings import Settings
from core.staff_accounts import (
    LoginLimits,
    new_session_token,
    read_account,
    read_email,
    read_login,
    read_password,
    read_role,
    token_key,
)
from core.support import InvalidRequest
from sidecar.clients import client_key
from sidecar.json_body import read_json
from sidecar.staff_api import admin_only, analysts_too, jsonable, not_found, staff_only
from sidecar.staff_identity import actor, bearer_token
from store import staff_accounts

T = TypeVar("T")

MAX_BODY = 4 * 1024
_hasher = PasswordHasher()
# Checked against when the account does not exist, so that an unknown name takes as long
# to refuse as a wrong password.
_UNKNOWN = _hasher.hash("no account has this password")


def login_limits(settings: Settings) -> LoginLimits:
    return LoginLimits(
        per_account=settings.login_failures_per_account,
        per_client=settings.login_failures_per_client,
        lockout_seconds=settings.login_lockout_seconds,
    )


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def _read(request: Request, reader: Callable[[object], T]) -> T | Response:
    """The request's JSON body as `reader` reads it, or the answer saying what is wrong:
    a body that is not JSON (400), or one `reader` refuses (422, each problem listed)."""
    body = await read_json(request, MAX_BODY, error="invalid_body")
    if isinstance(body, Response):
        return body
    try:
        return reader(body)
    except InvalidRequest as exc:
        return JSONResponse({**exc.as_dict(), "error": "invalid_body"}, status_code=422)


async def login(request: Request) -> Response:
    read = await _read(request, read_login)
    if isinstance(read, Response):
        return read
    name, password = read
    settings: Settings = request.app.state.settings
    database = request.app.state.database
    client = client_key(request)
    locked_until = await database.awrite(
        staff_accounts.begin_login, name, client, login_limits(settings), utcnow()
    )
    if locked_until is not None:
        seconds = max(1, math.ceil((locked_until - utcnow()).total_seconds()))
        return JSONResponse(
            {"error": "too_many_attempts",
             "message": "too many failed sign-ins for this account or from this address;"
                        f" try again in {math.ceil(seconds / 60)} minute(s)",
             "retry_after_seconds": seconds},
            status_code=429,
            headers={"Retry-After": str(seconds)},
        )  # fmt: skip
    account = await database.aread(staff_accounts.password_hash, name)
    right = await run_in_threadpool(_verify, account[1] if account else _UNKNOWN, password)
    if account is None or not right:
        return JSONResponse(
            {"error": "wrong_login", "message": "wrong name or password"}, status_code=401
        )
    token = new_session_token()
    now = utcnow()
    lifetime = timedelta(hours=settings.staff_session_hours)
    await database.awrite(staff_accounts.login_succeeded, name, client)
    expires_at = await database.awrite(
        staff_accounts.open_session, token_key(token), name, now, lifetime
    )
    return JSONResponse(
        {"token": token, "name": name, "role": account[0],
         "expires_at": jsonable(expires_at)}
    )  # fmt: skip


async def logout(request: Request) -> Response:
    member = request.state.staff
    if member.machine:
        return JSONResponse(
            {"error": "not_a_session",
             "message": "the ADMIN_TOKEN is not a session; change it in the configuration"},
            status_code=409,
        )  # fmt: skip
    token = bearer_token(request) or ""
    await request.app.state.database.awrite(
        staff_accounts.revoke_session, token_key(token), utcnow()
    )
    return JSONResponse({"signed_out": True, "message": f"{member.name} signed out"})


async def me(request: Request) -> Response:
    member = request.state.staff
    return JSONResponse({"name": member.name, "role": member.role, "machine": member.machine})


async def list_staff(request: Request) -> Response:
    database = request.app.state.database
    rows = await database.aread(staff_accounts.list_accounts)
    changes = await database.aread(staff_accounts.account_changes)
    return JSONResponse(
        {"staff": [jsonable(r) for r in rows], "changes": [jsonable(c) for c in changes]}
    )


async def add_staff(request: Request) -> Response:
    account = await _read(request, read_account)
    if isinstance(account, Response):
        return account
    password_hash = await run_in_threadpool(_hasher.hash, account.password)
    added = await request.app.state.database.awrite(
        staff_accounts.add_account,
        account.name,
        account.role,
        password_hash,
        utcnow(),
        actor(request),
    )
    if not added:
        return JSONResponse(
            {"error": "name_taken", "message": f"there is already an account {account.name!r}"},
            status_code=409,
        )
    return JSONResponse(
        {"added": True, "name": account.name, "role": account.role,
         "message": f"{account.name} can sign in as {account.role}"},
        status_code=201,
    )  # fmt: skip


async def disable_staff(request: Request) -> Response:
    name = request.path_params["name"]
    outcome = await request.app.state.database.awrite(
        staff_accounts.disable_account, name, utcnow(), actor(request)
    )
    if outcome == "not_found":
        return not_found(f"no account {name!r}")
    if outcome == "already":
        return JSONResponse(
            {"error": "already_disabled", "message": f"{name} was already disabled"},
            status_code=409,
        )
    return JSONResponse(
        {"disabled": True, "name": name, "message": f"{name} disabled; their sessions ended"}
    )


async def change_password(request: Request) -> Response:
    name = request.path_params["name"]
    password = await _read(request, read_password)
    if isinstance(password, Response):
        return password
    password_hash = await run_in_threadpool(_hasher.hash, password)
    changed = await request.app.state.database.awrite(
        staff_accounts.set_password, name, password_hash, utcnow(), actor(request)
    )
    if not changed:
        return not_found(f"no account {name!r}")
    return JSONResponse(
        {"changed": True, "name": name,
         "message": f"{name}'s password changed; their sessions ended"}
    )  # fmt: skip


async def set_role(request: Request) -> Response:
    name = request.path_params["name"]
    role = await _read(request, read_role)
    if isinstance(role, Response):
        return role
    outcome, before = await request.app.state.database.awrite(
        staff_accounts.set_role, name, role, actor(request), utcnow()
    )
    if outcome == "not_found":
        return not_found(f"no account {name!r}")
    if outcome == "last_admin":
        return JSONResponse(
            {"error": "last_admin",
             "message": f"{name} is the only enabled admin account: make another admin first"},
            status_code=409,
        )  # fmt: skip
    message = (
        f"{name} is {role} already" if outcome == "same"
        else f"{name} is now {role} (was {before}), from their next request"
    )  # fmt: skip
    return JSONResponse(
        {"changed": outcome == "changed", "name": name, "role": role, "before": before,
         "message": message}
    )  # fmt: skip


async def enable_staff(request: Request) -> Response:
    name = request.path_params["name"]
    outcome = await request.app.state.database.awrite(
        staff_accounts.enable_account, name, actor(request), utcnow()
    )
    if outcome == "not_found":
        return not_found(f"no account {name!r}")
    if outcome == "already":
        return JSONResponse(
            {"error": "not_disabled", "message": f"{name} is not disabled"}, status_code=409
        )
    return JSONResponse(
        {"enabled": True, "name": name, "message": f"{name} enabled: they can sign in again"}
    )


async def open_session_for(request: Request) -> Response:
    """The dashboard signed someone in with OIDC and vouches for their email: a session of
    the staff account of that email, so that what they do is recorded as them, with their
    role. Only the machine token may ask (a member cannot become another)."""
    if not request.state.staff.machine:
        return JSONResponse(
            {"error": "forbidden",
             "message": "only the ADMIN_TOKEN (the dashboard) opens sessions for others"},
            status_code=403,
        )  # fmt: skip
    email = await _read(request, read_email)
    if isinstance(email, Response):
        return email
    settings: Settings = request.app.state.settings
    token = new_session_token()
    opened = await request.app.state.database.awrite(
        staff_accounts.open_session_for, token_key(token), email, "oidc", actor(request),
        utcnow(), timedelta(hours=settings.staff_session_hours),
    )  # fmt: skip
    if opened is None:
        return JSONResponse(
            {"error": "no_account",
             "message": f"{email} has no enabled staff account: an admin adds it with"
                        f" `tinkertank staff add {email} --role staff` (or enables it)"},
            status_code=404,
        )  # fmt: skip
    return JSONResponse(
        {"token": token, "name": opened["name"], "role": opened["role"],
         "expires_at": jsonable(opened["expires_at"])}
    )  # fmt: skip


routes = [
    Route("/api/login", login, methods=["POST"]),
    Route("/api/logout", analysts_too(logout), methods=["POST"]),
    Route("/api/me", staff_only(me)),
    Route("/api/staff", admin_only(list_staff)),
    Route("/api/staff", admin_only(add_staff), methods=["POST"]),
    Route("/api/staff/{name}/disable", admin_only(disable_staff), methods=["POST"]),
    Route("/api/staff/{name}/password", admin_only(change_password), methods=["POST"]),
    Route("/api/staff/{name}/role", admin_only(set_role), methods=["POST"]),
    Route("/api/staff/{name}/enable", admin_only(enable_staff), methods=["POST"]),
    Route("/api/staff/sessions", admin_only(open_session_for), methods=["POST"]),
]

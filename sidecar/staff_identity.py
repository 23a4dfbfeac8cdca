"""Who is calling the staff API, and what they may do (docs/security.md, Staff roles).

Two kinds of bearer token are accepted:

- `ADMIN_TOKEN`, the machine token for cron and scripts (and a dashboard configured with
  it): an admin, whose actor is "machine";
- a staff member's session token from `POST /api/login`: their name and their account's
  role as it is now (a disabled account or a changed password ends its sessions at once).

`identify(request)` resolves the token once per request (`staff_api.staff_only` calls it
and keeps the answer on `request.state.staff`); `actor(request)` is the name every audit
record uses.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from starlette.requests import Request

from core.clock import utcnow
from core.staff_accounts import MACHINE, TOKEN_PREFIX, token_key
from store import staff_accounts


@dataclass(frozen=True)
class StaffMember:
    name: str
    role: str
    machine: bool = False


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def identify(request: Request) -> StaffMember | None:
    """The caller, or None for a missing, unknown, expired or revoked token."""
    cached = getattr(request.state, "staff", None)
    if cached is not None:
        return cached
    token = bearer_token(request)
    if token is None:
        return None
    member = None
    expected = request.app.state.settings.admin_token
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        member = StaffMember(MACHINE, "admin", machine=True)
    elif token.startswith(TOKEN_PREFIX) and len(token) <= 100:
        row = await request.app.state.database.aread(
            staff_accounts.session_member, token_key(token), utcnow()
        )
        if row is not None:
            member = StaffMember(row["name"], row["role"])
    request.state.staff = member
    return member


def actor(request: Request) -> str:
    """The signed-in staff member's name, or "machine" for the ADMIN_TOKEN: who did it, for
    every record of a staff action. Only for a request the staff guard let through."""
    member = getattr(request.state, "staff", None)
    return member.name if member is not None else MACHINE


def sees_private_text(request: Request) -> bool:
    """Children's notes and what families wrote are for staff and admins, not analysts
    (docs/security.md, Staff roles)."""
    member = getattr(request.state, "staff", None)
    return member is not None and member.role != "analyst"


# A child's allergies and the like, and the other adults' phone numbers.
PRIVATE_FIELDS = ("notes", "emergency_contacts", "authorised_collectors")


def withhold_notes(request: Request, rows: list[dict]) -> None:
    """Blank each row's `PRIVATE_FIELDS` for a caller who may not see them (an analyst)."""
    if not sees_private_text(request):
        for row in rows:
            for name in PRIVATE_FIELDS:
                if name in row:
                    row[name] = None


def acting_name(request: Request, sent: str | None) -> str | None:
    """Who to record as acting: a signed-in member's own name, whatever the body says; for
    the ADMIN_TOKEN, the name its caller sent (`sent`, checked by the caller)."""
    member = getattr(request.state, "staff", None)
    if member is not None and not member.machine:
        return member.name
    return sent

"""Who is acting on the staff API: the one place the audit trail takes its actor from.

Today every caller holds the one ADMIN_TOKEN, so every action is by "staff". Named staff
accounts replace this function's body, not its callers."""

from __future__ import annotations

from starlette.requests import Request


def actor(request: Request) -> str:
    """The caller's identity, recorded on every staff action (who did it)."""
    return "staff"

"""Signed unsubscribe links for reminder emails (`List-Unsubscribe`, RFC 2369, with
one-click `List-Unsubscribe-Post`, RFC 8058). Pure.

A link names the address and the list it leaves, and carries an HMAC-SHA256 of both: it
cannot be guessed or changed to unsubscribe someone else, and needs no table of tokens.
The key is derived from ADMIN_TOKEN (`key_from`), so rotating that token ends the old links
(an old link then shows a page saying so, with the support address).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

LISTS = ("reminders",)
_LABEL = b"tinkertank unsubscribe v1"


def key_from(admin_token: str) -> bytes:
    return hmac.new(admin_token.encode(), _LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, email: str, list_name: str) -> str:
    message = f"{list_name}\n{email}".encode()
    return _b64(hmac.new(key, message, hashlib.sha256).digest()[:18])


def token(key: bytes, email: str, list_name: str = "reminders") -> str:
    """`<list>.<address, base64url>.<signature>` for the lower-cased address."""
    email = email.strip().lower()
    return f"{list_name}.{_b64(email.encode())}.{_mac(key, email, list_name)}"


def read(key: bytes, text: str) -> tuple[str, str] | None:
    """(address, list) of a genuine token; None for anything else."""
    parts = text.split(".")
    if len(text) > 600 or len(parts) != 3 or parts[0] not in LISTS:
        return None
    list_name, encoded, mac = parts
    try:
        email = _unb64(encoded).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not hmac.compare_digest(mac, _mac(key, email, list_name)):
        return None
    return email, list_name


def url(base_url: str, key: bytes, email: str, list_name: str = "reminders") -> str:
    return f"{base_url}/unsubscribe/{token(key, email, list_name)}"

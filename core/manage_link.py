"""Signed, expiring "manage booking" links for confirmation and reminder emails, and the
one-time form tokens of the pages they open (sidecar/manage_booking.py). Pure.

A link names the order and when it expires, with an HMAC-SHA256 of both, as
`core/unsubscribe.py` does for addresses: it cannot be guessed, changed to another order or
extended, and needs no table of tokens. The key is derived from ADMIN_TOKEN (`key_from`), so
rotating that token ends every link.

A form token is a random nonce signed with the order, booking and action it confirms: the
page's POST must carry one, so a forged or replayed form from elsewhere does nothing, and
the nonce is the action's request key (`parent:<nonce>`), so a double submit does one thing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

_LABEL = b"tinkertank manage booking v1"
MAX_TOKEN = 400
# How long a link works: until the day after the order's last booking, and at least this long
# from when the email is sent.
AT_LEAST = timedelta(days=30)
AFTER_LAST = timedelta(days=1)
GENUINE, FORGED, EXPIRED = "genuine", "forged", "expired"


def key_from(admin_token: str, secret: str | None = None) -> bytes:
    """The signing key: from MANAGE_LINK_SECRET when set, else derived from ADMIN_TOKEN (so
    changing either ends every link already sent)."""
    return hmac.new((secret or admin_token).encode(), _LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, *parts: str) -> str:
    return _b64(hmac.new(key, "\n".join(parts).encode(), hashlib.sha256).digest()[:18])


def expiry(last_start: datetime | None, now: datetime) -> datetime:
    """When a link sent at `now` stops working (both aware)."""
    latest = now + AT_LEAST
    if last_start is not None and last_start + AFTER_LAST > latest:
        return last_start + AFTER_LAST
    return latest


def token(key: bytes, order_id: str, expires_at: datetime) -> str:
    """`<order id, base64url>.<expiry, unix seconds>.<signature>`."""
    expires = str(int(expires_at.timestamp()))
    return f"{_b64(order_id.encode())}.{expires}.{_mac(key, 'link', order_id, expires)}"


def read(key: bytes, text: str, now: datetime) -> tuple[str, str | None]:
    """(GENUINE, order id), (EXPIRED, order id) or (FORGED, None)."""
    parts = text.split(".")
    if len(text) > MAX_TOKEN or len(parts) != 3 or not parts[1].isdigit():
        return FORGED, None
    encoded, expires, mac = parts
    try:
        order_id = _unb64(encoded).decode()
    except (ValueError, UnicodeDecodeError):
        return FORGED, None
    if not hmac.compare_digest(mac, _mac(key, "link", order_id, expires)):
        return FORGED, None
    if int(expires) <= now.timestamp():
        return EXPIRED, order_id
    return GENUINE, order_id


def url(base_url: str, key: bytes, order_id: str, expires_at: datetime) -> str:
    return f"{base_url}/manage/{token(key, order_id, expires_at)}"


def form_token(key: bytes, order_id: str, booking_id: str, action: str) -> str:
    """A fresh `<nonce>.<signature>` for one confirm form."""
    nonce = secrets.token_urlsafe(12)
    return f"{nonce}.{_mac(key, 'form', order_id, booking_id, action, nonce)}"


def form_nonce(key: bytes, text: str, order_id: str, booking_id: str, action: str) -> str | None:
    """The nonce of a genuine form token for this order, booking and action; else None."""
    nonce, _, mac = text.partition(".")
    if not nonce or len(text) > 100 or not nonce.replace("-", "").replace("_", "").isalnum():
        return None
    if not hmac.compare_digest(mac, _mac(key, "form", order_id, booking_id, action, nonce)):
        return None
    return nonce

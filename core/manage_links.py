"""Parents' "manage booking" links (issue 12, item 6): signed and expiring, so the link in
a confirmation or reminder email opens that order's page and nothing else, and stops
working after `expires_at`. Scaffolding: the links can be made and checked; the page
behind them (cancel or swap a day within the catalog's policy) is not built yet.

A link's token is `<order id>.<expiry, Unix seconds>.<signature>`, the signature an
HMAC-SHA256 over the first two parts with `MANAGE_LINK_SECRET`, URL-safe base64 without
padding. Nothing is stored: the token is its own proof, checked in constant time. Changing
the secret ends every link already sent.

Pure: `now` is an argument.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from core.validation import Invalid

MAX_TOKEN_LENGTH = 200


def _signature(message: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _unix(moment: datetime) -> int:
    """A naive time is UTC, as the store keeps it."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(aware.timestamp())


def manage_token(order_id: str, expires_at: datetime, secret: str) -> str:
    if not order_id or "." in order_id:
        raise ValueError(f"not an order id: {order_id!r}")
    message = f"{order_id}.{_unix(expires_at)}"
    return f"{message}.{_signature(message, secret)}"


def read_manage_token(token: str, secret: str, now: datetime) -> str:
    """The order id the token was signed for, or Invalid saying (for the parent) why not."""
    parts = token.split(".") if len(token) <= MAX_TOKEN_LENGTH else []
    if len(parts) != 3 or not parts[1].isdigit():
        raise Invalid("this link is not a manage-booking link")
    order_id, expiry, signature = parts
    expected = _signature(f"{order_id}.{expiry}", secret)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise Invalid("this link is not a manage-booking link")
    if _unix(now) >= int(expiry):
        raise Invalid("this link has expired; the latest email about the booking has a new one")
    return order_id


def manage_url(public_base_url: str, token: str) -> str:
    """Where the link leads (`GET /manage/{token}`, still to be built)."""
    return f"{public_base_url.rstrip('/')}/manage/{token}"

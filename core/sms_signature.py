"""Twilio's request signature (X-Twilio-Signature), as Twilio documents it
(twilio.com/docs/usage/security#validating-requests): the full URL Twilio requested, then
each POST parameter's name and value, sorted by name, signed with HMAC-SHA1 under the
account's auth token and encoded in base64. Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    pairs = sorted(params)  # by name, then value (a repeated name's values in order)
    signed = url + "".join(name + value for name, value in pairs)
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def is_valid(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], given: str | None
) -> bool:
    if not given:
        return False
    return hmac.compare_digest(signature(auth_token, url, params).encode(), given.encode())

"""Text messages through one provider's HTTP API, behind a small interface (`SmsProvider`):
Twilio's Messages API (twilio.com/docs/messaging/api/message-resource#create-a-message-resource),
`POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with the form fields To, From and
Body, authenticated with the account SID and auth token (HTTP basic)."""

from __future__ import annotations

from typing import Protocol

import requests

from core.settings import Settings

# Twilio's error for a number that texted STOP to our sending number, which Twilio itself
# then blocks (twilio.com/docs/api/errors/21610).
UNSUBSCRIBED = 21610


class SmsFailed(Exception):
    def __init__(self, message: str, permanent: bool = False, retry_after: float = 0) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Unsubscribed(Exception):
    """The provider refuses the number because it opted out with the provider."""


class SmsProvider(Protocol):
    def send(self, to: str, body: str) -> str:
        """Send `body` to `to` (E.164); the provider's id of the message, or SmsFailed."""
        ...


class TwilioSms:
    def __init__(self, base_url: str, account_sid: str, auth_token: str, sender: str) -> None:
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.auth = (account_sid, auth_token)
        self.sender = sender

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioSms | None:
        """The provider, or None when SMS is not configured."""
        if not settings.sms_enabled:
            return None
        assert settings.twilio_account_sid and settings.twilio_auth_token and settings.sms_from
        return cls(settings.sms_provider_url, settings.twilio_account_sid,
                   settings.twilio_auth_token, settings.sms_from)  # fmt: skip

    def send(self, to: str, body: str) -> str:
        try:
            response = requests.post(
                self.url, data={"To": to, "From": self.sender, "Body": body},
                auth=self.auth, timeout=15,
            )  # fmt: skip
        except requests.RequestException as exc:
            raise SmsFailed(f"SMS provider unreachable: {type(exc).__name__}") from None
        if response.status_code == 429:
            retry_after = response.headers.get("Retry-After", "")
            raise SmsFailed(
                "SMS provider rate limit (429)",
                retry_after=float(retry_after) if retry_after.isdigit() else 30.0,
            )
        if response.status_code >= 500:
            raise SmsFailed(f"SMS provider answered {response.status_code}")
        if response.status_code >= 400 and _error_code(response) == UNSUBSCRIBED:
            raise Unsubscribed(f"Twilio {UNSUBSCRIBED}: the number texted STOP to {self.sender}")
        if response.status_code >= 400:
            # Twilio's error body: {"code": 21211, "message": "The 'To' number … is not valid"}
            raise SmsFailed(
                f"SMS provider refused the message ({response.status_code}: {response.text[:300]})",
                permanent=True,
            )
        try:
            return str(response.json().get("sid", ""))
        except ValueError:
            return ""


def _error_code(response: requests.Response) -> int | None:
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None

"""`POST /webhooks/stripe`: verify, store durably, acknowledge (docs/http-api.md).

200  the event is committed to the inbox (also for a redelivery, which stores nothing new)
400  no or invalid signature (counted: sidecar/webhook_stats.py), or a signed body that is
     not a Stripe event; nothing stored
413  the body is larger than the limit; refused while reading, nothing stored
503  the event could not be stored, so Stripe retries it later

The signature is checked on the raw bytes with the `stripe` library before anything
parses them; the stored payload is exactly what was signed. Building the library's
`Event` object would cost more than the rest of the request, so the body is parsed once
with `json` and kept as text for the worker.
"""

from __future__ import annotations

import logging

import stripe
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.clock import unix, utcnow
from core.settings import Settings
from core.stripe_events import NotAnEvent, parse_event
from sidecar.json_body import BodyRefused, read_bytes, refusal
from sidecar.webhook_stats import WINDOW_MINUTES, WebhookStats
from store import error_log, inbox
from store.database import Database

log = logging.getLogger(__name__)

_STORED = b'{"received":true}'
_DUPLICATE = b'{"received":true,"duplicate":true}'


# What a 503 asks the client to wait before trying again.
RETRY_AFTER_SECONDS = 5


def _refuse(status: int, error: str, message: str) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return JSONResponse({"error": error, "message": message}, status_code=status, headers=headers)


def verify_signature(payload: str, header: str, secrets: tuple[str, ...], tolerance: int) -> bool:
    """True when any configured secret signed this payload within the tolerance."""
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
        except stripe.SignatureVerificationError:
            continue
        return True
    return False


class StripeWebhook:
    def __init__(self, settings: Settings, database: Database, stats: WebhookStats) -> None:
        self.secrets = settings.stripe_webhook_secrets
        self.tolerance = settings.webhook_tolerance_seconds
        self.max_body = settings.webhook_max_body_bytes
        self.database = database
        self.stats = stats

    async def handle(self, request: Request) -> Response:
        try:
            body = await read_bytes(request, self.max_body)
        except BodyRefused as exc:  # too large, or cut short
            self.stats.count("body_refused")
            return refusal(exc)

        header = request.headers.get("stripe-signature")
        if not header:
            return await self._refuse_signature("missing Stripe-Signature header")
        try:
            payload = body.decode("utf-8")
        except UnicodeDecodeError:
            return await self._refuse_signature("body is not UTF-8")
        if not verify_signature(payload, header, self.secrets, self.tolerance):
            log.warning("webhook refused: signature does not match any secret or is too old")
            return await self._refuse_signature(
                "signature does not match any configured secret, or is older than "
                f"{self.tolerance} s"
            )
        try:
            event = parse_event(payload)
        except NotAnEvent as exc:
            log.warning("webhook refused: %s", exc)
            self.stats.count("not_an_event")
            return _refuse(400, "not_an_event", str(exc))

        received_at = utcnow()
        try:
            stored = await self.database.awrite_batched(
                inbox.store_events,
                (event, received_at),
                fallback=inbox.store_events_skipping_duplicates,
            )
        except Exception as exc:  # any storage failure: Stripe must retry, we must not 500
            log.error("webhook %s not stored: %s: %s", event.event_id, type(exc).__name__, exc)
            self.stats.count("not_stored")
            return _refuse(503, "not_stored", "the event could not be stored; retry later")
        self.stats.count("stored" if stored else "duplicate")
        return Response(_STORED if stored else _DUPLICATE, media_type="application/json")

    async def _refuse_signature(self, message: str) -> JSONResponse:
        """Count the refusal; past the threshold, one high error-log entry an hour (an alert)."""
        refusals = self.stats.refuse(unix())
        if refusals is not None:
            await self._log_refusals(refusals)
        return _refuse(400, "invalid_signature", message)

    async def _log_refusals(self, refusals: int) -> None:
        entry = {
            "category": "payment",
            "severity": "high",
            "message": f"{refusals} Stripe webhook deliveries refused for their signature in"
            f" the last {WINDOW_MINUTES} minutes: nothing of them was stored. Check that"
            " STRIPE_WEBHOOK_SECRET holds the endpoint's signing secret (rotated in Stripe?)",
            "context": {"refusals": refusals, "window_minutes": WINDOW_MINUTES},
            "dedupe_key": f"signature-refusals:{unix() // 3600}",
        }
        try:
            await self.database.awrite(error_log.log_entry, entry, utcnow())
        except Exception as exc:  # the refusal is answered whatever the store says
            log.error("signature refusals not logged: %s: %s", type(exc).__name__, exc)

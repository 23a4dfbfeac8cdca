"""Text messages at the sidecar: the reminder texts queued with each reminders run, and
`POST /webhooks/sms`, where Twilio posts the texts parents send back (docs/http-api.md).

A text saying STOP (or another of `SMS_STOP_WORDS`) records the number's opt-out, START
takes it back (`store/sms_opt_outs.py`); the sender sends no text to an opted-out number.
Twilio signs each request (X-Twilio-Signature, `core/sms_signature.py`) with the auth token
over the URL it posted to, which is `PUBLIC_BASE_URL` + `/webhooks/sms`.

200  a TwiML answer with no reply (Twilio answers STOP and START itself)
400  a signed request without a usable From number
403  SMS is off, or the signature is missing or wrong; nothing stored
413  the body is larger than 64 KiB
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.clock import utcnow
from core.messages.sms import reminder_windows
from core.phones import mobile_or_none
from core.settings import Settings
from core.sms_signature import is_valid
from core.vocabulary import SMS_START_WORDS, SMS_STOP_WORDS
from sidecar.json_body import BodyRefused, read_bytes, refusal
from store import reminders, sms_opt_outs
from store.database import Database

log = logging.getLogger(__name__)

PATH = "/webhooks/sms"
MAX_BODY_BYTES = 64 * 1024
_NO_REPLY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def queue_reminder_texts(database: Database, settings: Settings, now: datetime) -> int:
    """The day-before and day-of texts due at `now` (aware); none while SMS is off."""
    if not settings.sms_enabled:
        return 0
    windows = reminder_windows(now, settings.tz)
    if not windows:
        return 0
    return await database.awrite(
        reminders.queue_sms_reminders, windows, now.astimezone(UTC).replace(tzinfo=None)
    )


def _forbidden(message: str) -> JSONResponse:
    return JSONResponse({"error": "forbidden", "message": message}, status_code=403)


async def inbound_sms(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if not settings.sms_enabled or not settings.twilio_auth_token:
        return _forbidden("text messages are not configured")
    try:
        body = await read_bytes(request, MAX_BODY_BYTES)
    except BodyRefused as exc:
        return refusal(exc)
    try:
        params = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return _forbidden("the body is not a signed form")
    url = settings.public_base_url + PATH
    given = request.headers.get("x-twilio-signature")
    if not is_valid(settings.twilio_auth_token, url, params, given):
        log.warning("inbound SMS refused: missing or wrong X-Twilio-Signature")
        return _forbidden("missing or wrong X-Twilio-Signature")
    fields = dict(params)
    phone = mobile_or_none(fields.get("From", ""))
    if phone is None:
        return JSONResponse(
            {"error": "invalid_request",
             "problems": [{"path": "From", "message": "missing or not a mobile number"}]},
            status_code=400,
        )  # fmt: skip
    words = fields.get("Body", "").split()
    word = words[0].strip(".!").upper() if len(words) == 1 else ""  # "Stop", "STOP!"
    if word in SMS_STOP_WORDS or word in SMS_START_WORDS:
        opted_out = word in SMS_STOP_WORDS
        await request.app.state.database.awrite(
            sms_opt_outs.record, phone, opted_out, word, utcnow()
        )
        log.info("SMS %s from a number: %s", word, "opted out" if opted_out else "opted in")
    return Response(_NO_REPLY, media_type="text/xml")
